#include "daemon/capture/tx_path.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace pktpool::capture {
namespace {

// Frames per sendmmsg, per hand-off to the transmit thread and per completion: 64, as a
// bare sendmmsg loop sends fastest here (bench/README.md, "Profile of the send path").
constexpr size_t kTxBatch = 64;
// Frames a timed send builds ahead of the wire at most (its transmit packets in use), and
// never more than half of the pools (see SendSession::Send).
constexpr size_t kTimedLookAhead = 512;
// Frames due within this after the one being sent leave in the same sendmmsg: about the
// cost of one send call, which they would otherwise wait for anyway.
constexpr int64_t kCoalesceNs = 2'000;
// A timeline's first frame is due this long after it is built, so the transmit thread is
// usually awake when it is due (if not, the timeline starts when it leaves: Pacer).
constexpr int64_t kTimelineLeadNs = 200'000;
// The transmit thread sleeps until this margin before a due time and spins the rest. The
// margin follows the wake-ups it sees (a sleep overshoots by tens to hundreds of us on a
// virtual machine, even with the timer slack at its minimum), up to a cap: a sleep that
// overshoots more means a loaded machine, where spinning longer would only take CPU from
// the receive threads and the clients, and feed the overshoot. Frames then leave late,
// and are counted late. (Yielding while spinning was tried: in bench/send_timing.sh it
// raised the p99 gap error at 1,000 frames/s from about 20 us to 54 us.)
constexpr int64_t kMinWakeMarginNs = 50'000;
constexpr int64_t kInitialWakeMarginNs = 200'000;
constexpr int64_t kMaxWakeMarginNs = 300'000;
// An idle transmit thread spins (yielding) this long before it sleeps: a sender's next
// frames usually follow within microseconds.
constexpr absl::Duration kQueueSpin = absl::Microseconds(200);
// How often a waiting sender looks at its cancel callback.
constexpr auto kCancelPoll = std::chrono::milliseconds(10);

int64_t MonotonicNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The transmit thread's wake-up margin: up at once to one and a half times the oversleep
// it saw, back down slowly (1/1024 of the excess per sleep) while sleeps are punctual, so
// it follows the worst wake-ups of the last second or so, not the typical one.
class WakeMargin {
 public:
  int64_t get() const { return margin_; }
  void Observe(int64_t oversleep_ns) {
    margin_ -= (margin_ - kMinWakeMarginNs) / 1024;
    margin_ = std::clamp(std::max(margin_, oversleep_ns + oversleep_ns / 2), kMinWakeMarginNs,
                         kMaxWakeMarginNs);
  }

 private:
  int64_t margin_ = kInitialWakeMarginNs;
};

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<int64_t>::max() : sum;
}

}  // namespace

std::string_view SendErrorName(SendError error) {
  switch (error) {
    case SendError::kNone: return "sent";
    case SendError::kResources: return "resources";
    case SendError::kEmptyFrame: return "empty_frame";
    case SendError::kFrameTooLarge: return "frame_too_large";
    case SendError::kBindingDown: return "binding_down";
    case SendError::kInjectFailed: return "inject_failed";
    case SendError::kClosed: return "closed";
    case SendError::kCancelled: return "cancelled";
  }
  return "unknown";
}

SendPacing SendOptions::Pacing(bool recorded) const {
  return {.frames_per_second = frames_per_second,
          .megabits_per_second = megabits_per_second,
          .recorded = recorded,
          .multiplier = multiplier,
          .max_burst = max_burst};
}

double SendReport::frames_per_second() const {
  const double span = absl::ToDoubleSeconds(last_sent - first_sent);
  if (frames_sent < 2 || span <= 0) return 0;
  return static_cast<double>(frames_sent - 1) / span;
}

double SendReport::bits_per_second() const {
  const double span = absl::ToDoubleSeconds(last_sent - first_sent);
  if (frames_sent < 2 || span <= 0) return 0;
  return static_cast<double>(bytes_sent - last_frame_bytes) * 8 / span;
}

// ---- SendSession ---------------------------------------------------------------------

SendSession::SendSession(TxPath* tx, const SendOptions& options)
    : tx_(tx),
      limit_(options.limit),
      duration_(options.duration),
      cancelled_check_(options.cancelled),
      wall_minus_monotonic_(absl::Now() - absl::UnixEpoch() - absl::Nanoseconds(MonotonicNs())) {}

