// CaptureSubscriber: one consumer of a binding's received frames, with a bounded queue.
#ifndef PKTPOOL_DAEMON_CAPTURE_CAPTURE_SUBSCRIBER_H_
#define PKTPOOL_DAEMON_CAPTURE_CAPTURE_SUBSCRIBER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
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
  uint64_t dropped = 0;    // frames lost because its queue was full
  uint32_t queued = 0;
  uint32_t capacity = 0;
};

// Thread-safe. The receive thread offers frames and never waits: a full queue loses the
// frame for this subscriber only (counted). The consumer pops, with a timeout.
class CaptureSubscriber {
 public:
  CaptureSubscriber(std::string name, uint32_t capacity);
  CaptureSubscriber(const CaptureSubscriber&) = delete;
  CaptureSubscriber& operator=(const CaptureSubscriber&) = delete;

  // Receive thread: queues a reference; false (counted as a drop) when full or closed.
  bool Offer(const RxFrame& frame);
  // Receive thread: Offer for a batch under one lock; returns how many were queued.
  size_t OfferBatch(std::span<const RxFrame> frames);

  // Moves up to `max` queued frames into `out`, waiting up to `timeout` for the first.
  // Returns how many; 0 on timeout, or when closed and empty (see closed()).
  size_t PopBatch(std::vector<RxFrame>* out, size_t max, absl::Duration timeout);

  // Drops up to `max` of the oldest queued frames (counted as dropped), releasing their
  // packets, and drops every frame offered from then on until the consumer pops again;
  // returns how many were dropped now. For the receive thread when this queue starves
  // the other subscribers.
  size_t DropOldest(size_t max);
  // Frames queued now.
  size_t queued() const;
  // When the consumer last called PopBatch (the subscription time before the first call).
  absl::Time last_pop() const;

  // Stops delivery, releases every queued frame and wakes a waiting consumer. Idempotent.
  void Close();
  bool closed() const;
  SubscriberStats Stats() const;

 private:
  const std::string name_;
  const uint32_t capacity_;
  mutable Mutex mu_;
  std::condition_variable_any ready_;
  std::deque<RxFrame> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool shedding_ ABSL_GUARDED_BY(mu_) = false;  // from DropOldest to the next PopBatch
  absl::Time last_pop_ ABSL_GUARDED_BY(mu_);
  uint64_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_CAPTURE_SUBSCRIBER_H_
