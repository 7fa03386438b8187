// InterruptWatcher (client/pktpoolctl/interrupt.h): a SIGINT or SIGTERM sent to the
// process reaches the callback once; destroying a watcher that saw no signal wakes its
// thread without calling it an interrupt (the wake-up is a signal aimed at that thread).
#include "client/pktpoolctl/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "gtest/gtest.h"

namespace pktpool::ctl {
namespace {

TEST(InterruptWatcherTest, DestroyedWithoutASignalReportsNoInterrupt) {
  for (int i = 0; i < 50; ++i) {
    bool called = false;
    {
      InterruptWatcher watcher;
      watcher.OnInterrupt([&called] { called = true; });
      EXPECT_FALSE(watcher.interrupted());
    }
    ASSERT_FALSE(called) << "round " << i << ": the destructor's wake-up was taken for a signal";
  }
  // The signals are unblocked again: the mask is back to what it was.
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  EXPECT_FALSE(sigismember(&mask, SIGINT));
  EXPECT_FALSE(sigismember(&mask, SIGTERM));
}

TEST(InterruptWatcherTest, ASignalToTheProcessRunsTheCallbackOnce) {
  for (int signal : {SIGINT, SIGTERM}) {
    std::mutex mu;
    std::condition_variable done;
    int calls = 0;
    {
      InterruptWatcher watcher;
      watcher.OnInterrupt([&] {
        std::lock_guard<std::mutex> lock(mu);
        ++calls;
        done.notify_all();
      });
      // Process-directed, as `kill PID` or Ctrl-C sends it: only the watcher takes it.
      ASSERT_EQ(kill(getpid(), signal), 0);
      std::unique_lock<std::mutex> lock(mu);
      ASSERT_TRUE(done.wait_for(lock, std::chrono::seconds(10), [&] { return calls > 0; }))
          << "signal " << signal << " did not reach the callback within 10 s";
      EXPECT_TRUE(watcher.interrupted());
    }
    EXPECT_EQ(calls, 1) << "signal " << signal;
  }
}

TEST(InterruptWatcherTest, ACallbackSetAfterTheSignalRunsAtOnce) {
  InterruptWatcher watcher;
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  for (int i = 0; i < 10000 && !watcher.interrupted(); ++i) usleep(1000);
  ASSERT_TRUE(watcher.interrupted()) << "SIGTERM not seen within 10 s";
  bool called = false;
  watcher.OnInterrupt([&called] { called = true; });
  EXPECT_TRUE(called);
}

}  // namespace
}  // namespace pktpool::ctl