SendSession::~SendSession() {
  if (!finished_) {
    Cancel();
    Finish();
  }
}

void SendSession::Cancel() {
  cancelled_.store(true, std::memory_order_release);
  over_.store(true, std::memory_order_release);
  tx_->Wake();
}

void SendSession::PollCancelled() {
  if (cancelled_check_ && !cancelled_.load(std::memory_order_acquire) && cancelled_check_()) {
    Cancel();
  }
}

void SendSession::WaitInFlightBelow(uint32_t limit) {
  std::unique_lock<Mutex> lock(mu_);
  while (in_flight_ >= limit) {
    wake_below_ = limit;  // the completion that goes below it notifies, and clears it
    changed_.wait_for(lock, kCancelPoll);
    wake_below_ = 0;
    if (in_flight_ >= limit && cancelled_check_) {
      lock.unlock();
      PollCancelled();
      lock.lock();
    }
  }
}

void SendSession::Fold(std::list<Batch>::iterator batch) {
  for (const FrameResult& result : *batch->results) {
    if (result.error != SendError::kNone) ++report_.frames_failed;
  }
  batches_.erase(batch);
}

void SendSession::Send(std::span<const std::span<const uint8_t>> frames,
                       std::span<const int64_t> offsets_ns, const SendOptions& options,
                       std::vector<FrameResult>* results) {
  std::list<Batch>::iterator batch;
  std::vector<FrameResult>* out = nullptr;
  {
    MutexLock lock(&mu_);
    batch = batches_.emplace(batches_.end());
    batch->results = results != nullptr ? results : &batch->own;
    batch->results->assign(frames.size(), FrameResult{});
    out = batch->results;
  }
  auto fail = [&](uint32_t index, SendError error) {
    tx_->failures_[static_cast<int>(error)].fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(&mu_);
    if ((*out)[index].error == SendError::kNone) (*out)[index].error = error;
  };
  auto skip = [&](uint32_t index) {
    MutexLock lock(&mu_);
    ++(*out)[index].skipped;
    ++report_.frames_skipped;
    report_.limit_reached = true;
  };
  auto finish_batch = [&] {
    MutexLock lock(&mu_);
    batch->adding = false;
    if (batch->pending == 0) Fold(batch);
  };
  if (!tx_->EnterSender()) {
    for (uint32_t i = 0; i < frames.size(); ++i) fail(i, SendError::kClosed);
    finish_batch();
    return;
  }
  PollCancelled();
  const SendPacing pacing = options.Pacing(!offsets_ns.empty());
  const bool timed = pacing.timed();
  if (timed != timeline_.has_value() || (timed && !(pacing == pacing_))) {
    // A new timeline: what was sent before goes first, so frames keep their order.
    WaitInFlightBelow(1);
    timeline_.reset();
    if (timed) {
      timeline_.emplace(pacing);
      pacing_ = pacing;
      ++timeline_id_;
      t0_ = 0;
    }
  }
  // This call's transmit generation: a TunePool meanwhile does not change it under us.
  const std::shared_ptr<const TxPath::Pools> pools = tx_->pools();
  const uint32_t buffer_size = pools->buffers->buffer_size();
  const size_t max_frame = std::min<size_t>(
      kMaxFrameBytes, static_cast<size_t>(buffer_size) * pools->buffers->buffer_count());
  // A timed send builds at most `look_ahead` frames ahead of the wire: kTimedLookAhead,
  // and no more than half of the transmit packets or of the buffers its largest frame
  // needs, so one timed send never runs the pools dry by itself.
  size_t look_ahead = kTimedLookAhead;
  if (timed) {
    size_t largest = 1;
    for (const auto& frame : frames) largest = std::max(largest, frame.size());
    const size_t buffers_per_frame = (largest + buffer_size - 1) / buffer_size;
    const size_t packets = size_t{pools->packets->descriptors()} + pools->packets->overflow_limit();
    look_ahead = std::max<size_t>(
        1, std::min({look_ahead, packets / 2,
                     pools->buffers->buffer_count() / 2 / std::max<size_t>(buffers_per_frame, 1)}));
  }
  const int64_t period = RepeatPeriod(offsets_ns);
  const int64_t duration_ns = duration_ == absl::InfiniteDuration()
                                  ? std::numeric_limits<int64_t>::max()
                                  : absl::ToInt64Nanoseconds(duration_);
  const absl::Time deadline = absl::Now() + options.wait_for_resources;
  const uint32_t repeat = std::max<uint32_t>(options.repeat, 1);

  std::vector<TxPath::Item> pending;  // built, not yet injected or handed over
  pending.reserve(kTxBatch);
  // Timed: frames that may still be built before the look-ahead is full (checked again
  // only when it runs out, so the lock is not taken per frame).
  auto Room = [&]() -> size_t {
    MutexLock lock(&mu_);
    const size_t used = in_flight_ + pending.size();
    return used >= look_ahead ? 0 : look_ahead - used;
  };
  size_t room = timed ? Room() : 0;
  int64_t first_sent = 0;  // untimed with a duration: when the session's first frame left
  auto flush = [&] {
    if (pending.empty()) return;
    {
      MutexLock lock(&mu_);
      in_flight_ += static_cast<uint32_t>(pending.size());
      batch->pending += static_cast<uint32_t>(pending.size());
    }
    if (timed) {
      tx_->Enqueue(&pending);
    } else {
      tx_->InjectNow(&pending);
    }
  };
  for (uint32_t round = 0; round < repeat; ++round) {
    for (uint32_t i = 0; i < frames.size(); ++i) {
      const auto frame = frames[i];
      if (cancelled_.load(std::memory_order_acquire)) {
        fail(i, SendError::kCancelled);
        continue;
      }
      if (over_.load(std::memory_order_acquire)) {
        skip(i);
        continue;
      }
      if (frame.empty()) {
        fail(i, SendError::kEmptyFrame);
        continue;
      }
      if (frame.size() > max_frame) {
        fail(i, SendError::kFrameTooLarge);
        continue;
      }
      if (tx_->closing() || !tx_->up_.load(std::memory_order_acquire)) {
        fail(i, tx_->closing() ? SendError::kClosed : SendError::kBindingDown);
        continue;
      }
      if (limit_ > 0 && attempted_ >= limit_) {
        over_.store(true, std::memory_order_release);
        skip(i);
        continue;
      }
      int64_t due = 0;
      if (timed) {
        const int64_t offset =
            offsets_ns.empty()
                ? 0
                : SaturatingAdd(offsets_ns[i], static_cast<int64_t>(round) * period);
        const int64_t at = timeline_->Next(frame.size(), offset);
        if (at > duration_ns) {
          over_.store(true, std::memory_order_release);
          skip(i);
          continue;
        }
        if (t0_ == 0) t0_ = MonotonicNs() + kTimelineLeadNs;
        due = SaturatingAdd(t0_, at);
        if (room == 0) {
          // As many frames in flight as the look-ahead allows: wait until half have left.
          flush();
          WaitInFlightBelow(static_cast<uint32_t>(std::max<size_t>(1, look_ahead / 2)));
          if (cancelled_.load(std::memory_order_acquire)) {
            fail(i, SendError::kCancelled);
            continue;
          }
          room = Room();
        }
        --room;
      } else if (duration_ns != std::numeric_limits<int64_t>::max()) {
        if (first_sent == 0) {  // set once, by the first completion: then read no more
          MutexLock lock(&mu_);
          first_sent = first_sent_ns_;
        }
        if (first_sent != 0 && MonotonicNs() - first_sent >= duration_ns) {
          over_.store(true, std::memory_order_release);
          skip(i);
          continue;
        }
      }
      ++attempted_;
      // Build without waiting first; before waiting for resources, hand over what is
      // built, since only its completion can free them.
      // Untimed frames are injected and completed before this call returns, so their
      // buffers map the caller's bytes (the kernel's copy is the only one); timed ones
      // may leave later and are copied into the pool's buffers.
      pool::Packet* packet = tx_->Build(*pools, frame, absl::InfinitePast(), /*copy=*/timed);
      if (packet == nullptr) {
        flush();
        packet = tx_->Build(*pools, frame, deadline, /*copy=*/timed);
      }
      if (packet == nullptr) {
        fail(i, tx_->closing() ? SendError::kClosed : SendError::kResources);
        continue;
      }
      pending.push_back({.packet = packet,
                         .session = this,
                         .batch = &*batch,
                         .index = i,
                         .bytes = static_cast<uint32_t>(frame.size()),
                         .due = due,
                         .timeline = timeline_id_,
                         .max_burst = pacing.max_burst});
      if (pending.size() >= kTxBatch) flush();
    }
  }
  flush();
  finish_batch();
  tx_->LeaveSender();
}

