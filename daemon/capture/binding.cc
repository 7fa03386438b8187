#include "daemon/capture/binding.h"

#include <net/if.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pktpool::capture {
namespace {

constexpr uint32_t kStopEvent = 0;
constexpr uint32_t kCaptureEvent = 1;
constexpr int kMaxDispatchRounds = 64;  // per wake-up, so Close is never starved
// rx_hold_when_exhausted: frames taken per dispatch at most, and the pause between
// looks at the pool while it is empty.
constexpr uint32_t kMaxHoldBudget = 4096;
constexpr absl::Duration kHoldRetry = absl::Milliseconds(1);
// Frames per hand-off to the transmit thread, per sendmmsg, and per completion.
constexpr size_t kTxBatch = 32;
// Frames a paced send builds ahead of the wire at most (its transmit packets in use).
constexpr size_t kPacedLookAhead = 4 * kTxBatch;
// Spins (yielding) before a futex sleep on the send path; see Send and TxLoop.
constexpr absl::Duration kCompletionSpin = absl::Microseconds(200);
constexpr absl::Duration kQueueSpin = absl::Microseconds(200);

// The interface's MTU, or 1500 when it cannot be read.
uint32_t InterfaceMtu(const std::string& name) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 1500;
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  const int got = ioctl(fd, SIOCGIFMTU, &request);
  close(fd);
  return got == 0 && request.ifr_mtu > 0 ? static_cast<uint32_t>(request.ifr_mtu) : 1500;
}

absl::Status ValidateOptions(const BindingOptions& options) {
  if (options.snaplen < 64 || options.snaplen > 262144) {
    return absl::InvalidArgumentError(
        absl::StrCat("snaplen must be 64 to 262144 bytes, not ", options.snaplen));
  }
  if (options.pcap_buffer_bytes < (1u << 16)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pcap_buffer_bytes must be at least 65536, not ", options.pcap_buffer_bytes));
  }
  if (options.pcap_timeout < absl::ZeroDuration() || options.pcap_timeout > absl::Seconds(10)) {
    return absl::InvalidArgumentError("pcap_timeout must be 0 to 10 s");
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view BindingStateName(BindingState state) {
  switch (state) {
    case BindingState::kBinding: return "BINDING";
    case BindingState::kUp: return "UP";
    case BindingState::kDown: return "DOWN";
    case BindingState::kUnbinding: return "UNBINDING";
  }
  return "UNKNOWN";
}

std::string_view SendErrorName(SendError error) {
  switch (error) {
    case SendError::kNone: return "sent";
    case SendError::kResources: return "resources";
    case SendError::kEmptyFrame: return "empty_frame";
    case SendError::kFrameTooLarge: return "frame_too_large";
    case SendError::kBindingDown: return "binding_down";
    case SendError::kInjectFailed: return "inject_failed";
    case SendError::kClosed: return "closed";
  }
  return "unknown";
}

struct Binding::SendBatch {
  Mutex mu;
  std::condition_variable_any done;  // pending reached 0, or fell below wake_below
  uint32_t pending ABSL_GUARDED_BY(mu) = 0;
  uint32_t wake_below ABSL_GUARDED_BY(mu) = 0;  // a paced sender waits for room
  std::vector<FrameResult>* results = nullptr;
};

absl::StatusOr<std::unique_ptr<Binding>> Binding::Open(const std::string& interface,
                                                       const BindingOptions& options) {
  if (absl::Status valid = ValidateOptions(options); !valid.ok()) return valid;
  std::unique_ptr<Binding> binding(new Binding(interface, options));
  if (absl::Status started = binding->Start(); !started.ok()) {
    binding->Close();
    return started;
  }
  return binding;
}

Binding::Binding(std::string interface, BindingOptions options)
    : interface_(std::move(interface)), options_(std::move(options)) {}

Binding::~Binding() { Close(); }

absl::Status Binding::Start() {
  if (absl::Status opened = OpenHandles(); !opened.ok()) return opened;
  rx_frame_room_ = std::min(InterfaceMtu(interface_) + kLinkHeaderRoomBytes, options_.snaplen);
  auto rx = RxPath::Create(&memory_, options_.rx, rx_frame_room_, options_.rx_preallocate);
  if (!rx.ok()) return rx.status();
  rx_current_ = rx->get();
  rx_.store(std::shared_ptr<RxPath>(std::move(*rx)));
  auto tx_packets = pool::PacketPool::Create({.descriptors = options_.tx.packet_descriptors,
                                              .overflow_descriptors = options_.tx.packet_overflow,
                                              .tag = pool::MemoryTag("TXPK"),
                                              .direction = pool::PoolDirection::kTx,
                                              .memory = &memory_});
  if (!tx_packets.ok()) return tx_packets.status();
  auto tx_buffers = BufferSlab::Create(&memory_, options_.tx.buffer_count, options_.tx.buffer_size,
                                       pool::MemoryTag("TXBF"), pool::MemoryTag("TXBD"),
                                       pool::PoolDirection::kTx);
  if (!tx_buffers.ok()) return tx_buffers.status();
  tx_.store(std::make_shared<const TxPools>(TxPools{
      std::shared_ptr<pool::PacketPool>(tx_packets->release(), pool::PacketPool::Closer()),
      std::shared_ptr<BufferSlab>(std::move(*tx_buffers))}));
  {
    MutexLock lock(&tune_mu_);
    rx_sizes_ = options_.rx;
    tx_sizes_ = options_.tx;
  }

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || stop_fd_ < 0) {
    return absl::InternalError(absl::StrCat("epoll/eventfd: ", std::strerror(errno)));
  }
  epoll_event stop{};
  stop.events = EPOLLIN;
  stop.data.u32 = kStopEvent;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &stop);
  epoll_event capture{};
  capture.events = EPOLLIN;
  capture.data.u32 = kCaptureEvent;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, capture_->selectable_fd(), &capture);

  state_.store(BindingState::kUp, std::memory_order_release);
  rx_thread_ = std::thread([this] { RxLoop(); });
  tx_thread_ = std::thread([this] { TxLoop(); });
  return absl::OkStatus();
}

