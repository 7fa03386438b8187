#include "daemon/capture/rx_path.h"

#include <algorithm>
#include <chrono>
#include <new>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pktpool::capture {

// ---- RxFrame --------------------------------------------------------------------

RxFrame RxFrame::Adopt(pool::Packet* packet) {
  ContextOf(*packet)->references.store(1, std::memory_order_relaxed);
  return RxFrame(packet);
}

RxFrame::RxFrame(const RxFrame& other) : packet_(other.packet_) {
  if (packet_ != nullptr) ContextOf(*packet_)->references.fetch_add(1, std::memory_order_relaxed);
}

RxFrame& RxFrame::operator=(const RxFrame& other) {
  if (this != &other) {
    RxFrame copy(other);
    *this = std::move(copy);
  }
  return *this;
}

RxFrame& RxFrame::operator=(RxFrame&& other) noexcept {
  if (this != &other) {
    Release();
    packet_ = std::exchange(other.packet_, nullptr);
  }
  return *this;
}

void RxFrame::Release() {
  if (packet_ == nullptr) return;
  RxContext* context = ContextOf(*packet_);
  if (context->references.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    context->path->Return(packet_);
  }
  packet_ = nullptr;
}

uint32_t RxFrame::captured_length() const { return pool::QueryPacket(*packet_).total_length; }

std::vector<uint8_t> RxFrame::Bytes() const {
  std::vector<uint8_t> bytes(captured_length());
  pool::CopyOutOfPacket(*packet_, bytes);
  return bytes;
}

// ---- RxPath ---------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<RxPath>> RxPath::Create(pool::TaggedMemory* memory,
                                                       const PoolSizes& sizes,
                                                       uint32_t frame_room,
                                                       uint32_t preallocate,
                                                       uint32_t generation) {
  static_assert(sizeof(RxContext) <= pool::kDefaultProtocolReservedLength);
  auto packets = pool::PacketPool::Create({.descriptors = sizes.packet_descriptors,
                                           .overflow_descriptors = sizes.packet_overflow,
                                           .tag = pool::MemoryTag("RXPK"),
                                           .direction = pool::PoolDirection::kRx,
                                           .generation = generation,
                                           .memory = memory});
  if (!packets.ok()) return packets.status();
  auto buffers = BufferSlab::Create(memory, sizes.buffer_count, sizes.buffer_size,
                                    pool::MemoryTag("RXBF"), pool::MemoryTag("RXBD"),
                                    pool::PoolDirection::kRx, generation);
  if (!buffers.ok()) return buffers.status();
  const uint32_t chain = (frame_room + sizes.buffer_size - 1) / sizes.buffer_size;
  if (static_cast<uint64_t>(chain) * preallocate > sizes.buffer_count ||
      preallocate > sizes.packet_descriptors + (*packets)->overflow_limit()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "NDIS_STATUS_RESOURCES: preallocating ", preallocate, " receive packets of ", chain,
        " buffers needs ", preallocate, " packet descriptors and ",
        static_cast<uint64_t>(chain) * preallocate, " buffers; the pools have ",
        sizes.packet_descriptors, " and ", sizes.buffer_count,
        ": raise them or lower rx_preallocate"));
  }
  std::unique_ptr<RxPath> path(
      new RxPath(std::move(*packets), std::move(*buffers), chain, preallocate));
  for (uint32_t i = 0; i < preallocate; ++i) {
    pool::Packet* packet = path->Build();
    if (packet == nullptr) return absl::ResourceExhaustedError("NDIS_STATUS_RESOURCES: preallocation");
    path->local_ready_.push_back(packet);
  }
  path->ready_count_.store(static_cast<int32_t>(preallocate), std::memory_order_relaxed);
  return path;
}

RxPath::RxPath(pool::PacketPool::Handle packets, std::unique_ptr<BufferSlab> buffers,
               uint32_t chain_length, uint32_t keep_ready)
    : packets_(std::move(packets)),
      buffers_(std::move(buffers)),
      chain_length_(chain_length),
      keep_ready_(keep_ready),
      max_packets_(packets_->descriptors() + packets_->overflow_limit()) {}

RxPath::~RxPath() {
  for (pool::Packet* packet : local_ready_) Destroy(packet);
  for (pool::Packet* packet = returned_.exchange(nullptr); packet != nullptr;) {
    pool::Packet* next = ContextOf(*packet)->next_returned;
    Destroy(packet);
    packet = next;
  }
}

pool::Packet* RxPath::Build() {
  pool::Packet* packet = nullptr;
  if (packets_->Allocate(&packet) != pool::Status::kSuccess) return nullptr;
  auto* context = new (packet->protocol_reserved().data()) RxContext();
  context->path = this;
  built_.fetch_add(1, std::memory_order_relaxed);
  for (uint32_t i = 0; i < chain_length_; ++i) {
    pool::Buffer* buffer = AcquireBuffer();
    if (buffer == nullptr) {
      Destroy(packet);
      return nullptr;
    }
    pool::ChainBufferAtBack(packet, buffer);
  }
  return packet;
}

