// BlockingCalls: calls that may block run on other threads, bounded in number, on threads
// that are reused and end when idle.
#include "daemon/rpc/blocking_calls.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace pktpool::rpc {
namespace {

// A gate the calls wait on until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [this] { return open; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(BlockingCalls, RunsEachCallOnAnotherThread) {
  BlockingCalls calls(4);
  std::atomic<bool> done{false};
  std::thread::id ran_on;
  Gate gate;
  ASSERT_TRUE(calls.Run([&] {
    ran_on = std::this_thread::get_id();
    done = true;
    gate.Open();
  }));
  gate.Wait();
  EXPECT_TRUE(done.load());
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(BlockingCalls, RefusesBeyondItsLimitUntilACallReturns) {
  BlockingCalls calls(2);
  Gate gate;
  std::atomic<int> returned{0};
  ASSERT_TRUE(calls.Run([&] { gate.Wait(); ++returned; }));
  ASSERT_TRUE(calls.Run([&] { gate.Wait(); ++returned; }));
  EXPECT_EQ(calls.running(), 2u);
  bool third_ran = false;
  EXPECT_FALSE(calls.Run([&] { third_ran = true; }));  // refused: not run at all
  gate.Open();
  while (calls.running() > 0) std::this_thread::yield();  // bounded: both return now
  EXPECT_EQ(returned.load(), 2);
  EXPECT_FALSE(third_ran);
  Gate again;
  EXPECT_TRUE(calls.Run([&] { again.Open(); }));  // a place is free again
  again.Wait();
}

TEST(BlockingCalls, DestructionWaitsForRunningCalls) {
  std::atomic<bool> finished{false};
  Gate started;
  {
    BlockingCalls calls(1);
    ASSERT_TRUE(calls.Run([&] {
      started.Open();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      finished = true;
    }));
    started.Wait();
  }  // ~BlockingCalls
  EXPECT_TRUE(finished.load());
}

TEST(BlockingCalls, ManyShortCallsAreAllJoined) {
  std::atomic<int> ran{0};
  {
    BlockingCalls calls(8);
    for (int i = 0; i < 200; ++i) {
      while (!calls.Run([&] { ++ran; })) std::this_thread::yield();
    }
  }
  EXPECT_EQ(ran.load(), 200);
}

TEST(BlockingCalls, ReusesAThreadForCallsOneAfterAnother) {
  BlockingCalls calls(4, absl::Seconds(30));
  for (int i = 0; i < 50; ++i) {
    Gate done;
    ASSERT_TRUE(calls.Run([&] { done.Open(); }));
    done.Wait();
    while (calls.running() > 0) std::this_thread::yield();  // the thread waits again
  }
  EXPECT_EQ(calls.threads_started(), 1u);  // not one thread per call
  EXPECT_EQ(calls.threads(), 1u);
}

TEST(BlockingCalls, StartsThreadsForCallsAtOnceAndEndsThemWhenIdle) {
  BlockingCalls calls(4, absl::Milliseconds(50));
  Gate gate;
  std::atomic<int> waiting{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(calls.Run([&] { ++waiting; gate.Wait(); }));
  }
  while (waiting.load() < 3) std::this_thread::yield();  // all three run at once
  EXPECT_EQ(calls.threads_started(), 3u);
  gate.Open();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (calls.threads() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(calls.threads(), 0u);  // idle for 50 ms: ended
  Gate again;
  EXPECT_TRUE(calls.Run([&] { again.Open(); }));  // a new thread when none is left
  again.Wait();
  EXPECT_EQ(calls.threads_started(), 4u);
}

}  // namespace
}  // namespace pktpool::rpc