SendReport SendSession::Finish() {
  if (!finished_) {
    WaitInFlightBelow(1);
    MutexLock lock(&mu_);
    while (!batches_.empty()) Fold(batches_.begin());
    if (report_.frames_sent > 0) {
      report_.first_sent = absl::UnixEpoch() + wall_minus_monotonic_ + absl::Nanoseconds(first_sent_ns_);
      report_.last_sent = absl::UnixEpoch() + wall_minus_monotonic_ + absl::Nanoseconds(last_sent_ns_);
    }
    finished_ = true;
  }
  MutexLock lock(&mu_);
  return report_;
}

// ---- TxPath --------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TxPath>> TxPath::Create(pool::TaggedMemory* memory,
                                                      const PoolSizes& sizes,
                                                      const std::string& interface,
                                                      std::function<bool()> interface_changed) {
  auto packets = pool::PacketPool::Create({.descriptors = sizes.packet_descriptors,
                                           .overflow_descriptors = sizes.packet_overflow,
                                           .tag = pool::MemoryTag("TXPK"),
                                           .direction = pool::PoolDirection::kTx,
                                           .memory = memory});
  if (!packets.ok()) return packets.status();
  auto buffers = BufferSlab::Create(memory, sizes.buffer_count, sizes.buffer_size,
                                    pool::MemoryTag("TXBF"), pool::MemoryTag("TXBD"),
                                    pool::PoolDirection::kTx);
  if (!buffers.ok()) return buffers.status();
  std::unique_ptr<TxPath> tx(new TxPath(std::move(interface_changed)));
  tx->pools_.store(std::make_shared<const Pools>(
      Pools{std::shared_ptr<pool::PacketPool>(packets->release(), pool::PacketPool::Closer()),
            std::shared_ptr<BufferSlab>(std::move(*buffers))}));
  tx->thread_ = std::thread([raw = tx.get(), name = "tx " + interface] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    raw->Loop();
  });
  return tx;
}