absl::Status Binding::OpenHandles() {
  auto capture = PcapHandle::OpenCapture(interface_, options_);
  if (!capture.ok()) return capture.status();
  auto inject = PcapHandle::OpenInject(interface_);
  if (!inject.ok()) return inject.status();
  capture_ = std::move(*capture);
  {
    std::unique_lock lock(io_mu_);
    inject_ = std::move(*inject);
  }
  interface_index_.store(static_cast<int32_t>(if_nametoindex(interface_.c_str())),
                         std::memory_order_relaxed);
  return absl::OkStatus();
}

void Binding::PublishPcapCounters() {
  PcapCounters now = pcap_closed_;
  if (capture_) {
    PcapCounters current = capture_->Counters();
    now.received += current.received;
    now.dropped += current.dropped;
    now.interface_dropped += current.interface_dropped;
  }
  pcap_received_.store(now.received, std::memory_order_relaxed);
  pcap_dropped_.store(now.dropped, std::memory_order_relaxed);
  pcap_if_dropped_.store(now.interface_dropped, std::memory_order_relaxed);
}

// ---- receive ----------------------------------------------------------------------

void Binding::OnFrame(u_char* self, const pcap_pkthdr* header, const u_char* data) {
  reinterpret_cast<Binding*>(self)->Receive(header, data);
}

void Binding::Receive(const pcap_pkthdr* header, const uint8_t* data) {
  // Nanosecond precision was asked for at open: tv_usec holds nanoseconds.
  const absl::Time timestamp = absl::FromUnixSeconds(header->ts.tv_sec) +
                               absl::Nanoseconds(header->ts.tv_usec);
  pool::Packet* packet = rx_current_->Fill(data, header->caplen, timestamp, header->len,
                                   interface_index_.load(std::memory_order_relaxed));
  if (packet == nullptr) {
    rx_resource_drops_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  rx_frames_.fetch_add(1, std::memory_order_relaxed);
  rx_bytes_.fetch_add(header->len, std::memory_order_relaxed);
  if (rx_subscribers_.empty()) {
    RxFrame::Adopt(packet);  // nobody listens: the packet is back at once
    return;
  }
  rx_batch_.push_back(RxFrame::Adopt(packet));
}

void Binding::DeliverBatch() {
  // One lock per subscriber per dispatch, not per frame.
  for (const auto& subscriber : rx_subscribers_) subscriber->OfferBatch(rx_batch_);
  rx_batch_.clear();  // the receive thread's references go; subscribers hold theirs
}

void Binding::ReleaseStarvingPackets() {
  if (rx_subscribers_.size() < 2 || rx_current_->Available() > 0) return;
  // Every receive packet is out. Someone starves if a subscriber has nothing queued; the
  // candidate is the longest queue of a subscriber that has not popped for
  // kStalledSubscriberIdle (stopped reading). One still reading, however far behind, is
  // never cut.
  const absl::Time now = absl::Now();
  CaptureSubscriber* longest = nullptr;
  size_t longest_queued = 0;
  bool someone_starves = false;
  for (const auto& subscriber : rx_subscribers_) {
    const size_t queued = subscriber->queued();
    someone_starves |= queued == 0 && !subscriber->closed();
    if (queued > longest_queued && now - subscriber->last_pop() >= kStalledSubscriberIdle) {
      longest = subscriber.get();
      longest_queued = queued;
    }
  }
  if (!someone_starves || longest == nullptr) return;  // back-pressure, as configured
  const size_t dropped =
      longest->DropOldest(std::max<uint32_t>(1, rx_current_->max_packets() / 2));
  rx_starved_unlogged_ += dropped;
  if (now - rx_starved_logged_ >= kStalledSubscriberLogInterval) {
    std::fprintf(stderr,
                 "<4>pktpool: binding %s: every receive packet was held while a subscriber "
                 "waited; dropped %llu queued frames, the oldest of subscriber '%s' (%zu "
                 "queued, not read for %lld ms), so the others can go on\n",
                 interface_.c_str(), static_cast<unsigned long long>(rx_starved_unlogged_),
                 longest->Stats().name.c_str(), longest_queued,
                 static_cast<long long>(absl::ToInt64Milliseconds(now - longest->last_pop())));
    rx_starved_logged_ = now;
    rx_starved_unlogged_ = 0;
  }
}

void Binding::GoDown(const std::string& why) {
  if (capture_) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, capture_->selectable_fd(), nullptr);
    PublishPcapCounters();
    pcap_closed_ = {pcap_received_.load(), pcap_dropped_.load(), pcap_if_dropped_.load()};
    capture_.reset();
  }
  {
    std::unique_lock lock(io_mu_);
    inject_.reset();
  }
  state_.store(BindingState::kDown, std::memory_order_release);
  down_events_.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "<4>pktpool: binding %s is DOWN: %s\n", interface_.c_str(), why.c_str());
}

