// One test per buffer-pool rule of ARCHITECTURE.md section 3 (NdisAllocateBufferPool).
#include "daemon/pool/buffer_pool.h"

#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "daemon/pool/packet_pool.h"

namespace pktpool::pool {
namespace {

BufferPool::Handle MakePool(uint32_t descriptors, TaggedMemory* memory = nullptr) {
  auto pool = BufferPool::Create({.descriptors = descriptors, .memory = memory});
  EXPECT_TRUE(pool.ok()) << pool.status();
  return std::move(pool).value();
}

TEST(BufferPool, CreationSucceedsForAnyValidCount) {
  for (uint32_t n : {1u, 2u, 1000u, 0xFFFFu, 0x10000u}) {
    auto pool = BufferPool::Create({.descriptors = n});
    ASSERT_TRUE(pool.ok()) << n << ": " << pool.status();
    EXPECT_EQ((*pool)->descriptors(), n);
  }
}

TEST(BufferPool, ZeroDescriptorsIsInvalid) {
  EXPECT_EQ(BufferPool::Create({.descriptors = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BufferPool, OverLimitDescriptorsIsInvalid) {
  EXPECT_EQ(BufferPool::Create({.descriptors = kMaxBufferDescriptors + 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BufferPool, AllocateMapsCallerMemory) {
  auto pool = MakePool(2);
  std::vector<uint8_t> memory(100, 0xAB);
  Buffer* buffer = nullptr;
  ASSERT_EQ(pool->Allocate(&buffer, memory.data() + 10, 50), Status::kSuccess);
  BufferInfo info = QueryBuffer(*buffer);
  EXPECT_EQ(info.address, memory.data() + 10);
  EXPECT_EQ(info.length, 50u);
  EXPECT_EQ(buffer->mapped_length(), 50u);
  EXPECT_EQ(buffer->next(), nullptr);
  // Writes through the buffer land in the caller's memory: it maps, it does not copy.
  buffer->address()[0] = 0x11;
  EXPECT_EQ(memory[10], 0x11);
  EXPECT_EQ(pool->Free(buffer), Status::kSuccess);
}

TEST(BufferPool, NullAddressWithLengthIsInvalid) {
  auto pool = MakePool(2);
  Buffer* buffer = nullptr;
  EXPECT_EQ(pool->Allocate(&buffer, nullptr, 10), Status::kInvalidParameter);
  EXPECT_EQ(pool->Stats().in_use, 0u);
}

TEST(BufferPool, ResourcesAtHardLimitUntilOneIsFreed) {
  auto pool = MakePool(3);
  uint8_t memory[3][8];
  Buffer* buffers[3];
  for (int i = 0; i < 3; ++i) ASSERT_EQ(pool->Allocate(&buffers[i], memory[i], 8), Status::kSuccess);
  Buffer* extra = nullptr;
  EXPECT_EQ(pool->Allocate(&extra, memory[0], 8), Status::kResources);
  EXPECT_EQ(pool->Stats().resource_failures, 1u);
  ASSERT_EQ(pool->Free(buffers[1]), Status::kSuccess);
  EXPECT_EQ(pool->Allocate(&extra, memory[0], 8), Status::kSuccess);
  pool->Free(extra);
  pool->Free(buffers[0]);
  pool->Free(buffers[2]);
}

TEST(BufferPool, HardLimitHoldsWithThreadCaches) {
  // Large enough for per-thread caches: the limit is still exact.
  auto pool = MakePool(1024);
  std::vector<uint8_t> memory(16);
  std::vector<Buffer*> buffers(1024);
  for (auto& b : buffers) ASSERT_EQ(pool->Allocate(&b, memory.data(), 16), Status::kSuccess);
  Buffer* extra = nullptr;
  EXPECT_EQ(pool->Allocate(&extra, memory.data(), 16), Status::kResources);
  for (auto* b : buffers) pool->Free(b);
}

TEST(BufferPool, DoubleFreeIsRejectedAndCorruptsNothing) {
  auto pool = MakePool(2);
  uint8_t memory[8];
  Buffer* a = nullptr;
  ASSERT_EQ(pool->Allocate(&a, memory, 8), Status::kSuccess);
  ASSERT_EQ(pool->Free(a), Status::kSuccess);
  EXPECT_EQ(pool->Free(a), Status::kInvalidPacket);
  Buffer* x = nullptr;
  Buffer* y = nullptr;
  ASSERT_EQ(pool->Allocate(&x, memory, 8), Status::kSuccess);
  ASSERT_EQ(pool->Allocate(&y, memory, 8), Status::kSuccess);
  EXPECT_NE(x, y);
  Buffer* z = nullptr;
  EXPECT_EQ(pool->Allocate(&z, memory, 8), Status::kResources);
  pool->Free(x);
  pool->Free(y);
}

TEST(BufferPool, ForeignBufferIsRejected) {
  auto pool = MakePool(2);
  auto other = MakePool(2);
  uint8_t memory[8];
  Buffer* theirs = nullptr;
  ASSERT_EQ(other->Allocate(&theirs, memory, 8), Status::kSuccess);
  EXPECT_EQ(pool->Free(theirs), Status::kInvalidPacket);
  EXPECT_EQ(pool->Free(nullptr), Status::kInvalidParameter);
  EXPECT_EQ(other->Stats().in_use, 1u);
  EXPECT_EQ(FreeBuffer(theirs), Status::kSuccess);
}

TEST(BufferPool, ChainedBufferCannotBeFreed) {
  auto pool = MakePool(1);
  auto packets = PacketPool::Create({.descriptors = 1});
  ASSERT_TRUE(packets.ok());
  uint8_t memory[8];
  Buffer* b = nullptr;
  Packet* p = nullptr;
  ASSERT_EQ(pool->Allocate(&b, memory, 8), Status::kSuccess);
  ASSERT_EQ((*packets)->Allocate(&p), Status::kSuccess);
  ChainBufferAtBack(p, b);
  EXPECT_EQ(pool->Free(b), Status::kInvalidParameter);
  EXPECT_EQ(QueryPacket(*p).buffer_count, 1u);  // chain intact
  UnchainBufferAtFront(p);
  EXPECT_EQ(pool->Free(b), Status::kSuccess);
  (*packets)->Free(p);
}

// Allocate does not write next_ or chained_: every way out of a chain leaves them
// cleared. Buffers leave chains each way, are freed, and come back unlinked.
TEST(BufferPool, BuffersComeBackUnlinkedWhicheverWayTheyLeftAChain) {
  auto pool = MakePool(5);
  auto packets = PacketPool::Create({.descriptors = 2});
  ASSERT_TRUE(packets.ok());
  uint8_t memory[5][8] = {};
  Buffer* b[5];
  for (int i = 0; i < 5; ++i) ASSERT_EQ(pool->Allocate(&b[i], memory[i], 8), Status::kSuccess);
  Packet* p = nullptr;
  Packet* q = nullptr;
  ASSERT_EQ((*packets)->Allocate(&p), Status::kSuccess);
  ASSERT_EQ((*packets)->Allocate(&q), Status::kSuccess);
  for (int i = 0; i < 4; ++i) ChainBufferAtBack(p, b[i]);
  EXPECT_EQ(UnchainBufferAtFront(p), b[0]);  // the rest of the chain still follows b[0]
  EXPECT_EQ(UnchainBufferAtBack(p), b[3]);
  EXPECT_EQ(ChainBufferAtFront(q, b[4]), Status::kSuccess);
  ReinitializePacket(q);                             // unlinks b[4]
  EXPECT_EQ((*packets)->Free(p), Status::kSuccess);  // unlinks b[1] and b[2]
  for (Buffer* buffer : b) ASSERT_EQ(pool->Free(buffer), Status::kSuccess);
  Buffer* again[5];
  for (Buffer*& buffer : again) {
    ASSERT_EQ(pool->Allocate(&buffer, memory[0], 8), Status::kSuccess);
    EXPECT_EQ(buffer->next(), nullptr);
  }
  // None is marked as chained: each can join a chain again.
  for (Buffer* buffer : again) EXPECT_EQ(ChainBufferAtBack(q, buffer), Status::kSuccess);
  EXPECT_EQ(QueryPacket(*q).buffer_count, 5u);
  EXPECT_EQ((*packets)->Free(q), Status::kSuccess);
  for (Buffer* buffer : again) EXPECT_EQ(pool->Free(buffer), Status::kSuccess);
}

TEST(BufferPool, AdjustBufferLengthWithinMappedLength) {
  auto pool = MakePool(1);
  uint8_t memory[64];
  Buffer* b = nullptr;
  ASSERT_EQ(pool->Allocate(&b, memory, 64), Status::kSuccess);
  EXPECT_EQ(AdjustBufferLength(b, 10), Status::kSuccess);
  EXPECT_EQ(QueryBuffer(*b).length, 10u);
  EXPECT_EQ(AdjustBufferLength(b, 64), Status::kSuccess);
  EXPECT_EQ(QueryBuffer(*b).length, 64u);
  EXPECT_EQ(AdjustBufferLength(b, 0), Status::kSuccess);
  EXPECT_EQ(QueryBuffer(*b).length, 0u);
  pool->Free(b);
}

TEST(BufferPool, AdjustBeyondMappedLengthIsRejected) {
  auto pool = MakePool(1);
  uint8_t memory[64];
  Buffer* b = nullptr;
  ASSERT_EQ(pool->Allocate(&b, memory, 64), Status::kSuccess);
  AdjustBufferLength(b, 20);
  EXPECT_EQ(AdjustBufferLength(b, 65), Status::kBufferTooShort);
  EXPECT_EQ(QueryBuffer(*b).length, 20u);  // unchanged
  EXPECT_EQ(b->mapped_length(), 64u);
  EXPECT_EQ(AdjustBufferLength(nullptr, 1), Status::kInvalidParameter);
  pool->Free(b);
}

TEST(BufferPool, FullLengthRestoredForReuse) {
  auto pool = MakePool(1);
  uint8_t memory[64];
  Buffer* b = nullptr;
  ASSERT_EQ(pool->Allocate(&b, memory, 64), Status::kSuccess);
  AdjustBufferLength(b, 7);
  RestoreBufferLength(b);
  EXPECT_EQ(QueryBuffer(*b).length, 64u);
  pool->Free(b);
}

TEST(BufferPool, CopyBufferMapsSubRangeOfSource) {
  auto pool = MakePool(3);
  uint8_t memory[100];
  for (int i = 0; i < 100; ++i) memory[i] = static_cast<uint8_t>(i);
  Buffer* source = nullptr;
  ASSERT_EQ(pool->Allocate(&source, memory, 100), Status::kSuccess);
  Buffer* copy = nullptr;
  ASSERT_EQ(pool->CopyBuffer(&copy, *source, 30, 20), Status::kSuccess);
  EXPECT_NE(copy, source);
  EXPECT_EQ(QueryBuffer(*copy).address, memory + 30);
  EXPECT_EQ(QueryBuffer(*copy).length, 20u);
  EXPECT_EQ(copy->address()[0], 30);
  Buffer* tail = nullptr;
  EXPECT_EQ(pool->CopyBuffer(&tail, *source, 100, 0), Status::kSuccess);  // empty, at the end
  EXPECT_EQ(pool->Stats().in_use, 3u);
  pool->Free(tail);
  pool->Free(copy);
  pool->Free(source);
}

TEST(BufferPool, CopyBufferOutsideSourceIsRejected) {
  auto pool = MakePool(3);
  uint8_t memory[100];
  Buffer* source = nullptr;
  ASSERT_EQ(pool->Allocate(&source, memory, 100), Status::kSuccess);
  Buffer* copy = nullptr;
  EXPECT_EQ(pool->CopyBuffer(&copy, *source, 90, 11), Status::kInvalidParameter);
  EXPECT_EQ(pool->CopyBuffer(&copy, *source, 101, 0), Status::kInvalidParameter);
  EXPECT_EQ(pool->CopyBuffer(&copy, *source, 0xFFFFFFFF, 2), Status::kInvalidParameter);
  EXPECT_EQ(pool->Stats().in_use, 1u);
  pool->Free(source);
}

TEST(BufferPool, DroppingPoolWhileBuffersOutDrains) {
  TaggedMemory memory;
  uint8_t data[8];
  Buffer* b = nullptr;
  {
    auto pool = MakePool(4, &memory);
    ASSERT_EQ(pool->Allocate(&b, data, 8), Status::kSuccess);
  }
  EXPECT_EQ(memory.Usage(MemoryTag("BFPL")).blocks_outstanding, 1u);
  EXPECT_EQ(QueryBuffer(*b).length, 8u);  // still a valid descriptor
  EXPECT_EQ(FreeBuffer(b), Status::kSuccess);
  EXPECT_EQ(memory.Usage(MemoryTag("BFPL")).blocks_outstanding, 0u);
}

TEST(BufferPool, AllocateSlotMapsEachDescriptorsOwnSlotOfBackingMemory) {
  std::vector<uint8_t> backing(4 * 256);
  auto pool = BufferPool::Create(
      {.descriptors = 4, .slot_memory = backing.data(), .slot_size = 256});
  ASSERT_TRUE(pool.ok()) << pool.status();
  std::set<uint8_t*> slots;
  Buffer* buffers[4];
  for (auto& b : buffers) {
    ASSERT_EQ((*pool)->AllocateSlot(&b), Status::kSuccess);
    EXPECT_EQ(b->length(), 256u);
    EXPECT_EQ(b->mapped_length(), 256u);
    const ptrdiff_t offset = b->address() - backing.data();
    EXPECT_EQ(offset % 256, 0);
    EXPECT_LT(offset, 4 * 256);
    slots.insert(b->address());
  }
  EXPECT_EQ(slots.size(), 4u);  // no two buffers share a slot
  Buffer* extra = nullptr;
  EXPECT_EQ((*pool)->AllocateSlot(&extra), Status::kResources);
  // A descriptor comes back with its own slot, at full length again.
  uint8_t* first = buffers[0]->address();
  AdjustBufferLength(buffers[0], 10);
  ASSERT_EQ((*pool)->Free(buffers[0]), Status::kSuccess);
  ASSERT_EQ((*pool)->AllocateSlot(&buffers[0]), Status::kSuccess);
  EXPECT_EQ(buffers[0]->address(), first);
  EXPECT_EQ(buffers[0]->length(), 256u);
  for (auto* b : buffers) (*pool)->Free(b);
}

TEST(BufferPool, AllocateSlotWithoutBackingMemoryIsInvalid) {
  auto pool = MakePool(2);
  Buffer* b = nullptr;
  EXPECT_EQ(pool->AllocateSlot(&b), Status::kInvalidParameter);
  EXPECT_EQ(BufferPool::Create({.descriptors = 2, .slot_size = 64}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BufferPool, StatsCountAndReportKind) {
  auto pool = MakePool(10);
  uint8_t data[8];
  Buffer* b[4];
  for (auto& x : b) pool->Allocate(&x, data, 8);
  pool->Free(b[0]);
  PoolStats s = pool->Stats();
  EXPECT_EQ(s.kind, PoolKind::kBuffer);
  EXPECT_EQ(s.tag, "BFPL");
  EXPECT_EQ(s.allocations, 4u);
  EXPECT_EQ(s.frees, 1u);
  EXPECT_EQ(s.in_use, 3u);
  EXPECT_EQ(s.free, 7u);
  EXPECT_EQ(s.high_watermark, 4u);
  EXPECT_EQ(s.overflow_limit, 0u);
  for (int i = 1; i < 4; ++i) pool->Free(b[i]);
}

}  // namespace
}  // namespace pktpool::pool