pool::Buffer* RxPath::AcquireBuffer() {
  pool::Buffer* buffer = buffers_->Acquire();
  if (buffer != nullptr) buffers_out_.fetch_add(1, std::memory_order_relaxed);
  return buffer;
}

void RxPath::ReleaseBuffer(pool::Buffer* buffer) {
  buffers_->Release(buffer);
  buffers_out_.fetch_sub(1, std::memory_order_relaxed);
}

void RxPath::Destroy(pool::Packet* packet) {
  while (pool::Buffer* buffer = pool::UnchainBufferAtFront(packet)) ReleaseBuffer(buffer);
  pool::FreePacket(packet);
  built_.fetch_sub(1, std::memory_order_relaxed);
}

bool RxPath::Extend(pool::Packet* packet, uint32_t length) {
  uint32_t room = 0;
  for (const pool::Buffer* b = packet->first_buffer(); b != nullptr; b = b->next()) {
    room += b->mapped_length();
  }
  while (room < length) {
    pool::Buffer* buffer = AcquireBuffer();
    if (buffer == nullptr) return false;
    pool::ChainBufferAtBack(packet, buffer);
    room += buffer->mapped_length();
  }
  return true;
}

pool::Packet* RxPath::Fill(const uint8_t* data, uint32_t length, absl::Time timestamp,
                           uint32_t wire_length, int32_t interface_index) {
  if (local_ready_.empty()) {
    for (pool::Packet* p = returned_.exchange(nullptr, std::memory_order_acquire); p != nullptr;
         p = ContextOf(*p)->next_returned) {
      local_ready_.push_back(p);
    }
  }
  pool::Packet* packet = nullptr;
  if (!local_ready_.empty()) {
    packet = local_ready_.back();
    local_ready_.pop_back();
    ready_count_.fetch_sub(1, std::memory_order_relaxed);
  } else {
    packet = Build();  // beyond the preallocation, while the pools allow
    if (packet == nullptr) return nullptr;
  }
  // A frame larger than the chain gets more buffers; the last one is length-adjusted.
  if (!Extend(packet, length)) {
    Destroy(packet);
    return nullptr;
  }
  pool::CopyIntoPacket(packet, {data, length});
  pool::PacketOob& oob = packet->oob();
  oob.timestamp = timestamp;
  oob.original_length = wire_length;
  oob.interface_index = interface_index;
  frames_out_.fetch_add(1, std::memory_order_relaxed);
  return packet;
}

void RxPath::Retire() {
  retired_.store(true);
  for (pool::Packet* packet : local_ready_) Destroy(packet);
  local_ready_.clear();
  ready_count_.store(0, std::memory_order_relaxed);
  DrainReturned();
}

void RxPath::DrainReturned() {
  for (pool::Packet* packet = returned_.exchange(nullptr, std::memory_order_acquire);
       packet != nullptr;) {
    pool::Packet* next = ContextOf(*packet)->next_returned;
    Destroy(packet);
    packet = next;
  }
}

void RxPath::Return(pool::Packet* packet) {
  // A retired generation keeps nothing: its packets go back to its pools to drain them.
  if (retired_.load() ||
      ready_count_.load(std::memory_order_relaxed) >= static_cast<int32_t>(keep_ready_)) {
    Destroy(packet);
  } else {
    // NDIS reuse: save the buffers, reinitialize, chain the saved ones back at full
    // length. Buffers chained for a large frame go back to their pool first.
    uint32_t count = pool::QueryPacket(*packet).buffer_count;
    for (; count > chain_length_; --count) ReleaseBuffer(pool::UnchainBufferAtBack(packet));
    absl::InlinedVector<pool::Buffer*, 4> saved;
    for (pool::Buffer* b = packet->first_buffer(); b != nullptr; b = b->next()) saved.push_back(b);
    pool::ReinitializePacket(packet);
    for (pool::Buffer* b : saved) {
      pool::RestoreBufferLength(b);
      pool::ChainBufferAtBack(packet, b);
    }
    RxContext* context = ContextOf(*packet);
    context->next_returned = returned_.load(std::memory_order_relaxed);
    while (!returned_.compare_exchange_weak(context->next_returned, packet,
                                            std::memory_order_release,
                                            std::memory_order_relaxed)) {
    }
    // Counted once Fill can take it: counted before the push, Available could promise a
    // packet that Fill does not find yet, and hold mode would drop the frame it read.
    ready_count_.fetch_add(1, std::memory_order_relaxed);
  }
  if (frames_out_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    MutexLock lock(&wait_mu_);
    all_back_.notify_all();
  }
}

bool RxPath::WaitForFrames(absl::Duration timeout) {
  std::unique_lock<Mutex> lock(wait_mu_);
  return all_back_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] {
    return frames_out_.load(std::memory_order_acquire) == 0;
  });
}

}  // namespace pktpool::capture