void Binding::TryUp() {
  if (if_nametoindex(interface_.c_str()) == 0) return;
  if (!OpenHandles().ok()) return;  // not ready yet (e.g. still down): try again later
  epoll_event capture{};
  capture.events = EPOLLIN;
  capture.data.u32 = kCaptureEvent;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, capture_->selectable_fd(), &capture);
  state_.store(BindingState::kUp, std::memory_order_release);
  std::fprintf(stderr, "<5>pktpool: binding %s is UP again\n", interface_.c_str());
}

bool Binding::InterfaceChanged() const {
  const unsigned index = if_nametoindex(interface_.c_str());
  return index == 0 || static_cast<int32_t>(index) != interface_index_.load();
}

void Binding::RxLoop() {
  const int poll_ms = static_cast<int>(absl::ToInt64Milliseconds(kInterfacePollInterval));
  const int hold_ms = static_cast<int>(absl::ToInt64Milliseconds(kHoldRetry));
  absl::Time next_check = absl::Now() + kInterfacePollInterval;
  bool holding = false;  // frames wait in the ring for receive packets to come back
  while (true) {
    epoll_event events[4];
    int ready;
    if (holding) {
      // The ring's fd stays readable while we hold: wait on the stop fd alone, briefly.
      pollfd stop_only{stop_fd_, POLLIN, 0};
      ready = poll(&stop_only, 1, hold_ms);
      if (ready > 0) break;
      ready = 0;
    } else {
      ready = epoll_wait(epoll_fd_, events, 4, poll_ms);
    }
    bool stop = false;
    for (int i = 0; i < ready; ++i) stop |= events[i].data.u32 == kStopEvent;
    if (stop) break;
    if (rx_pending_.load()) {
      // TunePool built a new receive generation: switch to it, retire the old one.
      MutexLock lock(&tune_mu_);
      std::shared_ptr<RxPath> old = rx_.load();
      old->Retire();
      retired_rx_.push_back(std::move(old));
      rx_current_ = pending_rx_.get();
      rx_.store(std::move(pending_rx_));
      rx_pending_.store(false);
    }
    const uint64_t version = subscribers_version_.load(std::memory_order_acquire);
    if (version != rx_subscribers_version_) {
      MutexLock lock(&subscribers_mu_);
      rx_subscribers_ = subscribers_;
      rx_subscribers_version_ = subscribers_version_.load(std::memory_order_relaxed);
    }
    ReleaseStarvingPackets();
    holding = false;
    if (state() == BindingState::kUp) {
      for (int round = 0; round < kMaxDispatchRounds; ++round) {
        int budget = -1;  // everything in the ring
        if (options_.rx_hold_when_exhausted) {
          // Take no more frames than there are receive packets for.
          budget = static_cast<int>(std::min<uint32_t>(rx_current_->Available(), kMaxHoldBudget));
          if (budget == 0) {
            holding = true;
            break;
          }
        }
        const int got =
            capture_->Dispatch(budget, &Binding::OnFrame, reinterpret_cast<u_char*>(this));
        DeliverBatch();
        if (got < 0) {
          GoDown(capture_->error());
          break;
        }
        if (got == 0) break;
      }
    }
    if (absl::Now() >= next_check) {
      next_check = absl::Now() + kInterfacePollInterval;
      ReapRetired();
      if (state() == BindingState::kUp) {
        PublishPcapCounters();
        if (InterfaceChanged()) GoDown("the interface was deleted or replaced");
      } else if (state() == BindingState::kDown) {
        TryUp();
      }
    }
  }
  PublishPcapCounters();
  rx_subscribers_.clear();
}

// ---- send -------------------------------------------------------------------------

