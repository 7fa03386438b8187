// PacketPool: NdisAllocatePacketPoolEx semantics for packet descriptors.
#ifndef PKTPOOL_DAEMON_POOL_PACKET_POOL_H_
#define PKTPOOL_DAEMON_POOL_PACKET_POOL_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

#include "absl/status/statusor.h"
#include "daemon/pool/internal/free_list.h"
#include "daemon/pool/limits.h"
#include "daemon/pool/packet.h"
#include "daemon/pool/pool_stats.h"
#include "daemon/pool/status.h"
#include "daemon/pool/tagged_memory.h"

namespace pktpool::pool {

// How to create a packet pool. The non-Ex form is overflow_descriptors = 0.
struct PacketPoolOptions {
  uint32_t descriptors = 0;           // static descriptors, 1..0xFFFF
  uint32_t overflow_descriptors = 0;  // clamped so descriptors + overflow <= 0xFFFF
  uint32_t protocol_reserved_length = kDefaultProtocolReservedLength;
  MemoryTag tag = MemoryTag("PKPL");
  PoolDirection direction = PoolDirection::kUnspecified;
  uint32_t generation = 0;
  // Where descriptor storage is charged; null uses untracked system memory. Must
  // outlive the pool, including a pool still draining after its handle was dropped.
  TaggedMemory* memory = nullptr;
};

// A pool of packet descriptors: `descriptors` allocated up front in one block, plus
// up to `overflow_limit` more from system memory while all static ones are out.
// Allocate and Free are thread-safe and lock-free on their fast path (a per-thread
// cache). Dropping the Handle while packets are out is safe: the pool drains and
// deletes itself when the last packet is freed.
class PacketPool {
 public:
  struct Closer {
    void operator()(PacketPool* pool) const { pool->Close(); }
  };
  // Owning handle; its destruction is NdisFreePacketPool.
  using Handle = std::unique_ptr<PacketPool, Closer>;

  // NdisAllocatePacketPoolEx. ResourceExhausted (NDIS_STATUS_RESOURCES) when
  // descriptors > 0xFFFF or memory is short; InvalidArgument when descriptors is 0 or
  // protocol_reserved_length > kMaxProtocolReservedLength. The overflow count is
  // reduced so the total is exactly 0xFFFF when it would exceed it (see overflow_limit).
  static absl::StatusOr<Handle> Create(const PacketPoolOptions& options);
  // Bytes one descriptor takes (the packet, its ProtocolReserved area, cache-line
  // padding): a pool of N static descriptors allocates N times this up front.
  static size_t DescriptorBytes(uint32_t protocol_reserved_length = kDefaultProtocolReservedLength);

  // NdisAllocatePacket: kSuccess with *packet set (empty chain, fresh OOB data), or
  // kResources when every static and allowed overflow descriptor is out (counted;
  // never blocks). ProtocolReserved is zero on a descriptor's first use, afterwards
  // whatever its last user left (as in NDIS: the protocol owns it).
  inline Status Allocate(Packet** packet);

  // Allocates exactly n packets into packets[0..n), or none (kResources).
  inline Status AllocateBulk(Packet** packets, uint32_t n);

  // NdisFreePacket: returns a packet. Chained buffers are unlinked, not freed: the
  // caller frees or reuses them. kInvalidPacket, changing nothing, when the packet is not from this pool or
  // is already free. An overflow packet goes back to system memory. May delete the
  // pool if its handle is gone and this was the last packet out.
  inline Status Free(Packet* packet);

  // Frees n packets; returns the first non-success status (the others are still freed).
  inline Status FreeBulk(Packet* const* packets, uint32_t n);

  // A snapshot of this pool's counters. Thread-safe.
  PoolStats Stats() const;

  uint32_t descriptors() const { return list_.static_count(); }
  uint32_t overflow_limit() const { return list_.overflow_limit(); }
  uint32_t protocol_reserved_length() const { return reserved_length_; }
  MemoryTag tag() const { return tag_; }

 private:
  friend void ReinitializePacket(Packet*);
  PacketPool(const PacketPoolOptions& options, char* storage, size_t stride,
             uint32_t overflow);
  ~PacketPool();
  void Close();
  // Deletes this pool once it is closed and drained. Out of line on purpose: the
  // compiler cannot then see a delete on the inline free path.
  void Destroy();
  void InitDescriptor(Packet* packet, char* at, bool overflow);
  // True when a static packet is in use and can go back as it is: empty chain and
  // default OOB data. False also when it is free already (the caller tells which).
  static inline bool IsCleanInUse(const Packet* packet);
  // Unlinks the chain and restores default OOB data. Out of line: the rare case.
  static void Clean(Packet* packet);
  // Marks the leading run of packets[0..n) that are static, in use descriptors of this
  // pool free (cleaning them as needed); returns the run's length.
  template <bool kPowerOfTwoStride>
  inline uint32_t MarkFreeRun(Packet* const* packets, uint32_t n);
  // FreeBulk from packets[from] on, one by one (a packet that ended MarkFreeRun's run).
  Status FreeBulkRest(Packet* const* packets, uint32_t from, uint32_t n);
  static void* CreateOverflow(void* self);
  static void DestroyOverflow(void* self, void* object);
  // Free that tells whether it deleted this (drained) pool.
  inline Status FreeAndReport(Packet* packet, bool* deleted);
  Status FreeSlow(Packet* packet, bool* deleted);

