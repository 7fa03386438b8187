#include "daemon/capture/buffer_slab.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pktpool::capture {

absl::StatusOr<std::unique_ptr<BufferSlab>> BufferSlab::Create(
    pool::TaggedMemory* memory, uint32_t count, uint32_t buffer_size, pool::MemoryTag memory_tag,
    pool::MemoryTag descriptor_tag, pool::PoolDirection direction) {
  if (count == 0 || buffer_size < kMinBufferSize || buffer_size > kMaxBufferSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "buffer count must be at least 1 and buffer size ", kMinBufferSize, " to ",
        kMaxBufferSize, " bytes (got ", count, " x ", buffer_size, ")"));
  }
  auto pool = pool::BufferPool::Create({.descriptors = count,
                                        .tag = descriptor_tag,
                                        .direction = direction,
                                        .memory = memory});
  if (!pool.ok()) return pool.status();
  auto* slab = static_cast<uint8_t*>(
      memory->Allocate(static_cast<size_t>(count) * buffer_size, memory_tag, 64));
  if (slab == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "NDIS_STATUS_RESOURCES: no memory for ", count, " buffers of ", buffer_size, " bytes"));
  }
  std::unique_ptr<BufferSlab> result(new BufferSlab(memory, slab, buffer_size, std::move(*pool)));
  MutexLock lock(&result->mu_);
  result->free_slots_.reserve(count);
  for (uint32_t i = count; i > 0; --i) {
    result->free_slots_.push_back(slab + static_cast<size_t>(i - 1) * buffer_size);
  }
  return result;
}

BufferSlab::BufferSlab(pool::TaggedMemory* memory, uint8_t* slab, uint32_t buffer_size,
                       pool::BufferPool::Handle pool)
    : memory_(memory), slab_(slab), buffer_size_(buffer_size), pool_(std::move(pool)) {}

BufferSlab::~BufferSlab() {
  pool_.reset();
  memory_->Free(slab_);
}

pool::Buffer* BufferSlab::Acquire() {
  MutexLock lock(&mu_);
  if (free_slots_.empty()) return nullptr;
  pool::Buffer* buffer = nullptr;
  if (pool_->Allocate(&buffer, free_slots_.back(), buffer_size_) != pool::Status::kSuccess) {
    return nullptr;
  }
  free_slots_.pop_back();
  return buffer;
}

void BufferSlab::Release(pool::Buffer* buffer) {
  uint8_t* slot = buffer->address();
  MutexLock lock(&mu_);
  if (pool_->Free(buffer) == pool::Status::kSuccess) free_slots_.push_back(slot);
}

}  // namespace pktpool::capture