pool::Packet* Binding::BuildTxPacket(const TxPools& tx, std::span<const uint8_t> frame,
                                     absl::Time deadline) {
  const uint32_t buffer_size = tx.buffers->buffer_size();
  const uint32_t buffers_needed =
      static_cast<uint32_t>((frame.size() + buffer_size - 1) / buffer_size);
  while (true) {
    const uint64_t generation = tx_free_generation_.load();
    pool::Packet* packet = nullptr;
    if (tx.packets->Allocate(&packet) == pool::Status::kSuccess) {
      uint32_t chained = 0;
      for (; chained < buffers_needed; ++chained) {
        pool::Buffer* buffer = tx.buffers->Acquire();
        if (buffer == nullptr) break;
        pool::ChainBufferAtBack(packet, buffer);
      }
      if (chained == buffers_needed) {
        // A frame larger than one buffer is split over the chain; the last buffer is
        // length-adjusted.
        pool::CopyIntoPacket(packet, frame);
        return packet;
      }
      FreeTxPacket(packet);
    }
    if (closing_.load() || absl::Now() >= deadline) return nullptr;
    std::unique_lock<Mutex> lock(tx_free_mu_);
    tx_free_waiters_.fetch_add(1);  // seq_cst: pairs with NotifyTxFreed's load
    tx_freed_.wait_for(lock, absl::ToChronoNanoseconds(deadline - absl::Now()), [&] {
      return tx_free_generation_.load() != generation || closing_.load();
    });
    tx_free_waiters_.fetch_sub(1);
  }
}

void Binding::NotifyTxFreed() {
  tx_free_generation_.fetch_add(1);  // seq_cst: pairs with the waiter's increment
  if (tx_free_waiters_.load() == 0) return;
  MutexLock lock(&tx_free_mu_);
  tx_freed_.notify_all();
}

void Binding::FreeTxPacket(pool::Packet* packet) {
  // Buffers and packet go back to their own pools, whichever generation they are from.
  while (pool::Buffer* buffer = pool::UnchainBufferAtFront(packet)) BufferSlab::Release(buffer);
  pool::ReinitializePacket(packet);
  pool::FreePacket(packet);
}

void Binding::InjectNow(std::vector<TxItem>* items) {
  const size_t n = items->size();
  if (n == 0) return;
  {
    SendBatch* batch = items->front().batch;
    MutexLock lock(&batch->mu);
    batch->pending += static_cast<uint32_t>(n);
  }
  SendError errors[kTxBatch];
  std::string details[kTxBatch];
  if (closing_.load()) {
    std::fill(errors, errors + n, SendError::kClosed);
  } else {
    InjectBatch(items->data(), n, errors, details);
  }
  Complete(items->data(), errors, details, n);
  items->clear();
}

void Binding::Enqueue(std::vector<TxItem>* items) {
  if (items->empty()) return;
  {
    SendBatch* batch = items->front().batch;  // one Send call's items
    MutexLock lock(&batch->mu);
    batch->pending += static_cast<uint32_t>(items->size());
  }
  bool queued = false;
  {
    MutexLock lock(&tx_mu_);
    if (!tx_stop_) {
      tx_queue_.insert(tx_queue_.end(), items->begin(), items->end());
      tx_queue_depth_.fetch_add(static_cast<uint32_t>(items->size()), std::memory_order_relaxed);
      queued = true;
    }
  }
  if (queued) {
    tx_ready_.notify_one();
  } else {
    std::vector<SendError> errors(items->size(), SendError::kClosed);
    std::vector<std::string> details(items->size());
    Complete(items->data(), errors.data(), details.data(), items->size());
  }
  items->clear();
}