TxPath::~TxPath() {
  Close();
  ReleasePools();
}

void TxPath::SetInjectHandle(std::optional<PcapHandle> handle) {
  std::unique_lock lock(io_mu_);
  inject_ = std::move(handle);
  up_.store(inject_.has_value(), std::memory_order_release);
}

std::unique_ptr<SendSession> TxPath::StartSession(const SendOptions& options) {
  return std::unique_ptr<SendSession>(new SendSession(this, options));
}

std::vector<FrameResult> TxPath::Send(std::span<const std::span<const uint8_t>> frames,
                                      const SendOptions& options,
                                      std::span<const int64_t> offsets_ns) {
  std::vector<FrameResult> results;
  std::unique_ptr<SendSession> session = StartSession(options);
  session->Send(frames, offsets_ns, options, &results);
  session->Finish();
  return results;
}

void TxPath::ReplacePackets(std::shared_ptr<pool::PacketPool> packets) {
  MutexLock lock(&retired_mu_);
  std::shared_ptr<const Pools> old = pools_.load();
  pools_.store(std::make_shared<const Pools>(Pools{std::move(packets), old->buffers}));
  retired_packets_.push_back(old->packets);
}

void TxPath::ReplaceBuffers(std::shared_ptr<BufferSlab> buffers) {
  MutexLock lock(&retired_mu_);
  std::shared_ptr<const Pools> old = pools_.load();
  pools_.store(std::make_shared<const Pools>(Pools{old->packets, std::move(buffers)}));
  retired_buffers_.push_back(old->buffers);
}

void TxPath::ReapRetired() {
  MutexLock lock(&retired_mu_);
  // A retired generation goes once nobody can allocate from it (only this list holds
  // it) and every descriptor is back.
  std::erase_if(retired_packets_, [](const std::shared_ptr<pool::PacketPool>& pool) {
    return pool.use_count() == 1 && pool->Stats().in_use == 0;
  });
  std::erase_if(retired_buffers_, [](const std::shared_ptr<BufferSlab>& slab) {
    return slab.use_count() == 1 && slab->Stats().in_use == 0;
  });
}

bool TxPath::EnterSender() {
  MutexLock lock(&senders_mu_);
  if (closing()) return false;
  ++active_senders_;
  return true;
}

void TxPath::LeaveSender() {
  {
    MutexLock lock(&senders_mu_);
    --active_senders_;
  }
  senders_left_.notify_all();
}

