#include "daemon/capture/capture_subscriber.h"

#include <algorithm>
#include <chrono>

#include "absl/time/clock.h"

namespace pktpool::capture {

CaptureSubscriber::CaptureSubscriber(std::string name, uint32_t capacity,
                                     std::function<void()> wakeup)
    : name_(std::move(name)),
      capacity_(capacity == 0 ? 1 : capacity),
      wakeup_(std::move(wakeup)),
      last_pop_(absl::Now()) {}

bool CaptureSubscriber::AcceptLocked() {
  if (closed_ || stopped_) return false;  // gone or stopped: nothing more is counted
  if (shedding_) {
    ++stalled_;
    ++stalled_refused_;
    return false;
  }
  if (queue_.size() >= capacity_) {
    ++queue_full_;
    return false;
  }
  return true;
}

bool CaptureSubscriber::Offer(const RxFrame& frame) {
  bool was_empty;
  {
    MutexLock lock(&mu_);
    if (!AcceptLocked()) return false;
    was_empty = queue_.empty();
    queue_.push_back(frame);
    ++delivered_;
  }
  // The consumer only waits on an empty queue: waking it once per burst, not per frame,
  // keeps a futex call off the receive thread's per-frame path.
  if (was_empty) {
    ready_.notify_one();
    Wake();
  }
  return true;
}

size_t CaptureSubscriber::OfferBatch(std::span<const RxFrame> frames) {
  size_t queued = 0;
  bool was_empty;
  {
    MutexLock lock(&mu_);
    was_empty = queue_.empty();
    for (const RxFrame& frame : frames) {
      if (!AcceptLocked()) continue;
      queue_.push_back(frame);
      ++queued;
    }
    delivered_ += queued;
  }
  if (was_empty && queued > 0) {
    ready_.notify_one();
    Wake();
  }
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
    stalled_ += n;
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

void CaptureSubscriber::Adopt(const RxLossCounters& now) {
  {
    MutexLock lock(&mu_);
    if (adopted_) return;
    adopted_ = true;
    baseline_ = now;
  }
  ready_.notify_all();
}

bool CaptureSubscriber::WaitAdopted(absl::Duration timeout) {
  std::unique_lock<Mutex> lock(mu_);
  return ready_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                         [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return adopted_ || closed_; });
}

void CaptureSubscriber::Stop(const RxLossCounters& now) {
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    final_ = adopted_ ? now : baseline_;
  }
  ready_.notify_all();
  Wake();
}

bool CaptureSubscriber::stopped() const {
  MutexLock lock(&mu_);
  return stopped_;
}

bool CaptureSubscriber::accepting() const {
  MutexLock lock(&mu_);
  return adopted_ && !stopped_ && !closed_;
}

SubscriberLoss CaptureSubscriber::Loss(const RxLossCounters& binding_now) const {
  MutexLock lock(&mu_);
  SubscriberLoss loss;
  loss.offered = delivered_ + queue_full_ + stalled_refused_;
  loss.queue_full = queue_full_;
  loss.stalled = stalled_;
  loss.stopped = stopped_;
  if (adopted_) {
    const RxLossCounters& end = stopped_ ? final_ : binding_now;
    // The binding's counters only grow, but a fresher baseline than `binding_now` is
    // possible (published by the receive thread after the caller read them).
    auto delta = [](uint64_t to, uint64_t from) { return to > from ? to - from : 0; };
    loss.binding = {delta(end.pool_empty, baseline_.pool_empty),
                    delta(end.kernel, baseline_.kernel),
                    delta(end.interface, baseline_.interface)};
  }
  return loss;
}

void CaptureSubscriber::Wake() {
  if (!wakeup_) return;
  MutexLock lock(&wake_mu_);
  if (!wake_closed_) wakeup_();
}

void CaptureSubscriber::Close() {
  {
    MutexLock lock(&wake_mu_);
    wake_closed_ = true;
  }
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
  return {name_, delivered_, queue_full_ + stalled_, static_cast<uint32_t>(queue_.size()),
          capacity_};
}

}  // namespace pktpool::capture
