#include "daemon/capture/binding.h"

#include <net/if.h>
#include <pthread.h>
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
constexpr uint32_t kWakeEvent = 2;
constexpr int kMaxDispatchRounds = 64;  // per wake-up, so Close is never starved
// rx_hold_when_exhausted: frames taken per dispatch at most, and the pause between
// looks at the pool while it is empty.
constexpr uint32_t kMaxHoldBudget = 4096;
constexpr absl::Duration kHoldRetry = absl::Milliseconds(1);
// Subscribe waits at most this long for the receive thread to adopt the subscriber.
constexpr absl::Duration kSubscribeWait = absl::Seconds(1);
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

Binding::~Binding() {
  Close();
  // Open until now: StopSubscriber may write to it from another thread until the end.
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status Binding::Start() {
  auto tx = TxPath::Create(&memory_, options_.tx, interface_,
                           [this] { return InterfaceChanged(); });
  if (!tx.ok()) return tx.status();
  tx_ = std::move(*tx);
  if (absl::Status opened = OpenHandles(); !opened.ok()) return opened;
  rx_frame_room_ = std::min(InterfaceMtu(interface_) + kLinkHeaderRoomBytes, options_.snaplen);
  auto rx = RxPath::Create(&memory_, options_.rx, rx_frame_room_, options_.rx_preallocate);
  if (!rx.ok()) return rx.status();
  rx_current_ = rx->get();
  rx_.store(std::shared_ptr<RxPath>(std::move(*rx)));
  {
    MutexLock lock(&tune_mu_);
    rx_sizes_ = options_.rx;
    tx_sizes_ = options_.tx;
  }

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || stop_fd_ < 0 || wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("epoll/eventfd: ", std::strerror(errno)));
  }
  epoll_event stop{};
  stop.events = EPOLLIN;
  stop.data.u32 = kStopEvent;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &stop);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.u32 = kWakeEvent;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
  epoll_event capture{};
  capture.events = EPOLLIN;
  capture.data.u32 = kCaptureEvent;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, capture_->selectable_fd(), &capture);

  state_.store(BindingState::kUp, std::memory_order_release);
  rx_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), ("rx " + interface_).substr(0, 15).c_str());
    RxLoop();
  });
  return absl::OkStatus();
}

absl::Status Binding::OpenHandles() {
  auto capture = PcapHandle::OpenCapture(interface_, options_);
  if (!capture.ok()) return capture.status();
  auto inject = PcapHandle::OpenInject(interface_);
  if (!inject.ok()) return inject.status();
  capture_ = std::move(*capture);
  interface_index_.store(static_cast<int32_t>(if_nametoindex(interface_.c_str())),
                         std::memory_order_relaxed);
  tx_->SetInjectHandle(std::move(*inject));
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
  // tv_usec holds nanoseconds or microseconds, as options_.timestamp_precision asked.
  const int64_t fraction_unit_ns =
      options_.timestamp_precision == TimestampPrecision::kMicro ? 1000 : 1;
  const absl::Time timestamp = absl::FromUnixSeconds(header->ts.tv_sec) +
                               absl::Nanoseconds(header->ts.tv_usec * fraction_unit_ns);
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

void Binding::SyncSubscribers() {
  const uint64_t version = subscribers_version_.load(std::memory_order_acquire);
  if (version != rx_subscribers_version_) {
    {
      MutexLock lock(&subscribers_mu_);
      rx_subscribers_ = subscribers_;
      rx_subscribers_version_ = subscribers_version_.load(std::memory_order_relaxed);
    }
    // New subscribers count their losses from here: every frame dispatched from now on
    // is offered to them.
    std::optional<RxLossCounters> now;
    for (const auto& subscriber : rx_subscribers_) {
      if (!subscriber->accepting() && !subscriber->closed() && !subscriber->stop_requested()) {
        if (!now) now = FreshLossCounters();
        subscriber->Adopt(*now);
      }
    }
  }
  if (stop_subscribers_.exchange(false, std::memory_order_acq_rel)) {
    std::optional<RxLossCounters> now;
    for (const auto& subscriber : rx_subscribers_) {
      if (subscriber->stop_requested()) {
        if (!now) now = FreshLossCounters();
        subscriber->Adopt(*now);  // no-op when adopted; else its counts stay zero
        subscriber->Stop(*now);
      }
    }
  }
}

RxLossCounters Binding::FreshLossCounters() {
  if (capture_) PublishPcapCounters();
  return LossCounters();
}

RxLossCounters Binding::LossCounters() const {
  return {rx_resource_drops_.load(std::memory_order_relaxed),
          pcap_dropped_.load(std::memory_order_relaxed),
          pcap_if_dropped_.load(std::memory_order_relaxed)};
}

void Binding::StopSubscriber(const std::shared_ptr<CaptureSubscriber>& subscriber) {
  subscriber->RequestStop();
  if (closing_.load()) return;  // Close closed it already
  stop_subscribers_.store(true, std::memory_order_release);
  WakeReceiveThread();
}

void Binding::WakeReceiveThread() {
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t written = write(wake_fd_, &one, sizeof(one));
  }
}

