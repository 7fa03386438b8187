#include "daemon/pool/packet_pool.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pktpool::pool {
namespace {

constexpr size_t kDescriptorAlignment = 64;  // one cache line: no false sharing between packets

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

void* AllocateStorage(TaggedMemory* memory, size_t bytes, MemoryTag tag) {
  if (memory != nullptr) return memory->Allocate(bytes, tag, kDescriptorAlignment);
  return ::operator new(bytes, std::align_val_t(kDescriptorAlignment), std::nothrow);
}

void FreeStorage(TaggedMemory* memory, void* block) {
  if (memory != nullptr) {
    memory->Free(block);
  } else {
    ::operator delete(block, std::align_val_t(kDescriptorAlignment));
  }
}

}  // namespace

size_t PacketPool::DescriptorBytes(uint32_t protocol_reserved_length) {
  return RoundUp(RoundUp(sizeof(Packet), kProtocolReservedAlignment) +
                     RoundUp(protocol_reserved_length, kProtocolReservedAlignment),
                 kDescriptorAlignment);
}

absl::StatusOr<PacketPool::Handle> PacketPool::Create(const PacketPoolOptions& options) {
  if (options.descriptors == 0) {
    return absl::InvalidArgumentError(
        "NDIS_STATUS_INVALID_PARAMETER: a packet pool needs at least 1 descriptor");
  }
  if (options.descriptors > kMaxPacketDescriptors) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "NDIS_STATUS_RESOURCES: ", options.descriptors,
        " packet descriptors exceed the limit of ", kMaxPacketDescriptors,
        " (0xFFFF); ask for fewer"));
  }
  if (options.protocol_reserved_length > kMaxProtocolReservedLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NDIS_STATUS_INVALID_PARAMETER: protocol_reserved_length ",
        options.protocol_reserved_length, " exceeds ", kMaxProtocolReservedLength));
  }
  // NdisAllocatePacketPoolEx reduces the overflow count so the total is exactly 0xFFFF.
  const uint32_t overflow = std::min(options.overflow_descriptors,
                                     kMaxPacketDescriptors - options.descriptors);
  const size_t stride = DescriptorBytes(options.protocol_reserved_length);
  auto* storage = static_cast<char*>(
      AllocateStorage(options.memory, stride * options.descriptors, options.tag));
  if (storage == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("NDIS_STATUS_RESOURCES: no memory for ", options.descriptors,
                     " packet descriptors of ", stride, " bytes"));
  }
  return Handle(new PacketPool(options, storage, stride, overflow));
}

PacketPool::PacketPool(const PacketPoolOptions& options, char* storage, size_t stride,
                       uint32_t overflow)
    : tag_(options.tag),
      direction_(options.direction),
      generation_(options.generation),
      reserved_length_(options.protocol_reserved_length),
      stride_(stride),
      memory_(options.memory),
      storage_(storage),
      list_(storage, stride, options.descriptors, overflow,
            internal::OverflowOps{&PacketPool::CreateOverflow, &PacketPool::DestroyOverflow,
                                  this},
            internal::FreeList::CacheCapacityFor(options.descriptors)) {
  for (uint32_t i = 0; i < options.descriptors; ++i) {
    InitDescriptor(nullptr, storage + i * stride, /*overflow=*/false);
  }
}

PacketPool::~PacketPool() {
  for (uint32_t i = 0; i < list_.static_count(); ++i) {
    std::launder(reinterpret_cast<Packet*>(storage_ + i * stride_))->~Packet();
  }
  FreeStorage(memory_, storage_);
}

void PacketPool::InitDescriptor(Packet*, char* at, bool overflow) {
  // Zero bytes first, so the OOB data's padding is zero too and IsClean holds.
  std::memset(at, 0, sizeof(Packet));
  auto* packet = new (at) Packet();
  packet->pool_ = this;
  packet->reserved_ = reinterpret_cast<uint8_t*>(at) +
                      RoundUp(sizeof(Packet), kProtocolReservedAlignment);
  packet->reserved_length_ = reserved_length_;
  packet->overflow_ = overflow;
  std::memset(packet->reserved_, 0, reserved_length_);
}