pool::Packet* TxPath::Build(const Pools& pools, std::span<const uint8_t> frame,
                            absl::Time deadline, bool copy) {
  const uint32_t buffer_size = pools.buffers->buffer_size();
  const uint32_t buffers_needed =
      static_cast<uint32_t>((frame.size() + buffer_size - 1) / buffer_size);
  while (true) {
    const uint64_t generation = free_generation_.load();
    pool::Packet* packet = nullptr;
    if (pools.packets->Allocate(&packet) == pool::Status::kSuccess) {
      if (!copy) {
        if (pool::Buffer* buffer = pools.buffers->Map(frame)) {
          pool::ChainBufferAtBack(packet, buffer);
          return packet;
        }
      } else {
        uint32_t chained = 0;
        for (; chained < buffers_needed; ++chained) {
          pool::Buffer* buffer = pools.buffers->Acquire();
          if (buffer == nullptr) break;
          pool::ChainBufferAtBack(packet, buffer);
        }
        if (chained == buffers_needed) {
          // A frame larger than one buffer is split over the chain; the last buffer is
          // length-adjusted.
          pool::CopyIntoPacket(packet, frame);
          return packet;
        }
      }
      FreePacket(packet);
    }
    if (closing() || absl::Now() >= deadline) return nullptr;
    std::unique_lock<Mutex> lock(freed_mu_);
    free_waiters_.fetch_add(1);  // seq_cst: pairs with NotifyFreed's load
    freed_.wait_for(lock, absl::ToChronoNanoseconds(deadline - absl::Now()), [&] {
      return free_generation_.load() != generation || closing();
    });
    free_waiters_.fetch_sub(1);
  }
}

void TxPath::NotifyFreed() {
  free_generation_.fetch_add(1);  // seq_cst: pairs with the waiter's increment
  if (free_waiters_.load() == 0) return;
  MutexLock lock(&freed_mu_);
  freed_.notify_all();
}

void TxPath::FreePacket(pool::Packet* packet) {
  // Buffers and packet go back to their own pools, whichever generation they are from.
  while (pool::Buffer* buffer = pool::UnchainBufferAtFront(packet)) BufferSlab::Release(buffer);
  pool::FreePacket(packet);
}

void TxPath::InjectNow(std::vector<Item>* items) {
  const size_t n = items->size();
  SendError errors[kTxBatch];
  std::string details[kTxBatch];
  const int64_t started = MonotonicNs();
  if (closing()) {
    std::fill(errors, errors + n, SendError::kClosed);
  } else {
    InjectBatch(items->data(), n, errors, details);
  }
  Complete(items->data(), errors, details, n, started, MonotonicNs());
  items->clear();
}

void TxPath::Enqueue(std::vector<Item>* items) {
  bool queued = false;
  {
    MutexLock lock(&queue_mu_);
    if (!stop_) {
      queue_.insert(queue_.end(), items->begin(), items->end());
      queue_depth_.fetch_add(static_cast<uint32_t>(items->size()), std::memory_order_relaxed);
      queued = true;
    }
  }
  if (queued) {
    queued_.notify_one();
  } else {
    std::vector<SendError> errors(items->size(), SendError::kClosed);
    std::vector<std::string> details(items->size());
    const int64_t now = MonotonicNs();
    Complete(items->data(), errors.data(), details.data(), items->size(), now, now);
  }
  items->clear();
}

void TxPath::Wake() {
  {
    MutexLock lock(&queue_mu_);
    woken_ = true;
  }
  news_.store(true, std::memory_order_release);
  queued_.notify_one();
}

