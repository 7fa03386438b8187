// HeapTrimmer: free pages inside malloc's arenas go back to the system.
#include "daemon/heap_trimmer.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "tests/support/sanitizer.h"

namespace pktpool {
namespace {

// The trim tests exist only where malloc is glibc's: a sanitizer's runtime replaces it
// (nothing to trim). CI's plain stage (scripts/test.sh) runs them.
#if !PKTPOOL_SANITIZER_BUILD

// RssAnon of this process in kB.
uint64_t RssAnonKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::strtoull(line.c_str() + 8, nullptr, 10);
  }
  ADD_FAILURE() << "no RssAnon in /proc/self/status";
  return 0;
}

constexpr size_t kBlocks = 24 * 1024;  // 24 MiB of 1 KiB blocks
constexpr size_t kBlockBytes = 1024;

// On a thread of its own (so in a thread arena, as gRPC's threads are): allocates and
// touches kBlocks blocks, then frees all but the last one. The last block keeps the freed
// memory below the arena's top, where free() never returns it: it stays resident.
// Returns the block still held, to free after the check.
void* FragmentAnArena() {
  void* kept = nullptr;
  std::thread([&kept] {
    std::vector<void*> blocks(kBlocks);
    for (void*& block : blocks) {
      block = std::malloc(kBlockBytes);
      std::memset(block, 0x5A, kBlockBytes);
    }
    kept = blocks.back();
    blocks.pop_back();
    for (void* block : blocks) std::free(block);
  }).join();
  return kept;
}

TEST(HeapTrimmer, TrimNowReturnsFreePagesOfAThreadArena) {
  HeapTrimmer::TrimNow();
  void* kept = FragmentAnArena();
  const uint64_t before = RssAnonKb();
  EXPECT_TRUE(HeapTrimmer::TrimNow());
  const uint64_t after = RssAnonKb();
  // At least half of the 24 MiB freed must have left (the rest is slack for whatever
  // else the process touched meanwhile).
  EXPECT_LT(after + kBlocks * kBlockBytes / 1024 / 2, before)
      << "RssAnon " << before << " kB before the trim, " << after << " kB after";
  std::free(kept);
}

TEST(HeapTrimmer, ItsThreadTrimsEveryInterval) {
  HeapTrimmer::TrimNow();
  void* kept = FragmentAnArena();
  const uint64_t before = RssAnonKb();
  {
    HeapTrimmer trimmer(absl::Milliseconds(20));
    // Bounded wait for two trims (no timing assertion: only that they happen).
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (trimmer.trims() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    EXPECT_GE(trimmer.trims(), 2u);
  }
  EXPECT_LT(RssAnonKb() + kBlocks * kBlockBytes / 1024 / 2, before);
  std::free(kept);
}

#endif  // !PKTPOOL_SANITIZER_BUILD

TEST(HeapTrimmer, ZeroIntervalStartsNoThreadAndStopsAtOnce) {
  HeapTrimmer trimmer(absl::ZeroDuration());
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(trimmer.trims(), 0u);
}

TEST(HeapTrimmer, DestructionInterruptsALongInterval) {
  // The destructor wakes the thread instead of waiting out the hour; a hang here would
  // time the test out (ctest's timeout), so this can fail.
  HeapTrimmer trimmer(absl::Hours(1));
  EXPECT_EQ(trimmer.trims(), 0u);
}

}  // namespace
}  // namespace pktpool
