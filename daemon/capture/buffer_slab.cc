#include "daemon/capture/buffer_slab.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pktpool::capture {

absl::StatusOr<std::unique_ptr<BufferSlab>> BufferSlab::Create(
    pool::TaggedMemory* memory, uint32_t count, uint32_t buffer_size, pool::MemoryTag memory_tag,
    pool::MemoryTag descriptor_tag, pool::PoolDirection direction, uint32_t generation) {
  if (count == 0 || buffer_size < kMinBufferSize || buffer_size > kMaxBufferSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "buffer count must be at least 1 and buffer size ", kMinBufferSize, " to ",
        kMaxBufferSize, " bytes (got ", count, " x ", buffer_size, ")"));
  }
  auto* slab = static_cast<uint8_t*>(
      memory->Allocate(static_cast<size_t>(count) * buffer_size, memory_tag, 64));
  if (slab == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "NDIS_STATUS_RESOURCES: no memory for ", count, " buffers of ", buffer_size, " bytes"));
  }
  // Each descriptor owns one slot of the slab, so handing out a buffer is one lock-free
  // pool allocation.
  auto pool = pool::BufferPool::Create({.descriptors = count,
                                        .tag = descriptor_tag,
                                        .direction = direction,
                                        .generation = generation,
                                        .memory = memory,
                                        .slot_memory = slab,
                                        .slot_size = buffer_size});
  if (!pool.ok()) {
    memory->Free(slab);
    return pool.status();
  }
  return std::unique_ptr<BufferSlab>(new BufferSlab(memory, slab, std::move(*pool)));
}

BufferSlab::BufferSlab(pool::TaggedMemory* memory, uint8_t* slab, pool::BufferPool::Handle pool)
    : memory_(memory), slab_(slab), pool_(std::move(pool)) {}

BufferSlab::~BufferSlab() {
  pool_.reset();  // every buffer is back (see the class comment)
  memory_->Free(slab_);
}

}  // namespace pktpool::capture
