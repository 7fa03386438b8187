// BlockingCalls: threads for calls that may block for long (paced or waiting sends), so
// they never hold one of gRPC's few callback threads.
#ifndef PKTPOOL_DAEMON_RPC_BLOCKING_CALLS_H_
#define PKTPOOL_DAEMON_RPC_BLOCKING_CALLS_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <thread>

#include "daemon/pool/mutex.h"

namespace pktpool::rpc {

// Runs each call on a thread of its own, at most `max_running` at once. Thread-safe.
// Finished threads are joined by later Run calls; destruction waits for every running
// call to return, then joins them all (the caller makes sure they can: e.g. the bindings
// are closed, which fails the sends still waiting).
class BlockingCalls {
 public:
  explicit BlockingCalls(uint32_t max_running);
  ~BlockingCalls();
  BlockingCalls(const BlockingCalls&) = delete;
  BlockingCalls& operator=(const BlockingCalls&) = delete;

  // Starts `call` on a new thread; false (and `call` is not run) when max_running calls
  // are running already.
  bool Run(std::function<void()> call);
  // Calls running now.
  uint32_t running() const;

 private:
  void JoinFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint32_t max_running_;
  mutable Mutex mu_;
  std::condition_variable_any all_done_;
  uint32_t running_ ABSL_GUARDED_BY(mu_) = 0;
  std::list<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::list<std::thread::id> finished_ ABSL_GUARDED_BY(mu_);  // returned, not yet joined
};

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_BLOCKING_CALLS_H_