std::vector<FrameResult> Binding::Send(std::span<const std::span<const uint8_t>> frames,
                                       const SendOptions& options) {
  std::vector<FrameResult> results(frames.size());
  {
    MutexLock lock(&senders_mu_);
    if (closing_.load()) {
      for (auto& r : results) r.error = SendError::kClosed;
      tx_failures_[static_cast<int>(SendError::kClosed)].fetch_add(frames.size());
      return results;
    }
    ++active_senders_;
  }
  // This call's transmit generation: a TunePool meanwhile does not change it under us.
  const std::shared_ptr<const TxPools> tx = tx_.load();
  const size_t max_frame = std::min<size_t>(
      kMaxFrameBytes, static_cast<size_t>(tx->buffers->buffer_size()) * tx->buffers->buffer_count());
  SendBatch batch;
  batch.results = &results;
  const absl::Duration interval = options.frames_per_second > 0
                                      ? absl::Seconds(1.0 / options.frames_per_second)
                                      : absl::ZeroDuration();
  const absl::Time deadline = absl::Now() + options.wait_for_resources;
  auto fail = [&](uint32_t index, SendError error) {
    tx_failures_[static_cast<int>(error)].fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(&batch.mu);
    if (results[index].error == SendError::kNone) results[index].error = error;
  };
  const uint32_t repeat = std::max<uint32_t>(options.repeat, 1);
  // A paced send builds at most `look_ahead` frames ahead of the wire: kPacedLookAhead,
  // and no more than half of the transmit packets or of the buffers its largest frame
  // needs, so one paced send never runs the pools dry by itself.
  size_t look_ahead = kPacedLookAhead;
  if (interval > absl::ZeroDuration()) {
    size_t largest = 1;
    for (const auto& frame : frames) largest = std::max(largest, frame.size());
    const size_t buffers_per_frame =
        (largest + tx->buffers->buffer_size() - 1) / tx->buffers->buffer_size();
    const size_t packets = size_t{tx->packets->descriptors()} + tx->packets->overflow_limit();
    look_ahead = std::max<size_t>(
        1, std::min({look_ahead, packets / 2, tx->buffers->buffer_count() / 2 / buffers_per_frame}));
  }
  std::vector<TxItem> pending;  // built, not yet injected or handed over
  pending.reserve(kTxBatch);
  // Paced frames go through the transmit thread, which keeps the rate. Unpaced ones are
  // injected by this thread: the frame is still in its cache and nothing waits on a
  // hand-off (measured: the transmit thread alone stayed below tcpreplay's rate).
  auto flush = [&] {
    if (interval > absl::ZeroDuration()) {
      Enqueue(&pending);
    } else {
      InjectNow(&pending);
    }
  };
  for (uint32_t round = 0; round < repeat; ++round) {
    for (uint32_t i = 0; i < frames.size(); ++i) {
      const auto frame = frames[i];
      if (frame.empty()) {
        fail(i, SendError::kEmptyFrame);
        continue;
      }
      if (frame.size() > max_frame) {
        fail(i, SendError::kFrameTooLarge);
        continue;
      }
      if (state() != BindingState::kUp) {
        fail(i, closing_.load() ? SendError::kClosed : SendError::kBindingDown);
        continue;
      }
      // Paced: a long or repeated send needs only look_ahead packets, not one per frame,
      // and waits for the transmit thread instead of running the pool dry (and failing
      // with RESOURCES).
      if (interval > absl::ZeroDuration()) {
        std::unique_lock<Mutex> lock(batch.mu);
        if (batch.pending + pending.size() >= look_ahead) {
          lock.unlock();
          flush();
          lock.lock();
          batch.wake_below = static_cast<uint32_t>(std::max<size_t>(1, look_ahead / 2));
          batch.done.wait(lock, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return batch.pending < batch.wake_below;
          });
          batch.wake_below = 0;
        }
      }
      // Build without waiting first; before waiting for resources, hand what is built to
      // the transmit thread, since only it can free them.
      pool::Packet* packet = BuildTxPacket(*tx, frame, absl::InfinitePast());
      if (packet == nullptr && !pending.empty()) {
        flush();
        packet = BuildTxPacket(*tx, frame, deadline);
      } else if (packet == nullptr) {
        packet = BuildTxPacket(*tx, frame, deadline);
      }
      if (packet == nullptr) {
        fail(i, closing_.load() ? SendError::kClosed : SendError::kResources);
        continue;
      }
      pending.push_back({packet, &batch, i, interval});
      if (pending.size() >= kTxBatch) flush();
    }
  }
  flush();
  {
    // A short yielding spin before sleeping: the last frames usually complete within
    // microseconds, and a futex sleep and wake-up here would leave the transmit thread
    // idle between one Send call and the next.
    std::unique_lock<Mutex> lock(batch.mu);
    const absl::Time spin_until = absl::Now() + kCompletionSpin;
    while (batch.pending != 0 && absl::Now() < spin_until) {
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    }
    batch.done.wait(lock, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return batch.pending == 0; });
  }
  {
    MutexLock lock(&senders_mu_);
    --active_senders_;
  }
  senders_left_.notify_all();
  return results;
}

SendError Binding::InjectOne(pool::Packet* packet, std::string* detail) {
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
    return InterfaceChanged() ? SendError::kBindingDown : SendError::kInjectFailed;
  }
  tx_frames_.fetch_add(1, std::memory_order_relaxed);
  tx_bytes_.fetch_add(joined.size(), std::memory_order_relaxed);
  return SendError::kNone;
}

void Binding::Complete(const TxItem* items, const SendError* errors, std::string* details,
                       size_t n) {
  if (n == 0) return;
  // ProtocolSendComplete: the status goes into each packet's OOB data, then the packet
  // and its buffers are reinitialized and returned.
  for (size_t i = 0; i < n; ++i) {
    items[i].packet->oob().send_status =
        errors[i] == SendError::kNone ? pool::Status::kSuccess : pool::Status::kFailure;
    FreeTxPacket(items[i].packet);
    if (errors[i] != SendError::kNone) {
      tx_failures_[static_cast<int>(errors[i])].fetch_add(1, std::memory_order_relaxed);
    }
  }
  NotifyTxFreed();
  for (size_t start = 0; start < n;) {
    SendBatch* batch = items[start].batch;
    MutexLock lock(&batch->mu);
    size_t i = start;
    for (; i < n && items[i].batch == batch; ++i) {
      FrameResult& result = (*batch->results)[items[i].index];
      if (errors[i] == SendError::kNone) {
        ++result.sent;
      } else if (result.error == SendError::kNone) {
        result.error = errors[i];
        result.detail = std::move(details[i]);
      }
    }
    batch->pending -= static_cast<uint32_t>(i - start);
    start = i;
    // Notified under the lock: once pending is 0 the sender may return and destroy the
    // batch, so nothing may touch it after the lock is released.
    if (batch->pending == 0 || batch->pending < batch->wake_below) batch->done.notify_all();
  }
}

