// Limits and defaults of the pool library: the one place these numbers live.
#ifndef PKTPOOL_DAEMON_POOL_LIMITS_H_
#define PKTPOOL_DAEMON_POOL_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace pktpool::pool {

// NdisAllocatePacketPoolEx: at most 0xFFFF descriptors, static plus overflow.
inline constexpr uint32_t kMaxPacketDescriptors = 0xFFFF;

// PROTOCOL_RESERVED_SIZE_IN_PACKET on 64-bit systems.
inline constexpr uint32_t kDefaultProtocolReservedLength = 32;

// Upper bound on one packet's ProtocolReserved area, so a typo cannot ask for gigabytes.
inline constexpr uint32_t kMaxProtocolReservedLength = 4096;

// Alignment of every ProtocolReserved area and of tagged memory blocks.
inline constexpr size_t kProtocolReservedAlignment = 16;
inline constexpr size_t kTaggedMemoryAlignment = 16;

// Tagged blocks of at least this many bytes are mapped with mmap (populated) and unmapped
// when freed, so a retuned pool's memory goes back to the system at once, whatever
// malloc's (dynamic) mmap threshold has grown to. Smaller blocks (overflow descriptors)
// use malloc.
inline constexpr size_t kTaggedMemoryMapThreshold = 64 * 1024;
// Under a PopulationGuard, a mapped block is made resident this many bytes at a time, the
// guard asked between two steps (tens of milliseconds each).
inline constexpr size_t kPopulateChunkBytes = 64u << 20;

// Upper bound on a buffer pool's descriptor count (memory for descriptors is taken up front).
inline constexpr uint32_t kMaxBufferDescriptors = 1u << 22;

// Per-thread descriptor caches (DPDK mempool style). A pool gets a cache of
// min(kMaxThreadCacheSize, descriptors / kThreadCacheDivisor) entries per thread;
// pools too small for kMinThreadCacheSize entries run uncached.
inline constexpr uint32_t kMaxThreadCacheSize = 256;
inline constexpr uint32_t kThreadCacheDivisor = 16;
inline constexpr uint32_t kMinThreadCacheSize = 8;

// Threads that get a cache slot; further threads use the shared free list directly.
inline constexpr int kMaxThreadSlots = 64;

}  // namespace pktpool::pool

#endif  // PKTPOOL_DAEMON_POOL_LIMITS_H_
