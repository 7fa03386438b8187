// Memory with tag (NdisAllocateMemoryWithTag) and its per-tag accounting.
#include "daemon/pool/tagged_memory.h"

#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>

namespace pktpool::pool {
namespace {

TEST(MemoryTag, ParsesExactlyFourPrintableCharacters) {
  auto tag = MemoryTag::Parse("RXPK");
  ASSERT_TRUE(tag.has_value());
  EXPECT_EQ(tag->ToString(), "RXPK");
  EXPECT_EQ(*tag, MemoryTag("RXPK"));
  EXPECT_FALSE(MemoryTag::Parse("RXP").has_value());
  EXPECT_FALSE(MemoryTag::Parse("RXPKX").has_value());
  EXPECT_FALSE(MemoryTag::Parse("RX K").has_value());
}

TEST(TaggedMemory, CountsBytesBlocksAndAllocationsPerTag) {
  TaggedMemory memory;
  void* a = memory.Allocate(100, MemoryTag("RXBF"));
  void* b = memory.Allocate(50, MemoryTag("RXBF"));
  void* c = memory.Allocate(7, MemoryTag("TXBF"));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  TagUsage rx = memory.Usage(MemoryTag("RXBF"));
  EXPECT_EQ(rx.bytes_outstanding, 150u);
  EXPECT_EQ(rx.blocks_outstanding, 2u);
  EXPECT_EQ(rx.allocations, 2u);
  EXPECT_EQ(memory.Usage(MemoryTag("TXBF")).bytes_outstanding, 7u);
  EXPECT_EQ(memory.Free(a), Status::kSuccess);
  rx = memory.Usage(MemoryTag("RXBF"));
  EXPECT_EQ(rx.bytes_outstanding, 50u);
  EXPECT_EQ(rx.blocks_outstanding, 1u);
  EXPECT_EQ(rx.frees, 1u);
  EXPECT_EQ(rx.allocations, 2u);
  memory.Free(b);
  memory.Free(c);
}

TEST(TaggedMemory, PeakIsTheHighestOutstanding) {
  TaggedMemory memory;
  void* a = memory.Allocate(1000, MemoryTag("PEAK"));
  void* b = memory.Allocate(500, MemoryTag("PEAK"));
  memory.Free(a);
  void* c = memory.Allocate(10, MemoryTag("PEAK"));
  TagUsage usage = memory.Usage(MemoryTag("PEAK"));
  EXPECT_EQ(usage.peak_bytes, 1500u);
  EXPECT_EQ(usage.bytes_outstanding, 510u);
  memory.Free(b);
  memory.Free(c);
}

TEST(TaggedMemory, BlocksAreAlignedAndUsable) {
  TaggedMemory memory;
  for (size_t alignment : {16u, 64u, 4096u}) {
    auto* p = static_cast<uint8_t*>(memory.Allocate(33, MemoryTag("ALGN"), alignment));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignment, 0u);
    std::memset(p, 0x5A, 33);
    memory.Free(p);
  }
}

TEST(TaggedMemory, ZeroLengthOrBadAlignmentGivesNull) {
  TaggedMemory memory;
  EXPECT_EQ(memory.Allocate(0, MemoryTag("ZERO")), nullptr);
  EXPECT_EQ(memory.Allocate(8, MemoryTag("ZERO"), 24), nullptr);
  EXPECT_EQ(memory.Allocate(8, MemoryTag("ZERO"), 8), nullptr);
  EXPECT_EQ(memory.Usage(MemoryTag("ZERO")).allocations, 0u);
}

TEST(TaggedMemory, DoubleOrForeignFreeIsRejected) {
  TaggedMemory memory;
  void* a = memory.Allocate(64, MemoryTag("DBLF"));
  ASSERT_EQ(memory.Free(a), Status::kSuccess);
  EXPECT_EQ(memory.Free(a), Status::kInvalidParameter);
  int local = 0;
  EXPECT_EQ(memory.Free(&local), Status::kInvalidParameter);
  EXPECT_EQ(memory.Usage(MemoryTag("DBLF")).frees, 1u);
  EXPECT_EQ(memory.Usage(MemoryTag("DBLF")).bytes_outstanding, 0u);
}

TEST(TaggedMemory, AllUsageListsEveryTagSorted) {
  TaggedMemory memory;
  void* a = memory.Allocate(8, MemoryTag("TXBF"));
  void* b = memory.Allocate(8, MemoryTag("RXBF"));
  auto all = memory.AllUsage();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].tag.ToString(), "RXBF");
  EXPECT_EQ(all[1].tag.ToString(), "TXBF");
  memory.Free(a);
  memory.Free(b);
  EXPECT_EQ(memory.AllUsage().size(), 2u);  // freed tags stay listed, at zero
}

}  // namespace
}  // namespace pktpool::pool