void Binding::InjectBatch(const TxItem* items, size_t n, SendError* errors,
                          std::string* details) {
  // One iovec per buffer of each chain: a split frame is joined by the kernel.
  constexpr size_t kMaxIov = 8;
  mmsghdr messages[kTxBatch] = {};
  iovec iov[kTxBatch][kMaxIov];
  size_t start = 0;
  while (start < n) {
    // Messages up to the first chain too long for kMaxIov, which goes alone.
    size_t count = 0;
    for (; start + count < n; ++count) {
      const TxItem& item = items[start + count];
      size_t parts = 0;
      for (const pool::Buffer* b = item.packet->first_buffer(); b != nullptr; b = b->next()) {
        if (parts == kMaxIov) break;
        iov[count][parts++] = {b->address(), b->length()};
      }
      if (parts == kMaxIov && pool::QueryPacket(*item.packet).buffer_count > kMaxIov) break;
      messages[count].msg_hdr = {};
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
        for (int i = 0; i < sent; ++i, ++done) {
          errors[start + done] = SendError::kNone;
          tx_frames_.fetch_add(1, std::memory_order_relaxed);
          tx_bytes_.fetch_add(messages[done].msg_len, std::memory_order_relaxed);
        }
      } else {
        // The first remaining frame failed (e.g. EMSGSIZE): report it, go on after it.
        details[start + done] = std::strerror(errno);
        errors[start + done] =
            InterfaceChanged() ? SendError::kBindingDown : SendError::kInjectFailed;
        ++done;
      }
    }
    start += count;
  }
}

void Binding::TxLoop() {
  absl::Time next_due = absl::InfinitePast();
  std::deque<TxItem> items;
  TxItem group[kTxBatch];
  SendError errors[kTxBatch];
  std::string details[kTxBatch];
  while (true) {
    {
      std::unique_lock<Mutex> lock(tx_mu_);
      // A short spin before sleeping: a sender's next frames usually follow within
      // microseconds.
      const absl::Time spin_until = absl::Now() + kQueueSpin;
      while (!tx_stop_ && tx_queue_.empty() && absl::Now() < spin_until) {
        lock.unlock();
        std::this_thread::yield();
        lock.lock();
      }
      tx_ready_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return tx_stop_ || !tx_queue_.empty();
      });
      if (tx_queue_.empty()) break;  // stopping, and everything queued is done
      items.swap(tx_queue_);         // take everything queued in one lock
    }
    tx_queue_depth_.fetch_sub(static_cast<uint32_t>(items.size()), std::memory_order_relaxed);
    while (!items.empty()) {
      if (items.front().interval > absl::ZeroDuration()) {
        // Paced: one frame at a time, completed at once.
        const TxItem item = items.front();
        items.pop_front();
        const absl::Time now = absl::Now();
        if (next_due > now) absl::SleepFor(next_due - now);
        next_due = std::max(now, next_due) + item.interval;
        details[0].clear();
        errors[0] = InjectOne(item.packet, &details[0]);
        Complete(&item, errors, details, 1);
        continue;
      }
      // As fast as possible: up to kTxBatch unpaced frames in one sendmmsg.
      size_t count = 0;
      while (count < kTxBatch && !items.empty() &&
             items.front().interval == absl::ZeroDuration()) {
        group[count] = items.front();
        details[count].clear();
        items.pop_front();
        ++count;
      }
      InjectBatch(group, count, errors, details);
      Complete(group, errors, details, count);
    }
  }
}

// ---- subscribers, stats, close ------------------------------------------------------

std::shared_ptr<CaptureSubscriber> Binding::Subscribe(std::string name, uint32_t queue_capacity) {
  auto subscriber = std::make_shared<CaptureSubscriber>(std::move(name), queue_capacity);
  if (closing_.load()) {
    subscriber->Close();
    return subscriber;
  }
  MutexLock lock(&subscribers_mu_);
  subscribers_.push_back(subscriber);
  subscribers_version_.fetch_add(1, std::memory_order_release);
  return subscriber;
}

void Binding::Unsubscribe(const std::shared_ptr<CaptureSubscriber>& subscriber) {
  {
    MutexLock lock(&subscribers_mu_);
    std::erase(subscribers_, subscriber);
    subscribers_version_.fetch_add(1, std::memory_order_release);
  }
  subscriber->Close();
}

