// BufferSlab: a buffer pool plus the tagged memory its buffers map, handed out as
// buffers that each map one fixed-size slot of that memory.
#ifndef PKTPOOL_DAEMON_CAPTURE_BUFFER_SLAB_H_
#define PKTPOOL_DAEMON_CAPTURE_BUFFER_SLAB_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/capture/binding_options.h"
#include "daemon/pool/buffer_pool.h"
#include "daemon/pool/tagged_memory.h"

namespace pktpool::capture {

// Thread-safe and lock-free on the per-buffer path. The slab must outlive every buffer
// it gave out.
class BufferSlab {
 public:
  // `count` buffers of `buffer_size` bytes; the memory is charged to `memory_tag`, the
  // descriptors to `descriptor_tag`. InvalidArgument for a zero count or size.
  static absl::StatusOr<std::unique_ptr<BufferSlab>> Create(
      pool::TaggedMemory* memory, uint32_t count, uint32_t buffer_size, pool::MemoryTag memory_tag,
      pool::MemoryTag descriptor_tag, pool::PoolDirection direction, uint32_t generation = 0);
  ~BufferSlab();

  // A buffer mapping a free slot at its full size, or null when slots or descriptors
  // are exhausted (NDIS_STATUS_RESOURCES).
  pool::Buffer* Acquire() {
    pool::Buffer* buffer = nullptr;
    return pool_->AllocateSlot(&buffer) == pool::Status::kSuccess ? buffer : nullptr;
  }
  // A buffer mapping `bytes` of the caller's memory instead of a slot (NdisAllocateBuffer
  // on the caller's virtual address): no copy. The caller keeps the bytes alive, and
  // only reads them through the buffer, until it is released. Null when descriptors are
  // exhausted; it counts against the same hard limit as Acquire.
  pool::Buffer* Map(std::span<const uint8_t> bytes) {
    pool::Buffer* buffer = nullptr;
    return pool_->Allocate(&buffer, const_cast<uint8_t*>(bytes.data()),
                           static_cast<uint32_t>(bytes.size())) == pool::Status::kSuccess
               ? buffer
               : nullptr;
  }
  // Returns a buffer from Acquire or Map (it must not be chained). It goes to the buffer's own
  // pool, so a buffer of an older slab generation is released correctly too.
  static void Release(pool::Buffer* buffer) { pool::FreeBuffer(buffer); }

  uint32_t buffer_size() const { return pool_->slot_size(); }
  uint32_t buffer_count() const { return pool_->descriptors(); }
  pool::PoolStats Stats() const { return pool_->Stats(); }

 private:
  BufferSlab(pool::TaggedMemory* memory, uint8_t* slab, pool::BufferPool::Handle pool);
  pool::TaggedMemory* const memory_;
  uint8_t* const slab_;
  pool::BufferPool::Handle pool_;
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_BUFFER_SLAB_H_
