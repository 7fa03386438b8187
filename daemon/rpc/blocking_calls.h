// BlockingCalls: threads for calls that may block for long (paced or waiting sends), so
// they never hold one of gRPC's few callback threads.
#ifndef PKTPOOL_DAEMON_RPC_BLOCKING_CALLS_H_
#define PKTPOOL_DAEMON_RPC_BLOCKING_CALLS_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <thread>

#include "absl/time/time.h"
#include "daemon/pool/mutex.h"

namespace pktpool::rpc {

// How long a BlockingCalls thread with nothing to run waits for a call before it ends:
// under a steady load no thread ends, and a burst's extra threads (and the memory each
// keeps in glibc's per-thread cache) are gone a few seconds after it.
inline constexpr absl::Duration kBlockingThreadIdle = absl::Seconds(5);

// Runs each call on a thread other than the caller's, at most `max_running` at once, on
// threads that are kept and reused: a thread that returns from a call waits for the next
// one, and ends after `idle` without one. (One new thread per call, as before, meant
// about 45 thread starts a second under the soak's load, 160,000 an hour, each with its
// stack, its malloc cache and gRPC's per-thread state to set up and take down; the slow
// RSS growth the soak measured is not from them but from the caches of the long-lived
// threads: tests/soak/README.md, invariant 3.) Thread-safe. Destruction waits for every
// running call to return, then ends and joins the threads (the caller makes sure the
// calls can return: e.g. the bindings are closed, which fails the sends still waiting).
class BlockingCalls {
 public:
  explicit BlockingCalls(uint32_t max_running, absl::Duration idle = kBlockingThreadIdle);
  ~BlockingCalls();
  BlockingCalls(const BlockingCalls&) = delete;
  BlockingCalls& operator=(const BlockingCalls&) = delete;

  // Runs `call` on a waiting thread, or a new one when none waits; false (and `call` is
  // not run) when max_running calls are running already.
  bool Run(std::function<void()> call);
  // Calls running now (taken by Run and not yet returned).
  uint32_t running() const;
  // Threads alive now (running a call or waiting for one), and started so far.
  uint32_t threads() const;
  uint64_t threads_started() const;

 private:
  void Work(std::function<void()> call);
  void JoinEnded() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint32_t max_running_;
  const absl::Duration idle_;
  mutable Mutex mu_;
  std::condition_variable_any wake_;      // a call queued for a waiting thread, or stop_
  std::condition_variable_any all_done_;  // running_ went to 0
  uint32_t running_ ABSL_GUARDED_BY(mu_) = 0;
  // Waiting threads no queued call is promised to (Run takes one by queueing a call).
  uint32_t free_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t started_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::function<void()>> queued_ ABSL_GUARDED_BY(mu_);
  std::list<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::list<std::thread::id> ended_ ABSL_GUARDED_BY(mu_);  // returned, not yet joined
};

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_BLOCKING_CALLS_H_