BindingOptions Binding::options() const {
  BindingOptions options = options_;
  MutexLock lock(&tune_mu_);
  options.rx = rx_sizes_;
  options.tx = tx_sizes_;
  return options;
}

void Binding::ReapRetired() {
  MutexLock lock(&tune_mu_);
  // A retired generation goes once nobody can allocate from it (only this list holds
  // it) and every descriptor is back.
  std::erase_if(retired_rx_, [](const std::shared_ptr<RxPath>& path) {
    path->DrainReturned();
    return path->Idle();
  });
  std::erase_if(retired_tx_packets_, [](const std::shared_ptr<pool::PacketPool>& pool) {
    return pool.use_count() == 1 && pool->Stats().in_use == 0;
  });
  std::erase_if(retired_tx_buffers_, [](const std::shared_ptr<BufferSlab>& slab) {
    return slab.use_count() == 1 && slab->Stats().in_use == 0;
  });
}

absl::StatusOr<TuneResult> Binding::TunePool(PoolId which, const TuneRequest& request) {
  if (request.descriptors == 0) {
    return absl::InvalidArgumentError("descriptors must be at least 1");
  }
  MutexLock lock(&tune_mu_);
  if (closing_.load()) {
    return absl::FailedPreconditionError(
        absl::StrCat("binding '", interface_, "' is unbinding; nothing to tune"));
  }
  const int index = static_cast<int>(which);
  const uint32_t generation = generations_[index] + 1;
  TuneResult result;
  if (which == PoolId::kTxPackets) {
    auto created = pool::PacketPool::Create({.descriptors = request.descriptors,
                                             .overflow_descriptors = request.overflow,
                                             .tag = pool::MemoryTag("TXPK"),
                                             .direction = pool::PoolDirection::kTx,
                                             .generation = generation,
                                             .memory = &memory_});
    if (!created.ok()) return created.status();
    std::shared_ptr<pool::PacketPool> packets(created->release(), pool::PacketPool::Closer());
    std::shared_ptr<const TxPools> old = tx_.load();
    tx_.store(std::make_shared<const TxPools>(TxPools{packets, old->buffers}));
    retired_tx_packets_.push_back(old->packets);
    tx_sizes_.packet_descriptors = request.descriptors;
    tx_sizes_.packet_overflow = packets->overflow_limit();
    result.applied = packets->Stats();
    result.overflow_clamped = packets->overflow_limit() < request.overflow;
  } else if (which == PoolId::kTxBuffers) {
    const uint32_t size = request.buffer_size != 0 ? request.buffer_size : tx_sizes_.buffer_size;
    auto created = BufferSlab::Create(&memory_, request.descriptors, size, pool::MemoryTag("TXBF"),
                                      pool::MemoryTag("TXBD"), pool::PoolDirection::kTx,
                                      generation);
    if (!created.ok()) return created.status();
    std::shared_ptr<BufferSlab> buffers(std::move(*created));
    std::shared_ptr<const TxPools> old = tx_.load();
    tx_.store(std::make_shared<const TxPools>(TxPools{old->packets, buffers}));
    retired_tx_buffers_.push_back(old->buffers);
    tx_sizes_.buffer_count = request.descriptors;
    tx_sizes_.buffer_size = size;
    result.applied = buffers->Stats();
  } else {
    // Receive pools: a new receive path (both pools, one of them resized); the receive
    // thread switches to it and retires the old one.
    PoolSizes sizes = rx_sizes_;
    if (which == PoolId::kRxPackets) {
      sizes.packet_descriptors = request.descriptors;
      sizes.packet_overflow = request.overflow;
    } else {
      sizes.buffer_count = request.descriptors;
      if (request.buffer_size != 0) sizes.buffer_size = request.buffer_size;
    }
    const uint32_t chain = (rx_frame_room_ + sizes.buffer_size - 1) / sizes.buffer_size;
    const uint32_t preallocate = std::min({options_.rx_preallocate, sizes.packet_descriptors,
                                           sizes.buffer_count / std::max(chain, 1u)});
    auto created = RxPath::Create(&memory_, sizes, rx_frame_room_, preallocate,
                                  std::max(generations_[0], generations_[1]) + 1);
    if (!created.ok()) return created.status();
    pending_rx_ = std::shared_ptr<RxPath>(std::move(*created));
    rx_pending_.store(true);
    const pool::PoolStats packets = pending_rx_->PacketStats();
    result.applied = which == PoolId::kRxPackets ? packets : pending_rx_->BufferStats();
    result.overflow_clamped =
        which == PoolId::kRxPackets && packets.overflow_limit < request.overflow;
    sizes.packet_overflow = packets.overflow_limit;
    rx_sizes_ = sizes;
    generations_[0] = generations_[1] = std::max(generations_[0], generations_[1]) + 1;
    return result;
  }
  generations_[index] = generation;
  return result;
}