  const MemoryTag tag_;
  const PoolDirection direction_;
  const uint32_t generation_;
  const uint32_t reserved_length_;
  const size_t stride_;
  TaggedMemory* const memory_;
  char* const storage_;
  internal::FreeList list_;
};

// ---- fast paths ----------------------------------------------------------------

// Why free descriptors are kept clean (empty chain, default OOB data) instead of being
// reset on allocation: a reset is a 49-byte zero fill, four stores per packet, while
// checking a packet that comes back clean (most do: NDIS users unchain their buffers)
// is six loads OR-ed together and no store. Allocate is then one store, the state.
inline bool PacketPool::IsCleanInUse(const Packet* packet) {
  static_assert(std::is_standard_layout_v<Packet>);
  static_assert(sizeof(PacketOob) == 4 * sizeof(uint64_t));
  static_assert(offsetof(Packet, overflow_) == offsetof(Packet, state_) + 1 &&
                offsetof(Packet, zero_) + sizeof(Packet::zero_) ==
                    offsetof(Packet, state_) + sizeof(uint64_t));
  static_assert(DescriptorState::kInUse == DescriptorState{0});
  // Default OOB data is all-zero bytes; padding that is not zero only makes the packet
  // look dirty, and Clean zeroes it. Scalar loads: a memcpy into an array would go
  // through the stack.
  const auto* bytes = reinterpret_cast<const unsigned char*>(packet);
  auto word = [bytes](size_t offset) {
    uint64_t w;
    std::memcpy(&w, bytes + offset, sizeof w);
    return w;
  };
  constexpr size_t kOob = offsetof(Packet, oob_);
  // The state is read as the byte Allocate wrote: an 8-byte load of a word whose last
  // store was one byte wide cannot be forwarded from the store buffer and stalls until
  // that store reaches the cache (AllocateBulk then FreeBulk hit that on every packet).
  return (word(offsetof(Packet, head_)) | word(kOob) | word(kOob + 8) | word(kOob + 16) |
          word(kOob + 24) | static_cast<uint8_t>(packet->state_)) == 0;
}

inline Status PacketPool::Allocate(Packet** packet) {
  auto* p = static_cast<Packet*>(list_.Get());
  if (p == nullptr) return Status::kResources;
  p->state_ = DescriptorState::kInUse;  // the rest is clean already (see IsCleanInUse)
  *packet = p;
  return Status::kSuccess;
}

inline Status PacketPool::Free(Packet* packet) {
  bool deleted;  // set only when the pool went, and not read here: no store per call
  return FreeAndReport(packet, &deleted);
}

inline Status PacketPool::FreeAndReport(Packet* packet, bool* deleted) {
  if (!list_.IsStatic(packet)) return FreeSlow(packet, deleted);
  if (!IsCleanInUse(packet)) [[unlikely]] {
    if (packet->state_ != DescriptorState::kInUse) return Status::kInvalidPacket;
    Clean(packet);
  }
  packet->state_ = DescriptorState::kFree;
  if (list_.PutStatic(packet) == internal::PutResult::kDrained) {
    *deleted = true;
    Destroy();
  }
  return Status::kSuccess;
}

inline Status PacketPool::AllocateBulk(Packet** packets, uint32_t n) {
  if (n == 0) return Status::kSuccess;
  if (packets == nullptr) return Status::kInvalidParameter;
  if (!list_.GetBulk(reinterpret_cast<void**>(packets), n)) return Status::kResources;
#pragma GCC unroll 4
  for (uint32_t i = 0; i < n; ++i) packets[i]->state_ = DescriptorState::kInUse;
  return Status::kSuccess;
}

template <bool kPowerOfTwoStride>
inline uint32_t PacketPool::MarkFreeRun(Packet* const* packets, uint32_t n) {
  // A local copy of the range, so the compiler keeps it in registers across the stores
  // to descriptors. Marking each packet free as it is checked makes a packet listed
  // twice end the run.
  const internal::StaticRange range = list_.static_range();
  Packet* const* const end = packets + n;
  Packet* const* it = packets;
#pragma GCC unroll 4
  for (; it != end; ++it) {
    Packet* p = *it;
    if (!range.ContainsIn<kPowerOfTwoStride>(p)) break;
    if (!IsCleanInUse(p)) [[unlikely]] {
      if (p->state_ != DescriptorState::kInUse) break;
      Clean(p);
    }
    p->state_ = DescriptorState::kFree;
  }
  return static_cast<uint32_t>(it - packets);
}

inline Status PacketPool::FreeBulk(Packet* const* packets, uint32_t n) {
  // Fast path: the leading run of valid static packets goes back in one cache copy.
  const uint32_t run = list_.static_range().power_of_two ? MarkFreeRun<true>(packets, n)
                                                         : MarkFreeRun<false>(packets, n);
  if (run > 0 && list_.PutStaticBulk(reinterpret_cast<void* const*>(packets), run) ==
                     internal::PutResult::kDrained) {
    Destroy();
    // The pool deleted itself with its last packet: any packet after those cannot be ours.
    return run == n ? Status::kSuccess : Status::kInvalidPacket;
  }
  return run == n ? Status::kSuccess : FreeBulkRest(packets, run, n);
}

// Frees a packet into the pool it came from (NdisFreePacket without a pool handle).
// `packet` must be a live descriptor; kInvalidParameter for null.
inline Status FreePacket(Packet* packet) {
  if (packet == nullptr) return Status::kInvalidParameter;
  return packet->pool()->Free(packet);
}

}  // namespace pktpool::pool

#endif  // PKTPOOL_DAEMON_POOL_PACKET_POOL_H_
