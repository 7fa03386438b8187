// pktpoold's start-up settings: each changes what it says, and the environment's choice
// wins. Each check runs in a process of its own (death-test style "threadsafe"
// re-executes the test binary): arenas, malloc's thresholds and Abseil's deadlock graph
// are process-wide and cannot be undone.
#include "daemon/process_settings.h"

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "tests/support/sanitizer.h"

namespace pktpool {
namespace {

// The malloc tests exist only where malloc is glibc's: a sanitizer's runtime replaces it.
// CI's plain stage (scripts/test.sh) runs them.
#if !PKTPOOL_SANITIZER_BUILD

void ClearMallocEnvironment() {
  unsetenv("MALLOC_ARENA_MAX");
  unsetenv("MALLOC_MMAP_THRESHOLD_");
  unsetenv("GLIBC_TUNABLES");
}

// Keeps the compiler from eliding a malloc/free pair whose block nobody reads.
void* Escape(void* block) {
  asm volatile("" : : "r"(block) : "memory");
  return block;
}

// How many arenas malloc has, from malloc_info's <heap nr="..."> elements.
int MallocArenas() {
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  if (out == nullptr) return -1;
  const int status = malloc_info(0, out);
  std::fclose(out);
  const std::string xml(text, size);
  std::free(text);
  if (status != 0) return -1;
  int arenas = 0;
  for (size_t at = xml.find("<heap nr="); at != std::string::npos;
       at = xml.find("<heap nr=", at + 1)) {
    ++arenas;
  }
  return arenas;
}

// Runs kThreads threads that each allocate while all of them are alive (so none can take
// an arena another one left), then exits with the number of arenas malloc ended with.
constexpr int kThreads = 8;
[[noreturn]] void ExitWithArenasAfterConcurrentThreads() {
  std::mutex mu;
  std::condition_variable all_allocated;
  int allocated = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      void* block = Escape(std::malloc(4096));
      std::memset(block, 1, 4096);
      std::unique_lock<std::mutex> lock(mu);
      ++allocated;
      all_allocated.notify_all();
      all_allocated.wait(lock, [&] { return allocated == kThreads; });
      lock.unlock();
      std::free(block);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const int arenas = MallocArenas();
  std::fprintf(stderr, "arenas: %d\n", arenas);
  _exit(arenas < 0 ? 100 : arenas);
}

TEST(LimitMallocArenas, ThreadsShareTheLimitedArenas) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ClearMallocEnvironment();
        if (!LimitMallocArenas(2)) _exit(101);
        ExitWithArenasAfterConcurrentThreads();
      },
      testing::ExitedWithCode(2), "arenas: 2");
}

TEST(LimitMallocArenas, WithoutItConcurrentThreadsMakeMoreArenas) {
  // The control: the count above is the limit's doing, not glibc's default here.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ClearMallocEnvironment();
        ExitWithArenasAfterConcurrentThreads();
      },
      [](int status) { return WIFEXITED(status) && WEXITSTATUS(status) > 2; }, "arenas: ");
}

TEST(LimitMallocArenas, TheEnvironmentsChoiceWins) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ClearMallocEnvironment();
        setenv("MALLOC_ARENA_MAX", "4", 1);
        _exit(LimitMallocArenas(2) ? 1 : 0);
      },
      testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        ClearMallocEnvironment();
        setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=4", 1);
        _exit(LimitMallocArenas(2) ? 1 : 0);
      },
      testing::ExitedWithCode(0), "");
}

// Frees a 1 MiB block (mapped: over the default threshold), then allocates 512 KiB and
// exits 1 when that block is mapped too, 0 when it came from the heap. glibc's dynamic
// threshold rose to 1 MiB with the free, so only a fixed threshold keeps it mapped.
[[noreturn]] void ExitWithWhetherALaterLargeBlockIsMapped() {
  void* first = Escape(std::malloc(1 << 20));
  std::memset(first, 1, 1 << 20);
  std::free(first);
  const size_t mapped_before = mallinfo2().hblks;
  void* second = Escape(std::malloc(512 << 10));
  std::memset(second, 1, 512 << 10);
  const bool mapped = mallinfo2().hblks == mapped_before + 1;
  std::free(second);
  _exit(mapped ? 1 : 0);
}

TEST(FixMallocMmapThreshold, LargeBlocksStayMappedAfterALargerOneIsFreed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ClearMallocEnvironment();
        if (!FixMallocMmapThreshold(128 * 1024)) _exit(101);
        ExitWithWhetherALaterLargeBlockIsMapped();
      },
      testing::ExitedWithCode(1), "");
}

TEST(FixMallocMmapThreshold, WithoutItTheThresholdRisesAndTheBlockComesFromTheHeap) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ClearMallocEnvironment();
        ExitWithWhetherALaterLargeBlockIsMapped();
      },
      testing::ExitedWithCode(0), "");
}

TEST(FixMallocMmapThreshold, TheEnvironmentsChoiceWinsAndNonsenseIsRefused) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ClearMallocEnvironment();
        setenv("MALLOC_MMAP_THRESHOLD_", "65536", 1);
        _exit(FixMallocMmapThreshold(128 * 1024) ? 1 : 0);
      },
      testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        ClearMallocEnvironment();
        setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536", 1);
        _exit(FixMallocMmapThreshold(128 * 1024) ? 1 : 0);
      },
      testing::ExitedWithCode(0), "");
  EXPECT_FALSE(FixMallocMmapThreshold(0));
}

#endif  // !PKTPOOL_SANITIZER_BUILD

// Locks two absl::Mutex in one order, then in the other (a lock-order cycle, though no
// deadlock happens on one thread), and exits 0.
[[noreturn]] void InvertALockOrder() {
  absl::Mutex a, b;
  a.Lock();
  b.Lock();
  b.Unlock();
  a.Unlock();
  b.Lock();
  a.Lock();
  a.Unlock();
  b.Unlock();
  _exit(0);
}

TEST(StopMutexDeadlockDetection, AnInvertedLockOrderNoLongerAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        StopMutexDeadlockDetection();
        InvertALockOrder();
      },
      testing::ExitedWithCode(0), "");
}

TEST(StopMutexDeadlockDetection, WithoutItDebiansAbseilAbortsOnTheCycle) {
  // The control: Debian's libabsl (no NDEBUG) has detection on, in abort mode. If a
  // future Abseil package turns it off, this fails and the setting can go.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(InvertALockOrder(), testing::KilledBySignal(SIGABRT), "Potential Mutex deadlock");
}

}  // namespace
}  // namespace pktpool