void* PacketPool::CreateOverflow(void* self) {
  auto* pool = static_cast<PacketPool*>(self);
  auto* at = static_cast<char*>(AllocateStorage(pool->memory_, pool->stride_, pool->tag_));
  if (at == nullptr) return nullptr;
  pool->InitDescriptor(nullptr, at, /*overflow=*/true);
  return at;
}

void PacketPool::DestroyOverflow(void* self, void* object) {
  auto* pool = static_cast<PacketPool*>(self);
  UnlinkBuffers(static_cast<Packet*>(object));
  static_cast<Packet*>(object)->~Packet();
  FreeStorage(pool->memory_, object);
}

void PacketPool::Close() {
  if (list_.Close()) Destroy();
}

void PacketPool::Destroy() { delete this; }

Status PacketPool::FreeSlow(Packet* packet, bool* deleted) {
  if (packet == nullptr) return Status::kInvalidParameter;
  // Overflow descriptor: released to system memory. PutOverflow checks membership
  // before touching it, so a foreign or already-released pointer is never read.
  switch (list_.PutOverflow(packet)) {
    case internal::PutResult::kForeign: return Status::kInvalidPacket;
    case internal::PutResult::kDrained:
      *deleted = true;
      Destroy();
      return Status::kSuccess;
    case internal::PutResult::kReturned: return Status::kSuccess;
  }
  return Status::kSuccess;
}

void PacketPool::Clean(Packet* packet) {
  if (packet->head_ != nullptr) UnlinkBuffers(packet);
  // Zero bytes, not PacketOob{}: the padding too, so IsCleanInUse sees a clean packet.
  std::memset(static_cast<void*>(&packet->oob_), 0, sizeof(PacketOob));
}

Status PacketPool::FreeBulkRest(Packet* const* packets, uint32_t from, uint32_t n) {
  Status first = Status::kSuccess;
  bool deleted = false;
  for (uint32_t i = from; i < n; ++i) {
    // A closed pool deletes itself with its last packet: any packet after that one
    // cannot be ours.
    Status status = deleted ? Status::kInvalidPacket : FreeAndReport(packets[i], &deleted);
    if (status != Status::kSuccess && first == Status::kSuccess) first = status;
  }
  return first;
}

PoolStats PacketPool::Stats() const {
  const internal::FreeListCounts counts = list_.Counts();
  PoolStats stats;
  stats.tag = tag_.ToString();
  stats.kind = PoolKind::kPacket;
  stats.direction = direction_;
  stats.generation = generation_;
  stats.descriptors = list_.static_count();
  stats.overflow_limit = list_.overflow_limit();
  stats.in_use = counts.in_use;
  stats.overflow_in_use = counts.overflow_in_use;
  const uint32_t static_in_use =
      counts.in_use > counts.overflow_in_use ? counts.in_use - counts.overflow_in_use : 0;
  stats.free = stats.descriptors - std::min(stats.descriptors, static_in_use);
  stats.high_watermark = counts.high_watermark;
  stats.allocations = counts.gets;
  stats.resource_failures = counts.failures;
  stats.frees = counts.puts;
  stats.overflow_allocations = counts.overflow_gets;
  stats.reinitialize_reuses = counts.reuses;
  stats.memory_bytes = stride_ * (list_.static_count() + counts.overflow_in_use);
  stats.draining = counts.closed;
  return stats;
}

}  // namespace pktpool::pool

namespace pktpool::pool {

void ReinitializePacket(Packet* packet) {
  if (packet == nullptr) return;
  // The buffers keep their data and lengths; they are only unlinked, so the caller can
  // chain them again (to this packet or another) or free them.
  PacketPool::Clean(packet);  // unlinks, and zeroes the OOB data (padding too)
  packet->pool()->list_.CountReuse();
}

}  // namespace pktpool::pool
