// BufferPool: NdisAllocateBufferPool semantics for buffer descriptors.
#ifndef PKTPOOL_DAEMON_POOL_BUFFER_POOL_H_
#define PKTPOOL_DAEMON_POOL_BUFFER_POOL_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "daemon/pool/internal/free_list.h"
#include "daemon/pool/limits.h"
#include "daemon/pool/packet.h"
#include "daemon/pool/pool_stats.h"
#include "daemon/pool/status.h"
#include "daemon/pool/tagged_memory.h"

namespace pktpool::pool {

// How to create a buffer pool.
struct BufferPoolOptions {
  uint32_t descriptors = 0;  // the hard limit on buffers out at once, 1..kMaxBufferDescriptors
  MemoryTag tag = MemoryTag("BFPL");
  PoolDirection direction = PoolDirection::kUnspecified;
  uint32_t generation = 0;
  // Where descriptor storage is charged; null uses untracked memory. Must outlive the pool.
  TaggedMemory* memory = nullptr;
  // Optional backing memory of descriptors * slot_size bytes, owned by the caller and
  // outliving the pool: descriptor i then owns slot i, and AllocateSlot maps it.
  uint8_t* slot_memory = nullptr;
  uint32_t slot_size = 0;
};

// Where a buffer points (NdisQueryBuffer).
struct BufferInfo {
  uint8_t* address = nullptr;
  uint32_t length = 0;
};

// A pool of buffer descriptors. Each descriptor maps memory its caller owns; the pool
// never owns data. Allocate and Free are thread-safe and lock-free on their fast path.
// Dropping the Handle while buffers are out is safe: the pool drains and deletes itself
// when the last buffer is freed.
class BufferPool {
 public:
  struct Closer {
    void operator()(BufferPool* pool) const { pool->Close(); }
  };
  // Owning handle; its destruction is NdisFreeBufferPool.
  using Handle = std::unique_ptr<BufferPool, Closer>;

  // NdisAllocateBufferPool: always succeeds for 1..kMaxBufferDescriptors descriptors;
  // InvalidArgument outside that range, ResourceExhausted if memory is short.
  static absl::StatusOr<Handle> Create(const BufferPoolOptions& options);
  // Bytes one descriptor takes: a pool of N descriptors allocates N times this up front
  // (the memory its buffers map is the caller's).
  static size_t DescriptorBytes();

  // NdisAllocateBuffer: maps [address, address + length) (length > 0 needs a non-null
  // address). kResources when `descriptors` buffers are out (the hard limit),
  // kInvalidParameter for a null address with a length.
  inline Status Allocate(Buffer** buffer, void* address, uint32_t length);

  // NdisAllocateBuffer on memory carved at pool creation: a buffer mapping its own
  // slot of the backing memory at full slot size. kResources at the hard limit,
  // kInvalidParameter when the pool has no backing memory. Lock-free like Allocate.
  inline Status AllocateSlot(Buffer** buffer);

  // NdisCopyBuffer: a new descriptor from this pool mapping `length` bytes of `source`'s
  // mapped memory from `offset`. kInvalidParameter when the range is outside it.
  Status CopyBuffer(Buffer** buffer, const Buffer& source, uint32_t offset, uint32_t length);

  // NdisFreeBuffer. kInvalidPacket, changing nothing, for a buffer not from this pool or
  // already free; kInvalidParameter for a buffer still chained to a packet (unchain it).
  // May delete the pool if its handle is gone and this was the last buffer out.
  inline Status Free(Buffer* buffer);

  // A snapshot of this pool's counters. Thread-safe.
  PoolStats Stats() const;

  uint32_t descriptors() const { return list_.static_count(); }
  uint32_t slot_size() const { return slot_size_; }
  MemoryTag tag() const { return tag_; }

 private:
  BufferPool(const BufferPoolOptions& options, char* storage);
  ~BufferPool();
  void Close();
  // Deletes this pool once it is closed and drained. Out of line on purpose: the
  // compiler cannot then see a delete on the inline free path.
  void Destroy();
  Status FreeSlow(Buffer* buffer);

  const MemoryTag tag_;
  const PoolDirection direction_;
  const uint32_t generation_;
  const uint32_t slot_size_;
  TaggedMemory* const memory_;
  char* const storage_;
  internal::FreeList list_;
};

// Address and current length of a buffer (NdisQueryBuffer).
inline BufferInfo QueryBuffer(const Buffer& buffer) {
  return {buffer.address(), buffer.length()};
}

// Frees a buffer into the pool it came from. `buffer` must be a live descriptor.
inline Status FreeBuffer(Buffer* buffer) {
  if (buffer == nullptr) return Status::kInvalidParameter;
  return buffer->pool()->Free(buffer);
}

// ---- fast paths ----------------------------------------------------------------

inline Status BufferPool::Allocate(Buffer** buffer, void* address, uint32_t length) {
  if (address == nullptr && length != 0) return Status::kInvalidParameter;
  auto* b = static_cast<Buffer*>(list_.Get());
  if (b == nullptr) return Status::kResources;
  b->address_ = static_cast<uint8_t*>(address);
  b->length_ = length;
  b->mapped_length_ = length;
  b->state_ = DescriptorState::kInUse;  // unlinked already (see Free)
  *buffer = b;
  return Status::kSuccess;
}

inline Status BufferPool::AllocateSlot(Buffer** buffer) {
  if (slot_size_ == 0) return Status::kInvalidParameter;
  auto* b = static_cast<Buffer*>(list_.Get());
  if (b == nullptr) return Status::kResources;
  b->address_ = b->home_;
  b->length_ = slot_size_;
  b->mapped_length_ = slot_size_;
  b->state_ = DescriptorState::kInUse;  // unlinked already (see Free)
  *buffer = b;
  return Status::kSuccess;
}

// A buffer is freed only when it is in no chain, and every way out of a chain (the
// unchain calls, UnlinkBuffers) sets next_ to null and chained_ to false: a free buffer
// is unlinked, so Allocate does not write those two fields again.
inline Status BufferPool::Free(Buffer* buffer) {
  if (!list_.IsStatic(buffer)) return FreeSlow(buffer);
  if (buffer->state_ != DescriptorState::kInUse) return Status::kInvalidPacket;
  if (buffer->chained_) return Status::kInvalidParameter;
  buffer->state_ = DescriptorState::kFree;
  if (list_.PutStatic(buffer) == internal::PutResult::kDrained) Destroy();
  return Status::kSuccess;
}

}  // namespace pktpool::pool

#endif  // PKTPOOL_DAEMON_POOL_BUFFER_POOL_H_