void TxPath::Complete(const Item* items, const SendError* errors, std::string* details, size_t n,
                      int64_t started, int64_t ended) {
  if (n == 0) return;
  // ProtocolSendComplete: the status goes into each packet's OOB data, then its buffers
  // and the packet are returned, the packets of one pool in one FreeBulk.
  const int64_t late_threshold = absl::ToInt64Nanoseconds(kSendLateThreshold);
  uint64_t late = 0;
  pool::Packet* packets[kTxBatch];
  size_t run = 0;  // packets[0..run): of one pool, not yet freed
  for (size_t i = 0; i < n; ++i) {
    pool::Packet* packet = items[i].packet;
    packet->oob().send_status =
        errors[i] == SendError::kNone ? pool::Status::kSuccess : pool::Status::kFailure;
    while (pool::Buffer* buffer = pool::UnchainBufferAtFront(packet)) BufferSlab::Release(buffer);
    if (run == kTxBatch || (run > 0 && packets[0]->pool() != packet->pool())) {
      packets[0]->pool()->FreeBulk(packets, static_cast<uint32_t>(run));
      run = 0;
    }
    packets[run++] = packet;
    if (errors[i] != SendError::kNone) {
      failures_[static_cast<int>(errors[i])].fetch_add(1, std::memory_order_relaxed);
    } else if (items[i].due != 0 && started - items[i].due > late_threshold) {
      ++late;
    }
  }
  if (run > 0) packets[0]->pool()->FreeBulk(packets, static_cast<uint32_t>(run));
  if (late > 0) late_frames_.fetch_add(late, std::memory_order_relaxed);
  NotifyFreed();
  for (size_t start = 0; start < n;) {
    SendSession* session = items[start].session;
    MutexLock lock(&session->mu_);
    size_t i = start;
    for (; i < n && items[i].session == session; ++i) {
      const Item& item = items[i];
      SendSession::Batch* batch = item.batch;
      FrameResult& result = (*batch->results)[item.index];
      if (errors[i] == SendError::kNone) {
        ++result.sent;
        SendReport& report = session->report_;
        ++report.frames_sent;
        report.bytes_sent += item.bytes;
        report.last_frame_bytes = item.bytes;
        if (session->first_sent_ns_ == 0) session->first_sent_ns_ = started;
        session->last_sent_ns_ = ended;
        if (item.due != 0) {
          report.timed = true;
          report.lateness.Record(started - item.due);
        }
      } else if (result.error == SendError::kNone) {
        result.error = errors[i];
        result.detail = std::move(details[i]);
      }
      --session->in_flight_;
      if (--batch->pending == 0 && !batch->adding) {
        for (auto it = session->batches_.begin(); it != session->batches_.end(); ++it) {
          if (&*it == batch) {
            session->Fold(it);
            break;
          }
        }
      }
    }
    start = i;
    // Notified under the lock, once per wait: once nothing is in flight the session may
    // be finished and destroyed, so nothing may touch it after the lock is released.
    if (session->in_flight_ < session->wake_below_) {
      session->wake_below_ = 0;
      session->changed_.notify_all();
    }
  }
}

void TxPath::InjectBatch(const Item* items, size_t n, SendError* errors, std::string* details) {
  // One iovec per buffer of each chain: a split frame is joined by the kernel.
  constexpr size_t kMaxIov = 8;
  mmsghdr messages[kTxBatch];  // each set below: no clearing of the whole array per call
  iovec iov[kTxBatch][kMaxIov];
  size_t start = 0;
  while (start < n) {
    // Messages up to the first chain too long for kMaxIov, which goes alone.
    size_t count = 0;
    for (; start + count < n && count < kTxBatch; ++count) {
      const Item& item = items[start + count];
      size_t parts = 0;
      for (const pool::Buffer* b = item.packet->first_buffer(); b != nullptr; b = b->next()) {
        if (parts == kMaxIov) break;
        iov[count][parts++] = {b->address(), b->length()};
      }
      if (parts == kMaxIov && pool::QueryPacket(*item.packet).buffer_count > kMaxIov) break;
      messages[count] = {};
      messages[count].msg_hdr.msg_iov = iov[count];
      messages[count].msg_hdr.msg_iovlen = parts;
    }
    if (count == 0) {
      errors[start] = InjectOne(items[start].packet, &details[start]);
      ++start;
      continue;
    }
    std::shared_lock lock(io_mu_);
    size_t done = 0;
    while (done < count) {
      if (!inject_) {
        for (; done < count; ++done) errors[start + done] = SendError::kBindingDown;
        break;
      }
      const int sent = inject_->InjectBatch(messages + done, static_cast<unsigned>(count - done));
      if (sent > 0) {
        uint64_t bytes = 0;  // one atomic add per call, not per frame
        for (int i = 0; i < sent; ++i, ++done) {
          errors[start + done] = SendError::kNone;
          bytes += messages[done].msg_len;
        }
        frames_.fetch_add(static_cast<uint64_t>(sent), std::memory_order_relaxed);
        bytes_.fetch_add(bytes, std::memory_order_relaxed);
      } else {
        // The first remaining frame failed (e.g. EMSGSIZE): report it, go on after it.
        details[start + done] = std::strerror(errno);
        errors[start + done] =
            interface_changed_() ? SendError::kBindingDown : SendError::kInjectFailed;
        ++done;
      }
    }
    start += count;
  }
}

