#include "daemon/rpc/blocking_calls.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

namespace pktpool::rpc {

BlockingCalls::BlockingCalls(uint32_t max_running, absl::Duration idle)
    : max_running_(max_running), idle_(idle) {}

BlockingCalls::~BlockingCalls() {
  std::list<std::thread> threads;
  {
    std::unique_lock<Mutex> lock(mu_);
    all_done_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return running_ == 0; });
    stop_ = true;
    wake_.notify_all();
    threads.swap(threads_);
    ended_.clear();
  }
  for (std::thread& thread : threads) thread.join();  // each is waiting, or has returned
}

bool BlockingCalls::Run(std::function<void()> call) {
  MutexLock lock(&mu_);
  JoinEnded();
  if (running_ >= max_running_ || stop_) return false;
  ++running_;
  if (free_ > 0) {  // a waiting thread takes it
    --free_;
    queued_.push_back(std::move(call));
    wake_.notify_one();
  } else {
    ++started_;
    threads_.emplace_back([this, call = std::move(call)]() mutable { Work(std::move(call)); });
  }
  return true;
}

uint32_t BlockingCalls::running() const {
  MutexLock lock(&mu_);
  return running_;
}

uint32_t BlockingCalls::threads() const {
  MutexLock lock(&mu_);
  return static_cast<uint32_t>(threads_.size() - ended_.size());
}

uint64_t BlockingCalls::threads_started() const {
  MutexLock lock(&mu_);
  return started_;
}

void BlockingCalls::Work(std::function<void()> call) {
  pthread_setname_np(pthread_self(), "blocking-calls");
  std::unique_lock<Mutex> lock(mu_);
  while (true) {
    lock.unlock();
    call();
    call = nullptr;  // what it holds goes now, not when the next call comes
    lock.lock();
    if (--running_ == 0) all_done_.notify_all();
    // Wait for the next call; end after idle_ without one (or at destruction).
    ++free_;
    const absl::Time give_up = absl::Now() + idle_;
    while (queued_.empty() && !stop_) {
      if (wake_.wait_until(lock, absl::ToChronoTime(give_up)) == std::cv_status::timeout &&
          queued_.empty()) {
        break;
      }
    }
    if (queued_.empty()) {  // idle too long, or stopping: no call is promised to this one
      --free_;
      ended_.push_back(std::this_thread::get_id());
      return;
    }
    call = std::move(queued_.front());
    queued_.pop_front();
  }
}

void BlockingCalls::JoinEnded() {
  // A thread in ended_ has only its return left (it released mu_ for good), so joining
  // it here is short.
  for (const std::thread::id id : ended_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [id](const std::thread& t) { return t.get_id() == id; });
    if (it != threads_.end()) {
      it->join();
      threads_.erase(it);
    }
  }
  ended_.clear();
}

}  // namespace pktpool::rpc
