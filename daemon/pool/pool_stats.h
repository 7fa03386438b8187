// A plain snapshot of one pool's counters, filled by PacketPool::Stats and
// BufferPool::Stats and mapped to the API by the rpc layer.
#ifndef PKTPOOL_DAEMON_POOL_POOL_STATS_H_
#define PKTPOOL_DAEMON_POOL_POOL_STATS_H_

#include <cstdint>
#include <string>

namespace pktpool::pool {

enum class PoolKind : uint8_t { kPacket, kBuffer };
// Which path a pool serves; the pool itself does not care, stats report it.
enum class PoolDirection : uint8_t { kUnspecified, kRx, kTx };

// Counters are summed over threads on read: exact when no call is running, otherwise
// each is a recent value. high_watermark is exact while one thread uses the pool; with
// several, a thread's part of it misses what the others did since that thread last took
// the locked path, so it can be off by up to a thread cache (kMaxThreadCacheSize
// descriptors) per other thread.
struct PoolStats {
  std::string tag;  // four characters, e.g. "RXPK"
  PoolKind kind = PoolKind::kPacket;
  PoolDirection direction = PoolDirection::kUnspecified;
  uint32_t generation = 0;       // bumped by the owner on each live retune
  uint32_t descriptors = 0;      // static descriptors
  uint32_t overflow_limit = 0;   // after the 0xFFFF clamp; 0 for buffer pools
  uint32_t in_use = 0;           // static + overflow descriptors held by callers
  uint32_t overflow_in_use = 0;  // overflow descriptors held by callers
  uint32_t free = 0;             // static descriptors not in use
  uint32_t high_watermark = 0;   // most descriptors in use at once
  uint64_t allocations = 0;      // successful allocations, overflow ones included
  uint64_t resource_failures = 0;  // allocations refused with NDIS_STATUS_RESOURCES
  uint64_t frees = 0;
  uint64_t overflow_allocations = 0;
  uint64_t reinitialize_reuses = 0;  // ReinitializePacket calls (packet pools)
  uint64_t memory_bytes = 0;     // tagged memory the pool holds now (descriptors)
  bool draining = false;         // closed by its owner, descriptors still out
};

}  // namespace pktpool::pool

#endif  // PKTPOOL_DAEMON_POOL_POOL_STATS_H_
