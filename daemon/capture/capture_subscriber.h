// CaptureSubscriber: one consumer of a binding's received frames, with a bounded queue
// and the counts of every frame it did not get.
#ifndef PKTPOOL_DAEMON_CAPTURE_CAPTURE_SUBSCRIBER_H_
#define PKTPOOL_DAEMON_CAPTURE_CAPTURE_SUBSCRIBER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "daemon/capture/rx_frame.h"
#include "daemon/pool/mutex.h"

namespace pktpool::capture {

struct SubscriberStats {
  std::string name;
  uint64_t delivered = 0;  // frames queued for this subscriber
  uint64_t dropped = 0;    // queue_full + stalled (SubscriberLoss)
  uint32_t queued = 0;
  uint32_t capacity = 0;
};

// A binding's loss counters at one moment (receive thread): the frames every subscriber
// lost alike.
struct RxLossCounters {
  uint64_t pool_empty = 0;  // Binding rx_resource_drops: no free receive packet or buffer
  uint64_t kernel = 0;      // libpcap ps_drop: the kernel ring was full
  uint64_t interface = 0;   // libpcap ps_ifdrop
};

// What one subscriber did not get since the receive thread adopted it, by reason.
struct SubscriberLoss {
  uint64_t offered = 0;     // frames the binding received into its pool and offered to it
  uint64_t queue_full = 0;  // refused: its queue was full
  uint64_t stalled = 0;     // refused or taken while it stalled (DropOldest)
  RxLossCounters binding;   // the binding's drops while it was open (final once stopped)
  bool stopped = false;     // Stop ran: the counts are final
};

// Thread-safe. The receive thread offers frames and never waits: a full queue loses the
// frame for this subscriber only (counted). The consumer pops, with a timeout.
class CaptureSubscriber {
 public:
  // `wakeup`, when set, is called (on the receive thread, without locks held) when the
  // queue goes from empty to not empty and when Stop runs; it must be quick.
  CaptureSubscriber(std::string name, uint32_t capacity, std::function<void()> wakeup = {});
  CaptureSubscriber(const CaptureSubscriber&) = delete;
  CaptureSubscriber& operator=(const CaptureSubscriber&) = delete;

  // Receive thread: queues a reference; false (counted as a drop) when full or closed.
  bool Offer(const RxFrame& frame);
  // Receive thread: Offer for a batch under one lock; returns how many were queued.
  size_t OfferBatch(std::span<const RxFrame> frames);

  // Moves up to `max` queued frames into `out`, waiting up to `timeout` for the first.
  // Returns how many; 0 on timeout, or when closed and empty (see closed()).
  size_t PopBatch(std::vector<RxFrame>* out, size_t max, absl::Duration timeout);

  // Drops up to `max` of the oldest queued frames (counted as stalled), releasing their
  // packets, and drops every frame offered from then on until the consumer pops again;
  // returns how many were dropped now. For the receive thread when this queue starves
  // the other subscribers.
  size_t DropOldest(size_t max);
  // Frames queued now.
  size_t queued() const;
  // When the consumer last called PopBatch (the subscription time before the first call).
  absl::Time last_pop() const;

  // Receive thread: the moment it starts offering frames; `now` is the binding's drops
  // then, the baseline of SubscriberLoss::binding.
  void Adopt(const RxLossCounters& now);
  // Waits until Adopt ran (true) or `timeout` passed (false).
  bool WaitAdopted(absl::Duration timeout);
  // Any thread: asks the receive thread to Stop this subscriber (StopCapture).
  void RequestStop() { stop_requested_.store(true, std::memory_order_release); }
  bool stop_requested() const { return stop_requested_.load(std::memory_order_acquire); }
  // Receive thread: no frame is offered from now on (none counted either); `now` is the
  // binding's drops at this moment, which makes the loss final. Queued frames stay.
  void Stop(const RxLossCounters& now);
  // Stop has run: no frame is offered any more and the loss is final.
  bool stopped() const;
  // Adopted and neither stopped nor closed: it still takes frames.
  bool accepting() const;
  // The counts so far; `binding_now` is the binding's current drops (ignored once
  // stopped).
  SubscriberLoss Loss(const RxLossCounters& binding_now) const;

  // Stops delivery, releases every queued frame and wakes a waiting consumer. Idempotent.
  void Close();
  bool closed() const;
  SubscriberStats Stats() const;

 private:
  // Under mu_: whether an offered frame can be queued; counts it when not.
  bool AcceptLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls wakeup_ unless closed: after Close returns it never runs again, so its target
  // may go away.
  void Wake();

  const std::string name_;
  const uint32_t capacity_;
  const std::function<void()> wakeup_;
  std::atomic<bool> stop_requested_{false};
  Mutex wake_mu_;  // held while wakeup_ runs and by Close
  bool wake_closed_ ABSL_GUARDED_BY(wake_mu_) = false;
  mutable Mutex mu_;
  std::condition_variable_any ready_;
  std::deque<RxFrame> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool adopted_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool shedding_ ABSL_GUARDED_BY(mu_) = false;  // from DropOldest to the next PopBatch
  absl::Time last_pop_ ABSL_GUARDED_BY(mu_);
  uint64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t queue_full_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t stalled_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t stalled_refused_ ABSL_GUARDED_BY(mu_) = 0;  // the part of stalled_ never queued
  RxLossCounters baseline_ ABSL_GUARDED_BY(mu_);
  RxLossCounters final_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_CAPTURE_SUBSCRIBER_H_
