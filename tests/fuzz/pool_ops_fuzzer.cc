// pool_ops_fuzzer: the input is a sequence of operations on PacketPools and BufferPools
// (daemon/pool), and every result is checked against a small reference model of the
// NDIS rules kept here (ARCHITECTURE.md section 3). Any disagreement aborts with a message.
//
// Input: one opcode byte, then that operation's arguments (little-endian integers read
// forward; a short input reads zeros). tests/fuzz/README.md lists the operations.
#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "daemon/pool/buffer_pool.h"
#include "daemon/pool/limits.h"
#include "daemon/pool/packet.h"
#include "daemon/pool/packet_pool.h"
#include "daemon/pool/tagged_memory.h"

namespace pktpool::pool {
namespace {

// ---- reporting ----------------------------------------------------------------------

int g_op_number = 0;

[[noreturn]] __attribute__((format(printf, 1, 2))) void Disagree(const char* format, ...) {
  std::fprintf(stderr, "pool_ops_fuzzer: the pool disagrees with the model at operation %d: ",
               g_op_number);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::abort();
}

#define EXPECT_MODEL(condition, ...)          \
  do {                                        \
    if (!(condition)) Disagree(__VA_ARGS__);  \
  } while (0)

// ---- input --------------------------------------------------------------------------

// Reads the input forward; past its end every read is 0.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t U8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }
  uint32_t U32() { return static_cast<uint32_t>(U16()) | (static_cast<uint32_t>(U16()) << 16); }
  bool Bit() { return (U8() & 1) != 0; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// ---- the model ----------------------------------------------------------------------

constexpr int kSlots = 3;                 // pools of each kind held at once
constexpr size_t kMaxLivePackets = 256;   // descriptors tracked one by one
constexpr size_t kMaxLiveBuffers = 256;
constexpr size_t kMaxStale = 256;
constexpr int kMaxOperations = 2000;
constexpr size_t kArenaBytes = 4096;      // memory the buffers map
constexpr uint32_t kMaxExhaustPerInput = 1;  // Exhaust operations (up to 0xFFFF calls each)
constexpr uint32_t kMaxExhaustOverflow = 1024;  // overflow descriptors one Exhaust may take
constexpr uint32_t kMaxLargePoolsPerInput = 2;  // packet pools over 4096 descriptors

struct PacketPoolModel {
  PacketPool* pool = nullptr;  // valid while alive
  PacketPool::Handle handle;   // null once dropped
  MemoryTag tag;
  uint32_t descriptors = 0;
  uint32_t overflow_limit = 0;
  uint32_t reserved_length = 0;
  uint32_t static_in_use = 0;
  uint32_t overflow_in_use = 0;
  uint32_t high_watermark = 0;
  uint64_t allocations = 0, failures = 0, frees = 0, overflow_allocations = 0, reuses = 0;
  bool alive = true;
  uint32_t in_use() const { return static_in_use + overflow_in_use; }
};

struct BufferPoolModel {
  BufferPool* pool = nullptr;
  BufferPool::Handle handle;
  MemoryTag tag;
  uint32_t descriptors = 0;
  uint32_t in_use = 0;
  uint32_t high_watermark = 0;
  uint64_t allocations = 0, failures = 0, frees = 0;
  uint8_t* slot_memory = nullptr;  // owned by the harness (slot_storage)
  uint32_t slot_size = 0;
  bool alive = true;
};

struct PacketModel {
  Packet* packet;
  PacketPoolModel* pool;
  bool overflow;
  std::deque<Buffer*> chain;
  std::vector<uint8_t> reserved;  // what this user wrote into ProtocolReserved
};

struct BufferModel {
  Buffer* buffer;
  BufferPoolModel* pool;
  uint8_t* address;
  uint32_t mapped;
  uint32_t length;
  Packet* chained_to = nullptr;
};

// A descriptor that was freed: a pointer for double-free attempts.
struct StalePacket {
  Packet* packet;
  PacketPoolModel* pool;  // its pool (maybe destroyed since)
  bool overflow;
};
struct StaleBuffer {
  Buffer* buffer;
  BufferPoolModel* pool;
};
// What the last user of a static descriptor left in its ProtocolReserved.
struct ReservedLeft {
  Packet* packet;
  PacketPoolModel* pool;
  std::vector<uint8_t> bytes;
};

class Harness {
 public:
  Harness() : arena_(kArenaBytes) {
    for (size_t i = 0; i < arena_.size(); ++i) arena_[i] = static_cast<uint8_t>(i * 7 + 1);
  }
  ~Harness() {
    // Give everything back and drop every handle: each pool must then free all of its
    // memory (checked against the tagged memory). Members die after this body, the
    // TaggedMemory last.
    for (PacketModel& p : packets_) {
      for (Buffer* b : p.chain) Model(b).chained_to = nullptr;
      p.chain.clear();
      const Status freed = FreePacket(p.packet);
      if (freed != Status::kSuccess) Disagree("final free of a live packet: %d", int(freed));
      NoteFreed(p.pool, p.overflow);
    }
    packets_.clear();
    for (BufferModel& b : buffers_) {
      const Status freed = FreeBuffer(b.buffer);
      if (freed != Status::kSuccess) Disagree("final free of a live buffer: %d", int(freed));
      NoteBufferFreed(b.pool);
    }
    buffers_.clear();
    for (auto& pool : packet_pools_) {
      if (pool->handle) DropPacketPool(pool.get());
    }
    for (auto& pool : buffer_pools_) {
      if (pool->handle) DropBufferPool(pool.get());
    }
    for (auto& pool : packet_pools_) {
      if (pool->alive) Disagree("packet pool %s still alive at the end", Tag(pool->tag).c_str());
    }
    for (auto& pool : buffer_pools_) {
      if (pool->alive) Disagree("buffer pool %s still alive at the end", Tag(pool->tag).c_str());
    }
    for (const TagUsage& usage : memory_.AllUsage()) {
      if (usage.bytes_outstanding != 0 || usage.blocks_outstanding != 0) {
        Disagree("tag %s keeps %" PRIu64 " bytes in %" PRIu64 " blocks after every pool is gone",
                 usage.tag.ToString().c_str(), usage.bytes_outstanding, usage.blocks_outstanding);
      }
    }
  }

  void Run(Reader& in) {
    static constexpr const char* kNames[27] = {
        "CreatePacketPool", "CreateBufferPool", "AllocatePacket", "AllocatePacket",
        "AllocatePacketBulk", "FreePacket", "FreePacketBulk", "DoubleFreePacket",
        "ForeignFreePacket", "AllocateBuffer", "AllocateBuffer", "AllocateSlotBuffer",
        "CopyBuffer", "FreeBuffer", "DoubleOrForeignFreeBuffer", "ChainAtFront",
        "ChainAtBack", "UnchainAtFront", "UnchainAtBack", "AdjustBufferLength",
        "RestoreBufferLength", "ReinitializePacket", "CopyFromPacketToPacket",
        "CopyIntoPacket", "DropPoolHandle", "Exhaust", "StampOob"};
    // POOL_OPS_TRACE=1: print each operation and the counts after it (to read a crash).
    static const bool trace = std::getenv("POOL_OPS_TRACE") != nullptr;
    for (g_op_number = 0; !in.done() && g_op_number < kMaxOperations; ++g_op_number) {
      const uint8_t op = in.U8();
      if (trace) {
        std::fprintf(stderr, "op %d: %s (live: %zu packets, %zu buffers)\n", g_op_number,
                     kNames[op % 27], packets_.size(), buffers_.size());
      }
      switch (op % 27) {
        case 0: CreatePacketPool(in); break;
        case 1: CreateBufferPool(in); break;
        case 2: case 3: AllocatePacket(in); break;
        case 4: AllocatePacketBulk(in); break;
        case 5: FreeLivePacket(in); break;
        case 6: FreePacketBulk(in); break;
        case 7: DoubleFreePacket(in); break;
        case 8: ForeignFreePacket(in); break;
        case 9: case 10: AllocateBuffer(in); break;
        case 11: AllocateSlotBuffer(in); break;
        case 12: CopyBuffer(in); break;
        case 13: FreeLiveBuffer(in); break;
        case 14: DoubleOrForeignFreeBuffer(in); break;
        case 15: case 16: Chain(in, /*front=*/(op & 1) != 0); break;
        case 17: case 18: Unchain(in, /*front=*/(op & 1) != 0); break;
        case 19: AdjustLength(in); break;
        case 20: RestoreLength(in); break;
        case 21: Reinitialize(in); break;
        case 22: CopyPacketToPacket(in); break;
        case 23: CopyInto(in); break;
        case 24: DropHandle(in); break;
        case 25: Exhaust(in); break;
        case 26: StampOob(in); break;
      }
      CheckAllPools();
    }
  }

 private:
  static std::string Tag(MemoryTag tag) { return tag.ToString(); }

  MemoryTag NextTag(char kind) {
    char text[5];
    std::snprintf(text, sizeof(text), "%c%03x", kind, next_tag_++ % 0x1000);
    return *MemoryTag::Parse(text);
  }

  // ---- lookups ----

  PacketPoolModel* HeldPacketPool(uint8_t slot) {
    PacketPoolModel* pool = packet_slots_[slot % kSlots];
    return pool != nullptr && pool->handle ? pool : nullptr;
  }
  BufferPoolModel* HeldBufferPool(uint8_t slot) {
    BufferPoolModel* pool = buffer_slots_[slot % kSlots];
    return pool != nullptr && pool->handle ? pool : nullptr;
  }
  PacketModel* PickPacket(Reader& in) {
    const uint8_t index = in.U8();
    return packets_.empty() ? nullptr : &packets_[index % packets_.size()];
  }
  BufferModel* PickBuffer(Reader& in) {
    const uint8_t index = in.U8();
    return buffers_.empty() ? nullptr : &buffers_[index % buffers_.size()];
  }
  BufferModel& Model(Buffer* buffer) {
    for (BufferModel& b : buffers_) {
      if (b.buffer == buffer) return b;
    }
    Disagree("a buffer the model does not know: %p", static_cast<void*>(buffer));
  }
  PacketModel* FindPacket(Packet* packet) {
    for (PacketModel& p : packets_) {
      if (p.packet == packet) return &p;
    }
    return nullptr;
  }
  bool IsLivePacketAddress(const void* address) const {
    for (const PacketModel& p : packets_) {
      if (p.packet == address) return true;
    }
    return false;
  }
  bool IsLiveBufferAddress(const void* address) const {
    for (const BufferModel& b : buffers_) {
      if (b.buffer == address) return true;
    }
    return false;
  }

  // ---- pools ----

  void CreatePacketPool(Reader& in) {
    const uint8_t slot = in.U8() % kSlots;
    uint32_t descriptors = 0;
    switch (in.U8() % 8) {
      case 0: descriptors = 0; break;
      case 1: case 2: case 3: case 4: descriptors = 1 + in.U16() % 300; break;
      case 5: descriptors = kMaxPacketDescriptors - in.U16() % 300; break;
      case 6: descriptors = kMaxPacketDescriptors + 1 + in.U16(); break;
      default: descriptors = in.U32(); break;
    }
    uint32_t overflow = 0;
    switch (in.U8() % 4) {
      case 0: overflow = 0; break;
      case 1: overflow = in.U16() % 64; break;
      case 2: overflow = in.U32(); break;
      default: overflow = kMaxPacketDescriptors; break;
    }
    // Large pools cost milliseconds to build: at most kMaxLargePoolsPerInput per input.
    if (descriptors > 4096 && descriptors <= kMaxPacketDescriptors &&
        large_pools_++ >= kMaxLargePoolsPerInput) {
      descriptors = 1 + descriptors % 300;
    }
    uint32_t reserved = in.Bit() ? in.U16() % 4200 : kDefaultProtocolReservedLength;
    // Keep large pools small in memory (65535 x 4 KiB would be a quarter GiB per input).
    if (descriptors > 4096 && reserved <= kMaxProtocolReservedLength) reserved %= 257;
    if (packet_slots_[slot] != nullptr && packet_slots_[slot]->handle) {
      DropPacketPool(packet_slots_[slot]);
    }
    packet_slots_[slot] = nullptr;
    const MemoryTag tag = NextTag('P');
    auto created = PacketPool::Create({.descriptors = descriptors,
                                       .overflow_descriptors = overflow,
                                       .protocol_reserved_length = reserved,
                                       .tag = tag,
                                       .memory = &memory_});
    // NdisAllocatePacketPoolEx: 0 is invalid, over 0xFFFF is RESOURCES, then an oversized
    // ProtocolReserved is invalid; otherwise a pool.
    if (descriptors > kMaxPacketDescriptors) {
      EXPECT_MODEL(created.status().code() == absl::StatusCode::kResourceExhausted &&
                       created.status().message().find("NDIS_STATUS_RESOURCES") !=
                           absl::string_view::npos,
                   "Create(%u) over 0xFFFF should be RESOURCES, is %s", descriptors,
                   created.status().ToString().c_str());
      return;
    }
    if (descriptors == 0 || reserved > kMaxProtocolReservedLength) {
      EXPECT_MODEL(created.status().code() == absl::StatusCode::kInvalidArgument,
                   "Create(%u, %u, reserved %u) should be InvalidArgument, is %s", descriptors,
                   overflow, reserved, created.status().ToString().c_str());
      EXPECT_MODEL(!created.status().message().empty(), "a refusal without a message");
      return;
    }
    EXPECT_MODEL(created.ok(), "Create(%u, %u, %u) failed: %s", descriptors, overflow, reserved,
                 created.status().ToString().c_str());
    auto model = std::make_unique<PacketPoolModel>();
    model->pool = created->get();
    model->handle = std::move(*created);
    model->tag = tag;
    model->descriptors = descriptors;
    model->overflow_limit = std::min(overflow, kMaxPacketDescriptors - descriptors);
    model->reserved_length = reserved;
    EXPECT_MODEL(model->pool->descriptors() == descriptors &&
                     model->pool->overflow_limit() == model->overflow_limit &&
                     model->pool->protocol_reserved_length() == reserved,
                 "pool reports %u + %u (reserved %u), model %u + %u (reserved %u)",
                 model->pool->descriptors(), model->pool->overflow_limit(),
                 model->pool->protocol_reserved_length(), descriptors, model->overflow_limit,
                 reserved);
    EXPECT_MODEL(descriptors + model->overflow_limit <= kMaxPacketDescriptors,
                 "total %u over 0xFFFF", descriptors + model->overflow_limit);
    packet_slots_[slot] = model.get();
    packet_pools_.push_back(std::move(model));
  }

  void CreateBufferPool(Reader& in) {
    const uint8_t slot = in.U8() % kSlots;
    uint32_t descriptors = 0;
    switch (in.U8() % 8) {
      case 0: descriptors = 0; break;
      case 1: case 2: case 3: case 4: case 5: descriptors = 1 + in.U16() % 300; break;
      case 6: descriptors = kMaxBufferDescriptors + 1 + in.U16(); break;
      default: descriptors = in.U32() | (kMaxBufferDescriptors + 1); break;  // over the limit
    }
    const bool with_slots = in.Bit();
    const uint32_t slot_size = with_slots ? 1 + in.U8() % 64 : 0;
    if (buffer_slots_[slot] != nullptr && buffer_slots_[slot]->handle) {
      DropBufferPool(buffer_slots_[slot]);
    }
    buffer_slots_[slot] = nullptr;
    uint8_t* slot_memory = nullptr;
    if (with_slots && descriptors >= 1 && descriptors <= kMaxBufferDescriptors) {
      slot_storage_.push_back(std::make_unique<uint8_t[]>(size_t{descriptors} * slot_size));
      slot_memory = slot_storage_.back().get();
    }
    const MemoryTag tag = NextTag('B');
    auto created = BufferPool::Create({.descriptors = descriptors,
                                       .tag = tag,
                                       .memory = &memory_,
                                       .slot_memory = slot_memory,
                                       .slot_size = slot_memory != nullptr ? slot_size : 0});
    if (descriptors == 0 || descriptors > kMaxBufferDescriptors) {
      EXPECT_MODEL(created.status().code() == absl::StatusCode::kInvalidArgument &&
                       !created.status().message().empty(),
                   "BufferPool::Create(%u) should be InvalidArgument, is %s", descriptors,
                   created.status().ToString().c_str());
      return;
    }
    EXPECT_MODEL(created.ok(), "BufferPool::Create(%u) failed: %s", descriptors,
                 created.status().ToString().c_str());
    auto model = std::make_unique<BufferPoolModel>();
    model->pool = created->get();
    model->handle = std::move(*created);
    model->tag = tag;
    model->descriptors = descriptors;
    model->slot_memory = slot_memory;
    model->slot_size = slot_memory != nullptr ? slot_size : 0;
    EXPECT_MODEL(model->pool->descriptors() == descriptors &&
                     model->pool->slot_size() == model->slot_size,
                 "buffer pool reports %u descriptors of slot %u, model %u of %u",
                 model->pool->descriptors(), model->pool->slot_size(), descriptors,
                 model->slot_size);
    buffer_slots_[slot] = model.get();
    buffer_pools_.push_back(std::move(model));
  }

  // NdisFreePacketPool with descriptors out: the pool drains; idle: freed at once.
  void DropPacketPool(PacketPoolModel* pool) {
    pool->handle.reset();
    if (pool->in_use() == 0) PacketPoolGone(pool);
  }
  void DropBufferPool(BufferPoolModel* pool) {
    pool->handle.reset();
    if (pool->in_use == 0) BufferPoolGone(pool);
  }
  void PacketPoolGone(PacketPoolModel* pool) {
    pool->alive = false;
    pool->pool = nullptr;
    // Its descriptors are gone with it (their addresses may come back in another pool).
    std::erase_if(reserved_left_, [&](const ReservedLeft& left) { return left.pool == pool; });
    std::erase_if(stale_packets_, [&](const StalePacket& stale) { return stale.pool == pool; });
    const TagUsage usage = memory_.Usage(pool->tag);
    EXPECT_MODEL(usage.bytes_outstanding == 0 && usage.blocks_outstanding == 0,
                 "packet pool %s drained and dropped but keeps %" PRIu64 " bytes",
                 Tag(pool->tag).c_str(), usage.bytes_outstanding);
  }
  void BufferPoolGone(BufferPoolModel* pool) {
    pool->alive = false;
    pool->pool = nullptr;
    std::erase_if(stale_buffers_, [&](const StaleBuffer& stale) { return stale.pool == pool; });
    const TagUsage usage = memory_.Usage(pool->tag);
    EXPECT_MODEL(usage.bytes_outstanding == 0 && usage.blocks_outstanding == 0,
                 "buffer pool %s drained and dropped but keeps %" PRIu64 " bytes",
                 Tag(pool->tag).c_str(), usage.bytes_outstanding);
  }

  void DropHandle(Reader& in) {
    const bool packets = in.Bit();
    const uint8_t slot = in.U8() % kSlots;
    if (packets) {
      if (PacketPoolModel* pool = HeldPacketPool(slot)) DropPacketPool(pool);
      packet_slots_[slot] = nullptr;
    } else {
      if (BufferPoolModel* pool = HeldBufferPool(slot)) DropBufferPool(pool);
      buffer_slots_[slot] = nullptr;
    }
  }

  // ---- packets ----

  // Which kind of descriptor the model says Allocate gives next, or nullopt: RESOURCES.
  static std::optional<bool> NextIsOverflow(const PacketPoolModel& pool) {
    if (pool.static_in_use < pool.descriptors) return false;
    if (pool.overflow_in_use < pool.overflow_limit) return true;
    return std::nullopt;
  }

  void NoteAllocated(PacketPoolModel* pool, bool overflow) {
    (overflow ? pool->overflow_in_use : pool->static_in_use) += 1;
    pool->allocations += 1;
    if (overflow) pool->overflow_allocations += 1;
    pool->high_watermark = std::max(pool->high_watermark, pool->in_use());
  }

  void NoteFreed(PacketPoolModel* pool, bool overflow) {
    (overflow ? pool->overflow_in_use : pool->static_in_use) -= 1;
    pool->frees += 1;
    if (!pool->handle && pool->in_use() == 0) PacketPoolGone(pool);
  }

  // Checks a packet fresh from Allocate and starts tracking it.
  void AcceptPacket(Packet* packet, PacketPoolModel* pool, bool overflow) {
    EXPECT_MODEL(packet != nullptr, "Allocate succeeded without a packet");
    EXPECT_MODEL(!IsLivePacketAddress(packet), "packet %p handed out twice",
                 static_cast<void*>(packet));
    EXPECT_MODEL(packet->pool() == pool->pool, "packet from the wrong pool");
    EXPECT_MODEL(packet->is_overflow() == overflow,
                 "packet is_overflow %d, the model says %d (static %u/%u, overflow %u/%u)",
                 packet->is_overflow(), overflow, pool->static_in_use, pool->descriptors,
                 pool->overflow_in_use, pool->overflow_limit);
    EXPECT_MODEL(packet->first_buffer() == nullptr, "a fresh packet has a chain");
    const PacketOob& oob = packet->oob();
    EXPECT_MODEL(oob.timestamp == absl::UnixEpoch() && oob.original_length == 0 &&
                     oob.interface_index == 0 && oob.send_status == Status::kSuccess,
                 "a fresh packet has old OOB data");
    const std::span<uint8_t> reserved = packet->protocol_reserved();
    EXPECT_MODEL(reserved.size() == pool->reserved_length, "ProtocolReserved is %zu bytes, not %u",
                 reserved.size(), pool->reserved_length);
    EXPECT_MODEL(reinterpret_cast<uintptr_t>(reserved.data()) % kProtocolReservedAlignment == 0,
                 "ProtocolReserved not 16-byte aligned");
    // Zero on a descriptor's first use (always, for overflow ones: fresh system memory);
    // afterwards whatever its last user left.
    const std::vector<uint8_t>* left = nullptr;
    if (!overflow) {
      for (const ReservedLeft& entry : reserved_left_) {
        if (entry.packet == packet && entry.pool == pool) left = &entry.bytes;
      }
    }
    for (size_t i = 0; i < reserved.size(); ++i) {
      const uint8_t expected = left != nullptr ? (*left)[i] : 0;
      EXPECT_MODEL(reserved[i] == expected,
                   "ProtocolReserved byte %zu is %u, expected %u (%s use of the descriptor)", i,
                   reserved[i], expected, left != nullptr ? "a later" : "the first");
    }
    NoteAllocated(pool, overflow);
    packets_.push_back({packet, pool, overflow, {},
                        std::vector<uint8_t>(reserved.begin(), reserved.end())});
  }

  void AllocatePacket(Reader& in) {
    PacketPoolModel* pool = HeldPacketPool(in.U8());
    if (pool == nullptr || packets_.size() >= kMaxLivePackets) return;
    const std::optional<bool> next = NextIsOverflow(*pool);
    Packet* packet = nullptr;
    const Status status = pool->pool->Allocate(&packet);
    if (!next.has_value()) {
      EXPECT_MODEL(status == Status::kResources,
                   "Allocate should be RESOURCES (static %u/%u, overflow %u/%u), is %d",
                   pool->static_in_use, pool->descriptors, pool->overflow_in_use,
                   pool->overflow_limit, int(status));
      pool->failures += 1;
      return;
    }
    EXPECT_MODEL(status == Status::kSuccess,
                 "Allocate should succeed (static %u/%u, overflow %u/%u), is %d",
                 pool->static_in_use, pool->descriptors, pool->overflow_in_use,
                 pool->overflow_limit, int(status));
    AcceptPacket(packet, pool, *next);
  }

  void AllocatePacketBulk(Reader& in) {
    PacketPoolModel* pool = HeldPacketPool(in.U8());
    const uint32_t n = in.U8() % 40;
    if (pool == nullptr || packets_.size() + n > kMaxLivePackets) return;
    const uint64_t available = uint64_t{pool->descriptors - pool->static_in_use} +
                               (pool->overflow_limit - pool->overflow_in_use);
    std::vector<Packet*> got(n, nullptr);
    const Status status = pool->pool->AllocateBulk(got.data(), n);
    if (n > available) {
      EXPECT_MODEL(status == Status::kResources, "AllocateBulk(%u) of %" PRIu64
                   " available should be RESOURCES, is %d", n, available, int(status));
      pool->failures += 1;
      return;
    }
    EXPECT_MODEL(status == Status::kSuccess, "AllocateBulk(%u) of %" PRIu64 " available: %d", n,
                 available, int(status));
    // All or nothing; statics first, then overflow (in any order within the batch).
    const uint32_t statics = std::min(n, pool->descriptors - pool->static_in_use);
    uint32_t overflow_seen = 0;
    for (Packet* p : got) overflow_seen += p != nullptr && p->is_overflow() ? 1 : 0;
    EXPECT_MODEL(overflow_seen == n - statics, "AllocateBulk(%u): %u overflow, the model says %u",
                 n, overflow_seen, n - statics);
    for (Packet* p : got) AcceptPacket(p, pool, p->is_overflow());
  }

  // Stops tracking a packet that was freed (the caller checked the status).
  void ForgetPacket(size_t index) {
    PacketModel p = std::move(packets_[index]);
    packets_.erase(packets_.begin() + static_cast<long>(index));
    for (Buffer* b : p.chain) Model(b).chained_to = nullptr;  // unlinked, not freed
    if (!p.overflow) {
      bool found = false;
      for (ReservedLeft& left : reserved_left_) {
        if (left.packet == p.packet && left.pool == p.pool) {
          left.bytes = p.reserved;
          found = true;
        }
      }
      if (!found) reserved_left_.push_back({p.packet, p.pool, p.reserved});
    }
    if (stale_packets_.size() >= kMaxStale) stale_packets_.erase(stale_packets_.begin());
    stale_packets_.push_back({p.packet, p.pool, p.overflow});
    NoteFreed(p.pool, p.overflow);  // may destroy the pool (PacketPoolGone)
  }

  void FreeLivePacket(Reader& in) {
    const uint8_t index = in.U8();
    const bool through_pool = in.Bit();
    if (packets_.empty()) return;
    const size_t i = index % packets_.size();
    PacketModel& p = packets_[i];
    // Chained buffers are unlinked, not freed.
    std::vector<Buffer*> chain(p.chain.begin(), p.chain.end());
    const Status status = through_pool ? p.pool->pool->Free(p.packet) : FreePacket(p.packet);
    EXPECT_MODEL(status == Status::kSuccess, "Free of a live packet: %d", int(status));
    ForgetPacket(i);
    for (Buffer* b : chain) {
      EXPECT_MODEL(b->next() == nullptr, "a buffer of a freed packet is still linked");
      BufferModel& model = Model(b);
      EXPECT_MODEL(b->length() == model.length, "freeing the packet changed a buffer's length");
    }
  }

  void FreePacketBulk(Reader& in) {
    PacketPoolModel* pool = HeldPacketPool(in.U8());
    const uint32_t n = in.U8() % 16;
    if (pool == nullptr) return;
    std::vector<Packet*> list;
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t pick = in.U8();
      if ((pick & 0x80) != 0 && !stale_packets_.empty()) {
        const StalePacket& s = stale_packets_[pick % stale_packets_.size()];
        if (!IsLivePacketAddress(s.packet) && (s.overflow || s.pool->alive)) {
          list.push_back(s.packet);
        }
      } else if (!packets_.empty()) {
        list.push_back(packets_[pick % packets_.size()].packet);
      }
    }
    // The model: in order, a live packet of this pool is freed (once); anything else is
    // kInvalidPacket; the call returns the first failure.
    Status expected = Status::kSuccess;
    std::vector<Packet*> freed;
    for (Packet* p : list) {
      PacketModel* model = FindPacket(p);
      const bool ours = model != nullptr && model->pool == pool &&
                        std::find(freed.begin(), freed.end(), p) == freed.end();
      if (ours) {
        freed.push_back(p);
      } else if (expected == Status::kSuccess) {
        expected = Status::kInvalidPacket;
      }
    }
    const Status status = pool->pool->FreeBulk(list.data(), static_cast<uint32_t>(list.size()));
    EXPECT_MODEL(status == expected, "FreeBulk of %zu (%zu ours) returned %d, the model says %d",
                 list.size(), freed.size(), int(status), int(expected));
    for (Packet* p : freed) {
      for (size_t i = 0; i < packets_.size(); ++i) {
        if (packets_[i].packet == p) {
          ForgetPacket(i);
          break;
        }
      }
    }
  }

  void DoubleFreePacket(Reader& in) {
    const uint8_t index = in.U8();
    const uint8_t slot = in.U8();
    const bool through_descriptor = in.Bit();
    if (stale_packets_.empty()) return;
    const StalePacket s = stale_packets_[index % stale_packets_.size()];
    if (IsLivePacketAddress(s.packet)) return;  // reused since: not a double free
    Status status;
    PacketPoolModel* target = nullptr;
    if (through_descriptor && !s.overflow && s.pool->alive) {
      // NdisFreePacket on the descriptor itself: its (live) pool must refuse it.
      target = s.pool;
      status = FreePacket(s.packet);
    } else {
      target = HeldPacketPool(slot);
      if (target == nullptr) return;
      status = target->pool->Free(s.packet);
    }
    EXPECT_MODEL(status == Status::kInvalidPacket,
                 "a second Free of a freed %s packet returned %d, not INVALID_PACKET",
                 s.overflow ? "overflow" : "static", int(status));
  }

  void ForeignFreePacket(Reader& in) {
    PacketModel* p = PickPacket(in);
    PacketPoolModel* other = HeldPacketPool(in.U8());
    if (p == nullptr || other == nullptr || other == p->pool) return;
    const Status status = other->pool->Free(p->packet);
    EXPECT_MODEL(status == Status::kInvalidPacket, "Free into the wrong pool returned %d",
                 int(status));
    CheckPacket(*p);
  }

  // Allocates until RESOURCES and frees it all again: exhaustion at the exact count, the
  // overflow only once the statics are out, and the 0xFFFF cap on large pools.
  void Exhaust(Reader& in) {
    PacketPoolModel* pool = HeldPacketPool(in.U8());
    if (pool == nullptr || exhausts_ >= kMaxExhaustPerInput) return;
    // Overflow descriptors are single system allocations: many of them per input would
    // make the fuzzer slow (static ones are cheap, so a pool near 0xFFFF is fine).
    if (pool->overflow_limit - pool->overflow_in_use > kMaxExhaustOverflow) return;
    ++exhausts_;
    const uint32_t static_before = pool->static_in_use;
    const uint32_t overflow_before = pool->overflow_in_use;
    const uint32_t available =
        (pool->descriptors - pool->static_in_use) + (pool->overflow_limit - pool->overflow_in_use);
    std::vector<Packet*> got;
    got.reserve(available);
    while (true) {
      Packet* p = nullptr;
      const std::optional<bool> next = NextIsOverflow(*pool);
      const Status status = pool->pool->Allocate(&p);
      if (!next.has_value()) {
        EXPECT_MODEL(status == Status::kResources, "Exhaust: allocation %zu past %u should be "
                     "RESOURCES, is %d", got.size(), available, int(status));
        pool->failures += 1;
        break;
      }
      EXPECT_MODEL(status == Status::kSuccess && p->is_overflow() == *next,
                   "Exhaust: allocation %zu of %u: status %d, overflow %d (model %d)",
                   got.size(), available, int(status), status == Status::kSuccess &&
                   p->is_overflow(), int(*next));
      NoteAllocated(pool, *next);
      got.push_back(p);
    }
    EXPECT_MODEL(got.size() == available, "Exhaust: %zu allocated, %u available", got.size(),
                 available);
    EXPECT_MODEL(pool->in_use() <= kMaxPacketDescriptors, "more than 0xFFFF out");
    CheckPacketPool(*pool);
    const Status freed = pool->pool->FreeBulk(got.data(), static_cast<uint32_t>(got.size()));
    EXPECT_MODEL(freed == Status::kSuccess, "Exhaust: FreeBulk returned %d", int(freed));
    // Back to where it was before the call.
    pool->frees += got.size();
    pool->static_in_use = static_before;
    pool->overflow_in_use = overflow_before;
  }

  // ---- buffers ----

  void NoteBufferAllocated(BufferPoolModel* pool) {
    pool->in_use += 1;
    pool->allocations += 1;
    pool->high_watermark = std::max(pool->high_watermark, pool->in_use);
  }
  void NoteBufferFreed(BufferPoolModel* pool) {
    pool->in_use -= 1;
    pool->frees += 1;
    if (!pool->handle && pool->in_use == 0) BufferPoolGone(pool);
  }

  void AcceptBuffer(Buffer* buffer, BufferPoolModel* pool, uint8_t* address, uint32_t length) {
    EXPECT_MODEL(buffer != nullptr && !IsLiveBufferAddress(buffer), "buffer handed out twice");
    EXPECT_MODEL(buffer->pool() == pool->pool, "buffer from the wrong pool");
    const BufferInfo info = QueryBuffer(*buffer);
    EXPECT_MODEL(info.address == address && info.length == length &&
                     buffer->mapped_length() == length && buffer->next() == nullptr,
                 "a new buffer maps %p+%u (mapped %u), the model says %p+%u",
                 static_cast<void*>(info.address), info.length, buffer->mapped_length(),
                 static_cast<void*>(address), length);
    NoteBufferAllocated(pool);
    buffers_.push_back({buffer, pool, address, length, length, nullptr});
  }

  void AllocateBuffer(Reader& in) {
    BufferPoolModel* pool = HeldBufferPool(in.U8());
    const uint16_t offset = in.U16() % kArenaBytes;
    const uint16_t length = static_cast<uint16_t>(in.U16() % (kArenaBytes - offset + 1));
    const bool null_address = (in.U8() % 16) == 0;
    if (pool == nullptr || buffers_.size() >= kMaxLiveBuffers) return;
    uint8_t* address = null_address ? nullptr : arena_.data() + offset;
    Buffer* buffer = nullptr;
    const Status status = pool->pool->Allocate(&buffer, address, length);
    if (address == nullptr && length != 0) {
      EXPECT_MODEL(status == Status::kInvalidParameter,
                   "Allocate(null, %u) should be INVALID_PARAMETER, is %d", length, int(status));
      return;
    }
    if (pool->in_use == pool->descriptors) {
      EXPECT_MODEL(status == Status::kResources, "buffer Allocate at the hard limit %u: %d",
                   pool->descriptors, int(status));
      pool->failures += 1;
      return;
    }
    EXPECT_MODEL(status == Status::kSuccess, "buffer Allocate below the limit (%u/%u): %d",
                 pool->in_use, pool->descriptors, int(status));
    AcceptBuffer(buffer, pool, address, length);
  }

  void AllocateSlotBuffer(Reader& in) {
    BufferPoolModel* pool = HeldBufferPool(in.U8());
    if (pool == nullptr || buffers_.size() >= kMaxLiveBuffers) return;
    Buffer* buffer = nullptr;
    const Status status = pool->pool->AllocateSlot(&buffer);
    if (pool->slot_memory == nullptr) {
      EXPECT_MODEL(status == Status::kInvalidParameter, "AllocateSlot without slots: %d",
                   int(status));
      return;
    }
    if (pool->in_use == pool->descriptors) {
      EXPECT_MODEL(status == Status::kResources, "AllocateSlot at the limit: %d", int(status));
      pool->failures += 1;
      return;
    }
    EXPECT_MODEL(status == Status::kSuccess, "AllocateSlot below the limit: %d", int(status));
    // Each descriptor owns its slot: inside the backing memory, on a slot boundary, and
    // no other live buffer of this pool has it.
    const uintptr_t offset = reinterpret_cast<uintptr_t>(buffer->address()) -
                             reinterpret_cast<uintptr_t>(pool->slot_memory);
    EXPECT_MODEL(offset % pool->slot_size == 0 && offset / pool->slot_size < pool->descriptors,
                 "AllocateSlot mapped offset %zu, not a slot of %u x %u", size_t(offset),
                 pool->descriptors, pool->slot_size);
    for (const BufferModel& b : buffers_) {
      EXPECT_MODEL(!(b.pool == pool && IsSlotBuffer(b) && b.address == buffer->address()),
                   "two live buffers share slot %zu", size_t(offset / pool->slot_size));
    }
    AcceptBuffer(buffer, pool, buffer->address(), pool->slot_size);
    slot_buffers_.insert(buffer);
  }

  bool IsSlotBuffer(const BufferModel& b) const { return slot_buffers_.count(b.buffer) != 0; }

  void CopyBuffer(Reader& in) {
    BufferPoolModel* pool = HeldBufferPool(in.U8());
    BufferModel* source = PickBuffer(in);
    const uint32_t offset = in.Bit() ? in.U32() : in.U8();
    const uint32_t length = in.Bit() ? in.U32() : in.U8();
    if (pool == nullptr || source == nullptr || buffers_.size() >= kMaxLiveBuffers) return;
    const BufferModel src = *source;  // buffers_ may grow below
    Buffer* copy = nullptr;
    const Status status = pool->pool->CopyBuffer(&copy, *src.buffer, offset, length);
    if (uint64_t{offset} + length > src.mapped) {
      EXPECT_MODEL(status == Status::kInvalidParameter,
                   "CopyBuffer(%u, %u) of a %u-byte buffer should be INVALID_PARAMETER, is %d",
                   offset, length, src.mapped, int(status));
      return;
    }
    if (pool->in_use == pool->descriptors) {
      EXPECT_MODEL(status == Status::kResources, "CopyBuffer at the limit: %d", int(status));
      pool->failures += 1;
      return;
    }
    EXPECT_MODEL(status == Status::kSuccess, "CopyBuffer(%u, %u) of %u bytes: %d", offset, length,
                 src.mapped, int(status));
    AcceptBuffer(copy, pool, src.address == nullptr ? nullptr : src.address + offset, length);
  }

  void ForgetBuffer(size_t index) {
    BufferModel b = buffers_[index];
    buffers_.erase(buffers_.begin() + static_cast<long>(index));
    slot_buffers_.erase(b.buffer);
    if (stale_buffers_.size() >= kMaxStale) stale_buffers_.erase(stale_buffers_.begin());
    stale_buffers_.push_back({b.buffer, b.pool});
    NoteBufferFreed(b.pool);  // may destroy the pool (BufferPoolGone)
  }

  void FreeLiveBuffer(Reader& in) {
    const uint8_t index = in.U8();
    const bool through_pool = in.Bit();
    if (buffers_.empty()) return;
    const size_t i = index % buffers_.size();
    BufferModel& b = buffers_[i];
    const Status status = through_pool ? b.pool->pool->Free(b.buffer) : FreeBuffer(b.buffer);
    if (b.chained_to != nullptr) {
      // Still in a chain: refused, nothing changes.
      EXPECT_MODEL(status == Status::kInvalidParameter,
                   "Free of a chained buffer should be INVALID_PARAMETER, is %d", int(status));
      CheckPacket(*FindPacket(b.chained_to));
      return;
    }
    EXPECT_MODEL(status == Status::kSuccess, "Free of a live buffer: %d", int(status));
    ForgetBuffer(i);
  }

  void DoubleOrForeignFreeBuffer(Reader& in) {
    const bool stale = in.Bit();
    const uint8_t index = in.U8();
    BufferPoolModel* target = HeldBufferPool(in.U8());
    if (target == nullptr) return;
    if (stale) {
      if (stale_buffers_.empty()) return;
      const StaleBuffer s = stale_buffers_[index % stale_buffers_.size()];
      if (IsLiveBufferAddress(s.buffer)) return;  // reused since
      const Status status = target->pool->Free(s.buffer);
      EXPECT_MODEL(status == Status::kInvalidPacket,
                   "a second Free of a freed buffer returned %d, not INVALID_PACKET", int(status));
    } else {
      if (buffers_.empty()) return;
      BufferModel& b = buffers_[index % buffers_.size()];
      if (b.pool == target) return;
      const Status status = target->pool->Free(b.buffer);
      EXPECT_MODEL(status == Status::kInvalidPacket,
                   "Free of a buffer into the wrong pool returned %d", int(status));
    }
  }

  // ---- chains ----

  void Chain(Reader& in, bool front) {
    PacketModel* p = PickPacket(in);
    BufferModel* b = PickBuffer(in);
    if (p == nullptr || b == nullptr) return;
    const Status status = front ? ChainBufferAtFront(p->packet, b->buffer)
                                : ChainBufferAtBack(p->packet, b->buffer);
    if (b->chained_to != nullptr) {
      EXPECT_MODEL(status == Status::kInvalidParameter,
                   "chaining a buffer that is already in a chain returned %d", int(status));
    } else {
      EXPECT_MODEL(status == Status::kSuccess, "chaining a free buffer returned %d", int(status));
      b->chained_to = p->packet;
      if (front) {
        p->chain.push_front(b->buffer);
      } else {
        p->chain.push_back(b->buffer);
      }
    }
    CheckPacket(*p);
    if (b->chained_to != nullptr && b->chained_to != p->packet) {
      CheckPacket(*FindPacket(b->chained_to));
    }
  }

  void Unchain(Reader& in, bool front) {
    PacketModel* p = PickPacket(in);
    if (p == nullptr) return;
    Buffer* got = front ? UnchainBufferAtFront(p->packet) : UnchainBufferAtBack(p->packet);
    if (p->chain.empty()) {
      EXPECT_MODEL(got == nullptr, "unchaining from an empty chain returned a buffer");
    } else {
      Buffer* expected = front ? p->chain.front() : p->chain.back();
      EXPECT_MODEL(got == expected, "Unchain%s returned %p, the model says %p",
                   front ? "AtFront" : "AtBack", static_cast<void*>(got),
                   static_cast<void*>(expected));
      if (front) {
        p->chain.pop_front();
      } else {
        p->chain.pop_back();
      }
      Model(got).chained_to = nullptr;
      EXPECT_MODEL(got->next() == nullptr, "an unchained buffer still links to another");
    }
    CheckPacket(*p);
  }

  void AdjustLength(Reader& in) {
    BufferModel* b = PickBuffer(in);
    const uint32_t length = in.Bit() ? in.U32() : in.U16() % (kArenaBytes + 2);
    if (b == nullptr) return;
    const Status status = AdjustBufferLength(b->buffer, length);
    if (length > b->mapped) {
      EXPECT_MODEL(status == Status::kBufferTooShort,
                   "AdjustBufferLength(%u) of a %u-byte mapping should be BUFFER_TOO_SHORT, is %d",
                   length, b->mapped, int(status));
    } else {
      EXPECT_MODEL(status == Status::kSuccess, "AdjustBufferLength(%u) of %u: %d", length,
                   b->mapped, int(status));
      b->length = length;
    }
    EXPECT_MODEL(b->buffer->length() == b->length && b->buffer->mapped_length() == b->mapped,
                 "buffer length %u (mapped %u), the model says %u (%u)", b->buffer->length(),
                 b->buffer->mapped_length(), b->length, b->mapped);
    if (b->chained_to != nullptr) CheckPacket(*FindPacket(b->chained_to));
  }

  void RestoreLength(Reader& in) {
    BufferModel* b = PickBuffer(in);
    if (b == nullptr) return;
    RestoreBufferLength(b->buffer);
    b->length = b->mapped;
    EXPECT_MODEL(b->buffer->length() == b->mapped, "RestoreBufferLength left %u of %u",
                 b->buffer->length(), b->mapped);
    if (b->chained_to != nullptr) CheckPacket(*FindPacket(b->chained_to));
  }

  // Writes some OOB fields of a live packet, as a user filling in a frame does, and
  // leaves them: whoever allocates the descriptor after it is freed (alone or in a bulk
  // free, chained or not) must get default OOB data (AcceptPacket checks). Each field
  // lies in a different 8-byte word of the OOB data, so each word gets dirty on its own.
  void StampOob(Reader& in) {
    PacketModel* p = PickPacket(in);
    const uint8_t fields = in.U8();
    const uint8_t pattern = in.U8();
    if (p == nullptr) return;
    PacketOob& oob = p->packet->oob();
    if ((fields & 1) != 0) oob.timestamp = absl::FromUnixSeconds(int64_t{pattern} + 1);
    if ((fields & 2) != 0) oob.timestamp += absl::Nanoseconds(int64_t{pattern} + 1);
    if ((fields & 4) != 0) oob.original_length = pattern + 1u;
    if ((fields & 8) != 0) oob.interface_index = -1 - pattern;
    if ((fields & 16) != 0) oob.send_status = Status::kFailure;
    EXPECT_MODEL((fields & 4) == 0 || p->packet->oob().original_length == pattern + 1u,
                 "OOB data written and read back differ");
    CheckPacket(*p);
  }

  void Reinitialize(Reader& in) {
    PacketModel* p = PickPacket(in);
    const uint8_t pattern = in.U8();
    if (p == nullptr) return;
    // Stamp OOB data and ProtocolReserved first: Reinitialize resets the OOB data only.
    p->packet->oob().original_length = pattern + 1u;
    p->packet->oob().interface_index = pattern;
    p->packet->oob().timestamp = absl::FromUnixNanos(pattern + 1);
    std::span<uint8_t> reserved = p->packet->protocol_reserved();
    for (size_t i = 0; i < reserved.size(); ++i) reserved[i] = static_cast<uint8_t>(pattern + i);
    p->reserved.assign(reserved.begin(), reserved.end());
    std::vector<std::pair<Buffer*, uint32_t>> before;
    for (Buffer* b : p->chain) before.push_back({b, b->length()});
    ReinitializePacket(p->packet);
    p->pool->reuses += 1;
    for (auto [b, length] : before) {
      EXPECT_MODEL(b->next() == nullptr && b->length() == length,
                   "Reinitialize changed a buffer (length %u, was %u) or left it linked",
                   b->length(), length);
      Model(b).chained_to = nullptr;
    }
    p->chain.clear();
    const PacketOob& oob = p->packet->oob();
    EXPECT_MODEL(oob.timestamp == absl::UnixEpoch() && oob.original_length == 0 &&
                     oob.interface_index == 0,
                 "Reinitialize kept the OOB data");
    EXPECT_MODEL(std::equal(reserved.begin(), reserved.end(), p->reserved.begin()),
                 "Reinitialize changed ProtocolReserved");
    CheckPacket(*p);
  }

  // The chain's data, by current lengths: each byte's address.
  static std::vector<uint8_t*> ByteAddresses(const PacketModel& p) {
    std::vector<uint8_t*> out;
    for (Buffer* b : p.chain) {
      for (uint32_t i = 0; i < b->length(); ++i) out.push_back(b->address() + i);
    }
    return out;
  }

  void CopyPacketToPacket(Reader& in) {
    PacketModel* destination = PickPacket(in);
    PacketModel* source = PickPacket(in);
    const uint32_t destination_offset = in.Bit() ? in.U32() : in.U16() % 2048;
    const uint32_t bytes = in.Bit() ? in.U32() : in.U16() % 2048;
    const uint32_t source_offset = in.Bit() ? in.U32() : in.U16() % 2048;
    if (destination == nullptr || source == nullptr) return;
    const std::vector<uint8_t*> from = ByteAddresses(*source);
    const std::vector<uint8_t*> to = ByteAddresses(*destination);
    const uint64_t from_left = source_offset < from.size() ? from.size() - source_offset : 0;
    const uint64_t to_left = destination_offset < to.size() ? to.size() - destination_offset : 0;
    const uint32_t expected =
        static_cast<uint32_t>(std::min<uint64_t>({bytes, from_left, to_left}));
    std::vector<uint8_t> wanted;
    for (uint32_t i = 0; i < expected; ++i) wanted.push_back(*from[source_offset + i]);
    // The bytes can be compared afterwards only when no address is written twice or
    // read after being written (buffers may map overlapping memory on purpose).
    std::set<uint8_t*> written;
    bool comparable = true;
    for (uint32_t i = 0; i < expected && comparable; ++i) {
      comparable = written.insert(to[destination_offset + i]).second;
    }
    for (uint32_t i = 0; i < expected && comparable; ++i) {
      comparable = written.count(from[source_offset + i]) == 0;
    }
    std::vector<uint32_t> lengths;
    for (Buffer* b : destination->chain) lengths.push_back(b->length());
    const uint32_t copied = CopyFromPacketToPacket(destination->packet, destination_offset, bytes,
                                                   *source->packet, source_offset);
    EXPECT_MODEL(copied == expected,
                 "CopyFromPacketToPacket(%u, %u, from %u) copied %u; the chains hold %zu and "
                 "%zu bytes, so %u", destination_offset, bytes, source_offset, copied, to.size(),
                 from.size(), expected);
    if (comparable) {
      for (uint32_t i = 0; i < expected; ++i) {
        EXPECT_MODEL(*to[destination_offset + i] == wanted[i],
                     "CopyFromPacketToPacket: byte %u differs", i);
      }
    }
    size_t i = 0;
    for (Buffer* b : destination->chain) {
      EXPECT_MODEL(b->length() == lengths[i++], "CopyFromPacketToPacket changed a length");
    }
  }

  void CopyInto(Reader& in) {
    PacketModel* p = PickPacket(in);
    const uint16_t size = in.U16() % 4096;
    const uint8_t seed = in.U8();
    if (p == nullptr) return;
    std::vector<uint8_t> data(size);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(seed * 31 + i);
    uint64_t space = 0;
    for (Buffer* b : p->chain) space += Model(b).mapped;
    const uint32_t expected = static_cast<uint32_t>(std::min<uint64_t>(space, size));
    const uint32_t copied = CopyIntoPacket(p->packet, data);
    EXPECT_MODEL(copied == expected, "CopyIntoPacket(%u bytes) into %" PRIu64 " mapped: %u",
                 size, space, copied);
    // Lengths: each buffer filled up to its mapping, the last used one adjusted, later
    // ones 0.
    uint32_t left = expected;
    for (Buffer* b : p->chain) {
      BufferModel& model = Model(b);
      model.length = std::min(model.mapped, left);
      left -= model.length;
      EXPECT_MODEL(b->length() == model.length, "CopyIntoPacket set a length of %u, not %u",
                   b->length(), model.length);
    }
    const std::vector<uint8_t*> addresses = ByteAddresses(*p);
    const std::set<uint8_t*> distinct(addresses.begin(), addresses.end());
    if (distinct.size() == addresses.size()) {
      std::vector<uint8_t> out(expected + 16);
      EXPECT_MODEL(CopyOutOfPacket(*p->packet, out) == expected, "CopyOutOfPacket length");
      EXPECT_MODEL(std::equal(data.begin(), data.begin() + expected, out.begin()),
                   "CopyOutOfPacket gives other bytes than CopyIntoPacket put in");
    }
    CheckPacket(*p);
  }

  // ---- checks ----

  void CheckPacket(const PacketModel& p) {
    const PacketInfo info = QueryPacket(*p.packet);
    uint32_t total = 0;
    for (Buffer* b : p.chain) total += b->length();
    EXPECT_MODEL(info.buffer_count == p.chain.size() && info.total_length == total &&
                     info.first_buffer == (p.chain.empty() ? nullptr : p.chain.front()),
                 "QueryPacket: %u buffers, %u bytes; the model has %zu, %u", info.buffer_count,
                 info.total_length, p.chain.size(), total);
    const Buffer* b = p.packet->first_buffer();
    for (Buffer* expected : p.chain) {
      EXPECT_MODEL(b == expected, "the chain's order differs from the model's");
      b = b->next();
    }
    EXPECT_MODEL(b == nullptr, "the chain is longer than the model's");
  }

  void CheckPacketPool(const PacketPoolModel& pool) {
    const PoolStats stats = pool.pool->Stats();
    EXPECT_MODEL(stats.in_use == pool.in_use() && stats.overflow_in_use == pool.overflow_in_use &&
                     stats.free == pool.descriptors - pool.static_in_use &&
                     stats.descriptors == pool.descriptors &&
                     stats.overflow_limit == pool.overflow_limit,
                 "%s stats: in_use %u overflow %u free %u; model %u %u %u",
                 Tag(pool.tag).c_str(), stats.in_use, stats.overflow_in_use, stats.free,
                 pool.in_use(), pool.overflow_in_use, pool.descriptors - pool.static_in_use);
    EXPECT_MODEL(stats.allocations == pool.allocations &&
                     stats.resource_failures == pool.failures && stats.frees == pool.frees &&
                     stats.overflow_allocations == pool.overflow_allocations &&
                     stats.reinitialize_reuses == pool.reuses,
                 "%s counters: allocations %" PRIu64 " failures %" PRIu64 " frees %" PRIu64
                 " overflow %" PRIu64 " reuses %" PRIu64 "; model %" PRIu64 " %" PRIu64
                 " %" PRIu64 " %" PRIu64 " %" PRIu64,
                 Tag(pool.tag).c_str(), stats.allocations, stats.resource_failures, stats.frees,
                 stats.overflow_allocations, stats.reinitialize_reuses, pool.allocations,
                 pool.failures, pool.frees, pool.overflow_allocations, pool.reuses);
    EXPECT_MODEL(stats.high_watermark == pool.high_watermark,
                 "%s high watermark %u, model %u", Tag(pool.tag).c_str(), stats.high_watermark,
                 pool.high_watermark);
    EXPECT_MODEL(stats.draining == !pool.handle, "%s draining %d with handle %d",
                 Tag(pool.tag).c_str(), stats.draining, pool.handle != nullptr);
    const TagUsage usage = memory_.Usage(pool.tag);
    EXPECT_MODEL(stats.memory_bytes == usage.bytes_outstanding &&
                     usage.blocks_outstanding == 1 + pool.overflow_in_use,
                 "%s memory: stats %" PRIu64 " bytes, tagged %" PRIu64 " bytes in %" PRIu64
                 " blocks (1 + %u overflow expected)",
                 Tag(pool.tag).c_str(), stats.memory_bytes, usage.bytes_outstanding,
                 usage.blocks_outstanding, pool.overflow_in_use);
  }

  void CheckBufferPool(const BufferPoolModel& pool) {
    const PoolStats stats = pool.pool->Stats();
    EXPECT_MODEL(stats.in_use == pool.in_use && stats.free == pool.descriptors - pool.in_use &&
                     stats.descriptors == pool.descriptors && stats.overflow_limit == 0 &&
                     stats.allocations == pool.allocations &&
                     stats.resource_failures == pool.failures && stats.frees == pool.frees &&
                     stats.high_watermark == pool.high_watermark &&
                     stats.draining == !pool.handle,
                 "%s stats: in_use %u free %u allocations %" PRIu64 " failures %" PRIu64
                 " frees %" PRIu64 " watermark %u; model %u %u %" PRIu64 " %" PRIu64 " %" PRIu64
                 " %u",
                 Tag(pool.tag).c_str(), stats.in_use, stats.free, stats.allocations,
                 stats.resource_failures, stats.frees, stats.high_watermark, pool.in_use,
                 pool.descriptors - pool.in_use, pool.allocations, pool.failures, pool.frees,
                 pool.high_watermark);
    const TagUsage usage = memory_.Usage(pool.tag);
    EXPECT_MODEL(stats.memory_bytes == usage.bytes_outstanding && usage.blocks_outstanding == 1,
                 "%s memory: stats %" PRIu64 ", tagged %" PRIu64, Tag(pool.tag).c_str(),
                 stats.memory_bytes, usage.bytes_outstanding);
  }

  void CheckAllPools() {
    for (const auto& pool : packet_pools_) {
      if (pool->alive) CheckPacketPool(*pool);
    }
    for (const auto& pool : buffer_pools_) {
      if (pool->alive) CheckBufferPool(*pool);
    }
  }

  // Declared first: destroyed last, after every pool (pools charge it until they go).
  TaggedMemory memory_;
  std::vector<uint8_t> arena_;
  std::vector<std::unique_ptr<uint8_t[]>> slot_storage_;
  std::vector<std::unique_ptr<PacketPoolModel>> packet_pools_;
  std::vector<std::unique_ptr<BufferPoolModel>> buffer_pools_;
  PacketPoolModel* packet_slots_[kSlots] = {};
  BufferPoolModel* buffer_slots_[kSlots] = {};
  std::vector<PacketModel> packets_;
  std::vector<BufferModel> buffers_;
  std::set<Buffer*> slot_buffers_;
  std::vector<StalePacket> stale_packets_;
  std::vector<StaleBuffer> stale_buffers_;
  std::vector<ReservedLeft> reserved_left_;
  uint32_t next_tag_ = 0;
  uint32_t exhausts_ = 0;
  uint32_t large_pools_ = 0;
};

}  // namespace
}  // namespace pktpool::pool

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pktpool::pool::Reader in(data, size);
  pktpool::pool::Harness harness;
  harness.Run(in);
  return 0;
}
