// Memory with tag (NdisAllocateMemoryWithTag) and its per-tag accounting.
#include "daemon/pool/tagged_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "daemon/pool/limits.h"
#include "tests/support/sanitizer.h"

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

// Pages of [p, p + length) in this process: how many are resident, or -1 when some
// page is not mapped at all.
int ResidentPages(void* p, size_t length) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const size_t span = reinterpret_cast<uintptr_t>(p) + length - start;
  std::vector<unsigned char> residency((span + page - 1) / page);
  if (mincore(reinterpret_cast<void*>(start), span, residency.data()) != 0) {
    EXPECT_EQ(errno, ENOMEM);
    return -1;
  }
  int resident = 0;
  for (unsigned char r : residency) resident += r & 1;
  return resident;
}
bool Mapped(void* p, size_t length) { return ResidentPages(p, length) >= 0; }

// A large block is resident before anything touches it: pool memory is allocated up
// front (NDIS nonpaged memory), so the data path takes no page faults and RSS shows a
// pool at its full size from the start, not creeping up as slots are first used.
TEST(TaggedMemory, LargeBlockIsResidentFromTheStart) {
  TaggedMemory memory;
  const size_t length = 2 << 20;
  void* block = memory.Allocate(length, MemoryTag("POPU"), 64);
  ASSERT_NE(block, nullptr);
  const int pages = static_cast<int>(length / static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  EXPECT_EQ(ResidentPages(block, length), pages);
  EXPECT_EQ(memory.Free(block), Status::kSuccess);
}

// Under a PopulationGuard a large block is still resident when Allocate returns, made so
// a step at a time, the guard asked before each step.
TEST(PopulationGuard, APatientCallerGetsAResidentBlockAfterOneQuestionPerStep) {
  TaggedMemory memory;
  const size_t length = 2 * kPopulateChunkBytes + 4096;  // three steps
  int asked = 0;
  PopulationGuard guard([&] {
    ++asked;
    return false;
  });
  void* block = memory.Allocate(length, MemoryTag("POPG"), 64);
  ASSERT_NE(block, nullptr);
  const int pages = static_cast<int>((length + 4095) / static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  EXPECT_GE(ResidentPages(block, length), pages - 1);
  EXPECT_GE(asked, 3);
  EXPECT_EQ(memory.Free(block), Status::kSuccess);
}

// A caller that gives up mid-way gets null, and nothing stays allocated or counted.
TEST(PopulationGuard, ACallerThatGivesUpGetsNullAndNothingIsKept) {
  TaggedMemory memory;
  int asked = 0;
  {
    PopulationGuard guard([&] { return ++asked > 2; });  // gives up at the third question
    EXPECT_EQ(memory.Allocate(4 * kPopulateChunkBytes, MemoryTag("GAVE"), 64), nullptr);
    EXPECT_TRUE(PopulationGuard::Abandoned());
  }
  EXPECT_EQ(asked, 4);  // and Abandoned() above
  EXPECT_FALSE(PopulationGuard::Abandoned());  // the guard is gone
  const TagUsage usage = memory.Usage(MemoryTag("GAVE"));
  EXPECT_EQ(usage.bytes_outstanding, 0u);
  EXPECT_EQ(usage.allocations, 0u);
  // Without a guard the same size is allocated in one step.
  void* block = memory.Allocate(4 * kPopulateChunkBytes, MemoryTag("GAVE"), 64);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(memory.Free(block), Status::kSuccess);
}

// Guards nest: the innermost one is asked, and the outer one again once it is gone.
TEST(PopulationGuard, TheInnermostGuardIsAsked) {
  PopulationGuard outer([] { return true; });
  EXPECT_TRUE(PopulationGuard::Abandoned());
  {
    PopulationGuard inner([] { return false; });
    EXPECT_FALSE(PopulationGuard::Abandoned());
  }
  EXPECT_TRUE(PopulationGuard::Abandoned());
}

// A retuned pool's storage must leave the process when its generation drains, even after
// glibc has raised its dynamic mmap threshold (a large malloc block freed earlier makes
// later blocks up to that size come from the heap, which keeps them resident).
TEST(TaggedMemory, LargeBlockIsUnmappedWhenFreed) {
  void* raise_threshold = std::malloc(8 << 20);
  ASSERT_NE(raise_threshold, nullptr);
  std::memset(raise_threshold, 1, 8 << 20);
  std::free(raise_threshold);

  TaggedMemory memory;
  const size_t length = 1 << 20;
  auto* block = static_cast<uint8_t*>(memory.Allocate(length, MemoryTag("BIGB"), 64));
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(block[0], 0);  // mapped pages start zero-filled
  std::memset(block, 0xA5, length);
  EXPECT_TRUE(Mapped(block, length));
  EXPECT_EQ(memory.Usage(MemoryTag("BIGB")).bytes_outstanding, length);
  ASSERT_EQ(memory.Free(block), Status::kSuccess);
  EXPECT_FALSE(Mapped(block, length));
  EXPECT_EQ(memory.Usage(MemoryTag("BIGB")).bytes_outstanding, 0u);
}

// A large block ends right before an inaccessible page: writing one byte past its
// (alignment-rounded) end faults, in every build, instead of corrupting a neighbour.
// Not built under a sanitizer: it would report the intended fault, and the sanitizer
// stages fail on any report. CI's plain stage runs it.
#if !PKTPOOL_SANITIZER_BUILD
TEST(TaggedMemoryDeathTest, WritingPastALargeBlockFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TaggedMemory memory;
  const size_t length = kTaggedMemoryMapThreshold + 1000;  // not a whole number of pages
  auto* block = static_cast<volatile uint8_t*>(memory.Allocate(length, MemoryTag("GARD"), 64));
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % 64, 0u);
  const size_t rounded = (length + 63) / 64 * 64;
  block[0] = 1;
  block[rounded - 1] = 1;  // the last byte is writable
  EXPECT_DEATH(block[rounded] = 1, "");
  EXPECT_EQ(memory.Free(const_cast<uint8_t*>(block)), Status::kSuccess);
}
#endif  // !PKTPOOL_SANITIZER_BUILD

// Blocks below the threshold stay with malloc (overflow descriptors come and go often).
TEST(TaggedMemory, SmallBlockAndLargeAlignmentUseMalloc) {
  TaggedMemory memory;
  void* small = memory.Allocate(kTaggedMemoryMapThreshold - 64, MemoryTag("SMAL"), 64);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 64, 0u);
  void* aligned = memory.Allocate(kTaggedMemoryMapThreshold, MemoryTag("SMAL"), 1 << 16);
  ASSERT_NE(aligned, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % (1 << 16), 0u);
  EXPECT_EQ(memory.Free(small), Status::kSuccess);
  EXPECT_EQ(memory.Free(aligned), Status::kSuccess);
}

// The destructor releases what is still allocated, mapped or not.
TEST(TaggedMemory, DestructorUnmapsOutstandingLargeBlocks) {
  void* block = nullptr;
  {
    TaggedMemory memory;
    block = memory.Allocate(kTaggedMemoryMapThreshold * 4, MemoryTag("LEFT"));
    ASSERT_NE(block, nullptr);
    EXPECT_TRUE(Mapped(block, kTaggedMemoryMapThreshold * 4));
  }
  EXPECT_FALSE(Mapped(block, kTaggedMemoryMapThreshold * 4));
}

}  // namespace
}  // namespace pktpool::pool