BindingStats Binding::Stats() const {
  BindingStats stats;
  stats.interface = interface_;
  stats.state = state();
  stats.interface_index = interface_index_.load(std::memory_order_relaxed);
  stats.rx_frames = rx_frames_.load(std::memory_order_relaxed);
  stats.rx_bytes = rx_bytes_.load(std::memory_order_relaxed);
  stats.rx_resource_drops = rx_resource_drops_.load(std::memory_order_relaxed);
  stats.tx_frames = tx_frames_.load(std::memory_order_relaxed);
  stats.tx_bytes = tx_bytes_.load(std::memory_order_relaxed);
  for (int i = 0; i < kSendErrorCount; ++i) {
    stats.tx_failures[i] = tx_failures_[i].load(std::memory_order_relaxed);
  }
  stats.tx_queue_depth = tx_queue_depth_.load(std::memory_order_relaxed);
  stats.down_events = down_events_.load(std::memory_order_relaxed);
  stats.pcap = {pcap_received_.load(), pcap_dropped_.load(), pcap_if_dropped_.load()};
  {
    MutexLock lock(&subscribers_mu_);
    for (const auto& s : subscribers_) stats.subscribers.push_back(s->Stats());
  }
  {
    MutexLock lock(&tune_mu_);
    // A receive generation built by TunePool counts as current before the receive
    // thread switches to it.
    std::shared_ptr<RxPath> rx = pending_rx_ ? pending_rx_ : rx_.load();
    if (rx) {
      stats.rx_packets = rx->PacketStats();
      stats.rx_buffers = rx->BufferStats();
    }
    if (pending_rx_ && rx_.load()) {
      stats.draining.push_back(rx_.load()->PacketStats());
      stats.draining.push_back(rx_.load()->BufferStats());
    }
    for (const auto& old : retired_rx_) {
      stats.draining.push_back(old->PacketStats());
      stats.draining.push_back(old->BufferStats());
    }
    for (const auto& old : retired_tx_packets_) stats.draining.push_back(old->Stats());
    for (const auto& old : retired_tx_buffers_) stats.draining.push_back(old->Stats());
  }
  if (std::shared_ptr<const TxPools> tx = tx_.load()) {
    stats.tx_packets = tx->packets->Stats();
    stats.tx_buffers = tx->buffers->Stats();
  }
  stats.memory = memory_.AllUsage();
  return stats;
}

void Binding::Close() {
  {
    MutexLock lock(&close_mu_);
    if (closed_) return;
    closed_ = true;
  }
  state_.store(BindingState::kUnbinding, std::memory_order_release);
  {
    MutexLock lock(&senders_mu_);
    closing_.store(true);
  }
  // Senders waiting for tx resources give up; queued frames are still injected (or
  // fail explicitly) by the transmit thread before it stops.
  tx_freed_.notify_all();
  {
    MutexLock lock(&tx_mu_);
    tx_stop_ = true;
  }
  tx_ready_.notify_all();
  if (tx_thread_.joinable()) tx_thread_.join();
  {
    std::unique_lock<Mutex> lock(senders_mu_);
    senders_left_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return active_senders_ == 0; });
  }
  std::vector<std::shared_ptr<CaptureSubscriber>> subscribers;
  {
    MutexLock lock(&subscribers_mu_);
    subscribers.swap(subscribers_);
    subscribers_version_.fetch_add(1, std::memory_order_release);
  }
  for (const auto& s : subscribers) s->Close();
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t written = write(stop_fd_, &one, sizeof(one));
  }
  if (rx_thread_.joinable()) rx_thread_.join();
  std::vector<std::shared_ptr<RxPath>> receive_paths;
  {
    MutexLock lock(&tune_mu_);
    receive_paths.swap(retired_rx_);
    pending_rx_.reset();  // built by a TunePool the receive thread never took: no frames
    retired_tx_packets_.clear();  // closing a retired pool lets it drain by itself
    retired_tx_buffers_.clear();
  }
  if (std::shared_ptr<RxPath> current = rx_.load()) receive_paths.push_back(std::move(current));
  rx_.store(nullptr);
  for (auto& path : receive_paths) {
    path->DrainReturned();
    if (path->WaitForFrames(absl::Seconds(10))) continue;
    // Someone still holds frames: keep the receive pools alive rather than free memory
    // that is still referenced.
    std::fprintf(stderr, "<3>pktpool: binding %s closed with %lld frames still held\n",
                 interface_.c_str(), static_cast<long long>(path->frames_out()));
    new std::shared_ptr<RxPath>(std::move(path));  // deliberately leaked
  }
  receive_paths.clear();
  tx_.store(nullptr);
  capture_.reset();
  {
    std::unique_lock lock(io_mu_);
    inject_.reset();
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  epoll_fd_ = stop_fd_ = -1;
}

}  // namespace pktpool::capture
