// InterruptWatcher: turns SIGINT and SIGTERM into a callback, so streaming commands stop
// cleanly (cancel the call, flush files, restore the terminal) instead of dying.
#ifndef PKTPOOL_CLIENT_PKTPOOLCTL_INTERRUPT_H_
#define PKTPOOL_CLIENT_PKTPOOLCTL_INTERRUPT_H_

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

namespace pktpool::ctl {

// Create it before any other thread (gRPC's) starts: it blocks SIGINT and SIGTERM in the
// creating thread, new threads inherit that, and its own thread waits for them.
// Destruction stops the thread at once and restores the signal mask.
class InterruptWatcher {
 public:
  InterruptWatcher();
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  // Runs `callback` on the watcher's thread at the first signal (at once if one came
  // already). Thread-safe; replaces an earlier callback.
  void OnInterrupt(std::function<void()> callback);
  // True once a signal came. Thread-safe.
  bool interrupted() const { return interrupted_.load(); }

 private:
  void Run();
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::function<void()> callback_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_INTERRUPT_H_
