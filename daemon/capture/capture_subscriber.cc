#include "daemon/capture/capture_subscriber.h"

#include <algorithm>
#include <chrono>

#include "absl/time/clock.h"

namespace pktpool::capture {

CaptureSubscriber::CaptureSubscriber(std::string name, uint32_t capacity)
    : name_(std::move(name)), capacity_(capacity == 0 ? 1 : capacity), last_pop_(absl::Now()) {}

bool CaptureSubscriber::Offer(const RxFrame& frame) {
  bool was_empty;
  {
    MutexLock lock(&mu_);
    if (closed_ || shedding_ || queue_.size() >= capacity_) {
      ++dropped_;
      return false;
    }
    was_empty = queue_.empty();
    queue_.push_back(frame);
    ++delivered_;
  }
  // The consumer only waits on an empty queue: waking it once per burst, not per frame,
  // keeps a futex call off the receive thread's per-frame path.
  if (was_empty) ready_.notify_one();
  return true;
}

size_t CaptureSubscriber::OfferBatch(std::span<const RxFrame> frames) {
  size_t queued = 0;
  bool was_empty;
  {
    MutexLock lock(&mu_);
    was_empty = queue_.empty();
    for (const RxFrame& frame : frames) {
      if (closed_ || shedding_ || queue_.size() >= capacity_) {
        ++dropped_;
        continue;
      }
      queue_.push_back(frame);
      ++queued;
    }
    delivered_ += queued;
  }
  if (was_empty && queued > 0) ready_.notify_one();
  return queued;
}

size_t CaptureSubscriber::PopBatch(std::vector<RxFrame>* out, size_t max,
                                   absl::Duration timeout) {
  std::unique_lock<Mutex> lock(mu_);
  last_pop_ = absl::Now();
  if (max > 0) shedding_ = false;  // the consumer reads again
  ready_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                  [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return closed_ || !queue_.empty(); });
  size_t taken = 0;
  while (taken < max && !queue_.empty()) {
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
    ++taken;
  }
  return taken;
}

size_t CaptureSubscriber::DropOldest(size_t max) {
  std::vector<RxFrame> released;  // destroyed after the lock: packets go back to the pool
  {
    MutexLock lock(&mu_);
    const size_t n = std::min(max, queue_.size());
    released.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      released.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    dropped_ += n;
    shedding_ = true;
  }
  return released.size();
}

size_t CaptureSubscriber::queued() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

absl::Time CaptureSubscriber::last_pop() const {
  MutexLock lock(&mu_);
  return last_pop_;
}

void CaptureSubscriber::Close() {
  std::deque<RxFrame> released;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    released.swap(queue_);
  }
  ready_.notify_all();
  // `released` goes out of scope here, outside the lock: frames return to their pool.
}

bool CaptureSubscriber::closed() const {
  MutexLock lock(&mu_);
  return closed_;
}

SubscriberStats CaptureSubscriber::Stats() const {
  MutexLock lock(&mu_);
  return {name_, delivered_, dropped_, static_cast<uint32_t>(queue_.size()), capacity_};
}

}  // namespace pktpool::capture
