#include "daemon/pool/buffer_pool.h"

#include <algorithm>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pktpool::pool {
namespace {

constexpr size_t kStride = (sizeof(Buffer) + 15) / 16 * 16;

}  // namespace

size_t BufferPool::DescriptorBytes() { return kStride; }

absl::StatusOr<BufferPool::Handle> BufferPool::Create(const BufferPoolOptions& options) {
  if (options.descriptors == 0 || options.descriptors > kMaxBufferDescriptors) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NDIS_STATUS_INVALID_PARAMETER: a buffer pool needs 1 to ", kMaxBufferDescriptors,
        " descriptors, not ", options.descriptors));
  }
  if ((options.slot_memory == nullptr) != (options.slot_size == 0)) {
    return absl::InvalidArgumentError(
        "NDIS_STATUS_INVALID_PARAMETER: slot_memory and slot_size go together");
  }
  const size_t bytes = kStride * options.descriptors;
  void* storage = options.memory != nullptr
                      ? options.memory->Allocate(bytes, options.tag, 64)
                      : ::operator new(bytes, std::align_val_t(64), std::nothrow);
  if (storage == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "NDIS_STATUS_RESOURCES: no memory for ", options.descriptors, " buffer descriptors"));
  }
  return Handle(new BufferPool(options, static_cast<char*>(storage)));
}

BufferPool::BufferPool(const BufferPoolOptions& options, char* storage)
    : tag_(options.tag),
      direction_(options.direction),
      generation_(options.generation),
      slot_size_(options.slot_size),
      memory_(options.memory),
      storage_(storage),
      list_(storage, kStride, options.descriptors, /*overflow_limit=*/0, internal::OverflowOps{},
            internal::FreeList::CacheCapacityFor(options.descriptors)) {
  for (uint32_t i = 0; i < options.descriptors; ++i) {
    auto* buffer = new (storage + i * kStride) Buffer();
    buffer->pool_ = this;
    if (options.slot_memory != nullptr) {
      buffer->home_ = options.slot_memory + static_cast<size_t>(i) * options.slot_size;
    }
  }
}

BufferPool::~BufferPool() {
  for (uint32_t i = 0; i < list_.static_count(); ++i) {
    std::launder(reinterpret_cast<Buffer*>(storage_ + i * kStride))->~Buffer();
  }
  if (memory_ != nullptr) {
    memory_->Free(storage_);
  } else {
    ::operator delete(storage_, std::align_val_t(64));
  }
}

void BufferPool::Close() {
  if (list_.Close()) Destroy();
}

void BufferPool::Destroy() { delete this; }

Status BufferPool::FreeSlow(Buffer* buffer) {
  // Buffer pools have no overflow descriptors: anything outside the storage is foreign.
  return buffer == nullptr ? Status::kInvalidParameter : Status::kInvalidPacket;
}

Status BufferPool::CopyBuffer(Buffer** buffer, const Buffer& source, uint32_t offset,
                              uint32_t length) {
  if (offset > source.mapped_length() || length > source.mapped_length() - offset) {
    return Status::kInvalidParameter;
  }
  return Allocate(buffer, source.address() + offset, length);
}

PoolStats BufferPool::Stats() const {
  const internal::FreeListCounts counts = list_.Counts();
  PoolStats stats;
  stats.tag = tag_.ToString();
  stats.kind = PoolKind::kBuffer;
  stats.direction = direction_;
  stats.generation = generation_;
  stats.descriptors = list_.static_count();
  stats.in_use = counts.in_use;
  stats.free = stats.descriptors - std::min(stats.descriptors, counts.in_use);
  stats.high_watermark = counts.high_watermark;
  stats.allocations = counts.gets;
  stats.resource_failures = counts.failures;
  stats.frees = counts.puts;
  stats.memory_bytes = kStride * list_.static_count();
  stats.draining = counts.closed;
  return stats;
}

}  // namespace pktpool::pool