SendError TxPath::InjectOne(pool::Packet* packet, std::string* detail) {
  // A chain too long for InjectBatch's iovecs: joined into one contiguous frame.
  std::vector<uint8_t> joined(pool::QueryPacket(*packet).total_length);
  pool::CopyOutOfPacket(*packet, joined);
  iovec part{joined.data(), joined.size()};
  mmsghdr message{};
  message.msg_hdr.msg_iov = &part;
  message.msg_hdr.msg_iovlen = 1;
  std::shared_lock lock(io_mu_);
  if (!inject_) return SendError::kBindingDown;
  if (inject_->InjectBatch(&message, 1) != 1) {
    *detail = std::strerror(errno);
    return interface_changed_() ? SendError::kBindingDown : SendError::kInjectFailed;
  }
  frames_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(joined.size(), std::memory_order_relaxed);
  return SendError::kNone;
}

void TxPath::Loop() {
  // Timer slack at its minimum: a sleep ends as close to its deadline as the kernel can.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  // The frames of one session's timeline, in due order.
  struct Lane {
    SendSession* session;
    std::deque<Item> items;
  };
  std::vector<Lane> lanes;
  std::deque<Item> incoming;
  WakeMargin margin;
  Item group[kTxBatch];
  SendError errors[kTxBatch];
  std::string details[kTxBatch];
  // Completes items[first..last) of `lane` with `error` (cancelled or closing).
  auto fail = [&](Lane& lane, size_t first, size_t last, SendError error) {
    while (first < last) {
      const size_t n = std::min(kTxBatch, last - first);
      for (size_t i = 0; i < n; ++i) {
        group[i] = lane.items[first + i];
        errors[i] = error;
        details[i].clear();
      }
      const int64_t now = MonotonicNs();
      Complete(group, errors, details, n, now, now);
      first += n;
    }
  };
  bool stopping = false;  // stop_ was seen (it stays set)
  while (true) {
    // With frames to time already, the queue's lock is taken only when there is news.
    if (lanes.empty() || queue_depth_.load(std::memory_order_acquire) != 0 ||
        news_.load(std::memory_order_acquire)) {
      news_.store(false, std::memory_order_relaxed);
      std::unique_lock<Mutex> lock(queue_mu_);
      if (lanes.empty()) {
        const absl::Time spin_until = absl::Now() + kQueueSpin;
        while (!stop_ && queue_.empty() && !woken_ && absl::Now() < spin_until) {
          lock.unlock();
          std::this_thread::yield();
          lock.lock();
        }
        queued_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return stop_ || !queue_.empty() || woken_;
        });
      }
      woken_ = false;
      stopping = stop_;
      incoming.swap(queue_);
      if (incoming.empty() && lanes.empty() && stopping) break;
    }
    queue_depth_.fetch_sub(static_cast<uint32_t>(incoming.size()), std::memory_order_relaxed);
    for (const Item& item : incoming) {
      auto lane = std::find_if(lanes.begin(), lanes.end(),
                               [&](const Lane& l) { return l.session == item.session; });
      if (lane == lanes.end()) lane = lanes.insert(lanes.end(), Lane{item.session, {}});
      lane->items.push_back(item);
    }
    incoming.clear();
    // A lane without items is gone: its session may have finished and been destroyed as
    // soon as its last frame completed, so nothing may look at it any more.
    std::erase_if(lanes, [](const Lane& lane) { return lane.items.empty(); });
    // A cancelled session loses what it has queued; on Close, frames not yet due go.
    int64_t now = MonotonicNs();
    for (Lane& lane : lanes) {
      SendSession* session = lane.session;
      if (session->cancelled_.load(std::memory_order_acquire)) {
        fail(lane, 0, lane.items.size(), SendError::kCancelled);
        lane.items.clear();
      } else if (stopping) {
        const int64_t slip = session->pacer_ ? session->pacer_->slip_ns() : 0;
        size_t due = 0;
        while (due < lane.items.size() && lane.items[due].due + slip <= now) ++due;
        fail(lane, due, lane.items.size(), SendError::kClosed);
        lane.items.erase(lane.items.begin() + static_cast<std::ptrdiff_t>(due), lane.items.end());
      }
    }
    std::erase_if(lanes, [](const Lane& lane) { return lane.items.empty(); });
    if (lanes.empty()) continue;
    // The lane whose head is due first; its pacer (new for a new timeline) decides.
    Lane* next = nullptr;
    int64_t next_due = 0;
    for (Lane& lane : lanes) {
      SendSession* session = lane.session;
      const Item& head = lane.items.front();
      if (!session->pacer_ || session->pacer_timeline_ != head.timeline) {
        session->pacer_.emplace(Pacer::Options{
            .coalesce_ns = kCoalesceNs, .max_batch = kTxBatch, .max_burst = head.max_burst});
        session->pacer_timeline_ = head.timeline;
      }
      const int64_t due = head.due + session->pacer_->slip_ns();
      if (next == nullptr || due < next_due) {
        next = &lane;
        next_due = due;
      }
    }
    SendSession* session = next->session;
    Pacer& pacer = *session->pacer_;
    const int64_t slip_before = pacer.slip_ns();
    now = MonotonicNs();
    const PacerStep step = pacer.Next(now, next->items.size(),
                                      [&](size_t i) { return next->items[i].due; });
    if (step.send == 0) {
      const int64_t wait = step.wait_until - now;
      if (wait > margin.get()) {
        // Sleep until the margin before the due time; a new item, a cancel or Close wakes
        // it earlier.
        const int64_t target = step.wait_until - margin.get();
        std::unique_lock<Mutex> lock(queue_mu_);
        if (queue_.empty() && !stop_ && !woken_) {
          const std::chrono::steady_clock::time_point until{std::chrono::nanoseconds(target)};
          const bool interrupted =
              queued_.wait_until(lock, until, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return stop_ || !queue_.empty() || woken_;
              });
          if (!interrupted) margin.Observe(MonotonicNs() - target);
        }
      } else {
        while (MonotonicNs() < step.wait_until) CpuRelax();  // at most the margin
      }
      continue;
    }
    if (pacer.slip_ns() != slip_before) {
      // max_burst moved the timeline (the start shift is not a slip: the timeline's start
      // is the first frame's departure).
      const int64_t start = slip_before == 0 ? pacer.start_shift_ns() : 0;
      MutexLock lock(&session->mu_);
      session->report_.slip_ns += pacer.slip_ns() - slip_before - start;
    }
    const int64_t slip = pacer.slip_ns();
    for (size_t i = 0; i < step.send; ++i) {
      group[i] = next->items[i];
      group[i].due += slip;
      details[i].clear();
    }
    next->items.erase(next->items.begin(),
                      next->items.begin() + static_cast<std::ptrdiff_t>(step.send));
    if (next->items.empty()) lanes.erase(lanes.begin() + (next - lanes.data()));
    const int64_t started = MonotonicNs();
    InjectBatch(group, step.send, errors, details);
    Complete(group, errors, details, step.send, started, MonotonicNs());
  }
}