void Binding::DeliverBatch() {
  // One lock per subscriber per dispatch, not per frame.
  for (const auto& subscriber : rx_subscribers_) subscriber->OfferBatch(rx_batch_);
  rx_batch_.clear();  // the receive thread's references go; subscribers hold theirs
}

void Binding::ReleaseStarvingPackets() {
  if (rx_subscribers_.size() < 2 || rx_current_->Available() > 0) return;
  // Every receive packet is out. Someone starves if a subscriber has nothing queued or is
  // still reading (popped within kStalledSubscriberIdle): a reader that polls can hold the
  // one frame the last free packet brought whenever this looks, and would otherwise get
  // one frame per poll while the ring overflows. The candidate is the longest queue of a
  // subscriber that has not popped for kStalledSubscriberIdle (stopped reading). One still
  // reading, however far behind, is never cut.
  const absl::Time now = absl::Now();
  CaptureSubscriber* longest = nullptr;
  size_t longest_queued = 0;
  bool someone_starves = false;
  for (const auto& subscriber : rx_subscribers_) {
    const size_t queued = subscriber->queued();
    const bool reading = now - subscriber->last_pop() < kStalledSubscriberIdle;
    someone_starves |= (queued == 0 || reading) && subscriber->accepting();
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
  tx_->SetInjectHandle(std::nullopt);
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
      ready = 0;  // a StopSubscriber is seen within hold_ms
    } else {
      ready = epoll_wait(epoll_fd_, events, 4, poll_ms);
    }
    bool stop = false;
    for (int i = 0; i < ready; ++i) {
      stop |= events[i].data.u32 == kStopEvent;
      if (events[i].data.u32 == kWakeEvent) {
        uint64_t count;
        [[maybe_unused]] ssize_t got = read(wake_fd_, &count, sizeof(count));
      }
    }
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
    SyncSubscribers();
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
        SyncSubscribers();  // a subscriber's start and stop are not held up by a burst
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

// ---- send ------------------------------------------------------------------------

std::vector<FrameResult> Binding::Send(std::span<const std::span<const uint8_t>> frames,
                                       const SendOptions& options,
                                       std::span<const int64_t> offsets_ns) {
  return tx_->Send(frames, options, offsets_ns);
}

std::unique_ptr<SendSession> Binding::StartSend(const SendOptions& options) {
  return tx_->StartSession(options);
}

// ---- subscribers, stats, close ------------------------------------------------------

std::shared_ptr<CaptureSubscriber> Binding::Subscribe(std::string name, uint32_t queue_capacity,
                                                      std::function<void()> wakeup) {
  auto subscriber =
      std::make_shared<CaptureSubscriber>(std::move(name), queue_capacity, std::move(wakeup));
  if (closing_.load()) {
    subscriber->Close();
    return subscriber;
  }
  {
    MutexLock lock(&subscribers_mu_);
    if (closing_.load()) {  // Close took the list already
      subscriber->Close();
      return subscriber;
    }
    subscribers_.push_back(subscriber);
    subscribers_version_.fetch_add(1, std::memory_order_release);
  }
  // Back once the receive thread has adopted it: every frame received from then on is
  // offered to it or counted as lost for it, so its counts hold from the caller's "now".
  WakeReceiveThread();
  if (!subscriber->WaitAdopted(kSubscribeWait)) {
    std::fprintf(stderr, "<4>pktpool: binding %s: the receive thread took over %lld ms to "
                 "take up subscriber '%s'\n", interface_.c_str(),
                 static_cast<long long>(absl::ToInt64Milliseconds(kSubscribeWait)),
                 subscriber->Stats().name.c_str());
  }
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
  tx_->ReapRetired();
}

namespace {

// A tune whose caller gave up (pool::PopulationGuard) once its new generation was built:
// it is dropped unused, the old one stays.
absl::Status AbandonedTune(const std::string& interface) {
  return absl::CancelledError(absl::StrCat("TunePool of '", interface,
                                           "' abandoned: its caller gave up while the new "
                                           "pool was being populated; nothing changed"));
}

}  // namespace

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
    if (pool::PopulationGuard::Abandoned()) return AbandonedTune(interface_);
    std::shared_ptr<pool::PacketPool> packets(created->release(), pool::PacketPool::Closer());
    tx_->ReplacePackets(packets);
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
    if (pool::PopulationGuard::Abandoned()) return AbandonedTune(interface_);
    std::shared_ptr<BufferSlab> buffers(std::move(*created));
    tx_->ReplaceBuffers(buffers);
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
    if (pool::PopulationGuard::Abandoned()) return AbandonedTune(interface_);
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

namespace {

uint64_t PacketPoolBytes(uint32_t descriptors, uint32_t overflow) {
  const uint64_t clamped = std::min(overflow, pool::kMaxPacketDescriptors -
                                                  std::min(descriptors, pool::kMaxPacketDescriptors));
  return (static_cast<uint64_t>(descriptors) + clamped) * pool::PacketPool::DescriptorBytes();
}

uint64_t BufferPoolBytes(uint32_t count, uint32_t buffer_size) {
  return static_cast<uint64_t>(count) * (pool::BufferPool::DescriptorBytes() + buffer_size);
}

// Overflow descriptors a packet pool may still allocate one by one: counted at once.
uint64_t OverflowReserve(const pool::PoolStats& stats) {
  if (stats.kind != pool::PoolKind::kPacket) return 0;
  return static_cast<uint64_t>(stats.overflow_limit) * pool::PacketPool::DescriptorBytes();
}

}  // namespace

uint64_t PoolMemoryBytes(const PoolSizes& sizes) {
  return PacketPoolBytes(sizes.packet_descriptors, sizes.packet_overflow) +
         BufferPoolBytes(sizes.buffer_count, sizes.buffer_size);
}

uint64_t Binding::OpenMemoryBytes(const BindingOptions& options) {
  return PoolMemoryBytes(options.rx) + PoolMemoryBytes(options.tx);
}

uint64_t Binding::TuneMemoryBytes(PoolId which, const TuneRequest& request) const {
  MutexLock lock(&tune_mu_);
  switch (which) {
    case PoolId::kTxPackets: return PacketPoolBytes(request.descriptors, request.overflow);
    case PoolId::kTxBuffers:
      return BufferPoolBytes(request.descriptors, request.buffer_size != 0 ? request.buffer_size
                                                                          : tx_sizes_.buffer_size);
    case PoolId::kRxPackets: {
      PoolSizes sizes = rx_sizes_;
      sizes.packet_descriptors = request.descriptors;
      sizes.packet_overflow = request.overflow;
      return PoolMemoryBytes(sizes);
    }
    case PoolId::kRxBuffers: {
      PoolSizes sizes = rx_sizes_;
      sizes.buffer_count = request.descriptors;
      if (request.buffer_size != 0) sizes.buffer_size = request.buffer_size;
      return PoolMemoryBytes(sizes);
    }
  }
  return 0;
}

uint64_t Binding::PoolMemoryInUse() const { return capture::PoolMemoryInUse(Stats()); }

uint64_t PoolMemoryInUse(const BindingStats& stats) {
  uint64_t bytes = 0;
  for (const pool::TagUsage& usage : stats.memory) bytes += usage.bytes_outstanding;
  for (const pool::PoolStats* pool : {&stats.rx_packets, &stats.tx_packets}) {
    bytes += OverflowReserve(*pool);
  }
  for (const pool::PoolStats& pool : stats.draining) bytes += OverflowReserve(pool);
  return bytes;
}

BindingStats Binding::Stats() const {
  BindingStats stats;
  stats.interface = interface_;
  stats.state = state();
  stats.interface_index = interface_index_.load(std::memory_order_relaxed);
  stats.rx_frames = rx_frames_.load(std::memory_order_relaxed);
  stats.rx_bytes = rx_bytes_.load(std::memory_order_relaxed);
  stats.rx_resource_drops = rx_resource_drops_.load(std::memory_order_relaxed);
  TxStats tx = tx_->Stats();
  stats.tx_frames = tx.frames;
  stats.tx_bytes = tx.bytes;
  std::copy(std::begin(tx.failures), std::end(tx.failures), std::begin(stats.tx_failures));
  stats.tx_queue_depth = tx.queue_depth;
  stats.tx_late_frames = tx.late_frames;
  stats.tx_packets = tx.packets;
  stats.tx_buffers = tx.buffers;
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
  }
  stats.draining.insert(stats.draining.end(), tx.draining.begin(), tx.draining.end());
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
  closing_.store(true);
  // New sends fail; queued frames already due are injected, the rest fail explicitly.
  if (tx_) tx_->Close();
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
  if (tx_) {
    tx_->SetInjectHandle(std::nullopt);
    tx_->ReleasePools();
  }
  capture_.reset();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  epoll_fd_ = stop_fd_ = -1;
}

}  // namespace pktpool::capture
