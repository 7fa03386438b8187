#include "daemon/rpc/blocking_calls.h"

#include <algorithm>
#include <utility>

namespace pktpool::rpc {

BlockingCalls::BlockingCalls(uint32_t max_running) : max_running_(max_running) {}

BlockingCalls::~BlockingCalls() {
  std::unique_lock<Mutex> lock(mu_);
  all_done_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return running_ == 0; });
  for (std::thread& thread : threads_) thread.join();  // each has returned or is returning
  threads_.clear();
  finished_.clear();
}

bool BlockingCalls::Run(std::function<void()> call) {
  MutexLock lock(&mu_);
  JoinFinished();
  if (running_ >= max_running_) return false;
  ++running_;
  threads_.emplace_back([this, call = std::move(call)] {
    call();
    MutexLock done(&mu_);
    --running_;
    finished_.push_back(std::this_thread::get_id());
    if (running_ == 0) all_done_.notify_all();
  });
  return true;
}

uint32_t BlockingCalls::running() const {
  MutexLock lock(&mu_);
  return running_;
}

void BlockingCalls::JoinFinished() {
  // A thread in finished_ has only its return left (it holds no lock once it released
  // mu_), so joining it here is short.
  for (const std::thread::id id : finished_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [id](const std::thread& t) { return t.get_id() == id; });
    if (it != threads_.end()) {
      it->join();
      threads_.erase(it);
    }
  }
  finished_.clear();
}

}  // namespace pktpool::rpc