void TxPath::Close() {
  {
    MutexLock lock(&close_mu_);
    if (closed_) return;
    closed_ = true;
  }
  {
    MutexLock lock(&senders_mu_);
    closing_.store(true, std::memory_order_release);
  }
  {
    // Senders waiting for tx resources give up.
    MutexLock lock(&freed_mu_);
    freed_.notify_all();
  }
  {
    MutexLock lock(&queue_mu_);
    stop_ = true;
  }
  news_.store(true, std::memory_order_release);
  queued_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::unique_lock<Mutex> lock(senders_mu_);
  senders_left_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return active_senders_ == 0; });
}

void TxPath::ReleasePools() {
  MutexLock lock(&retired_mu_);
  retired_packets_.clear();  // a retired pool closed here drains by itself
  retired_buffers_.clear();
  pools_.store(nullptr);
}

TxStats TxPath::Stats() const {
  TxStats stats;
  stats.frames = frames_.load(std::memory_order_relaxed);
  stats.bytes = bytes_.load(std::memory_order_relaxed);
  for (int i = 0; i < kSendErrorCount; ++i) {
    stats.failures[i] = failures_[i].load(std::memory_order_relaxed);
  }
  stats.queue_depth = queue_depth_.load(std::memory_order_relaxed);
  stats.late_frames = late_frames_.load(std::memory_order_relaxed);
  if (std::shared_ptr<const Pools> pools = pools_.load()) {
    stats.packets = pools->packets->Stats();
    stats.buffers = pools->buffers->Stats();
  }
  MutexLock lock(&retired_mu_);
  for (const auto& old : retired_packets_) stats.draining.push_back(old->Stats());
  for (const auto& old : retired_buffers_) stats.draining.push_back(old->Stats());
  return stats;
}

}  // namespace pktpool::capture
