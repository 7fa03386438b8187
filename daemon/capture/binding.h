// Binding: one interface bound through libpcap, with its four pools (rx/tx packets,
// rx/tx buffers), its receive thread and its transmit thread: the daemon's "protocol
// bound to a miniport".
#ifndef PKTPOOL_DAEMON_CAPTURE_BINDING_H_
#define PKTPOOL_DAEMON_CAPTURE_BINDING_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <deque>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/capture/binding_options.h"
#include "daemon/capture/buffer_slab.h"
#include "daemon/capture/capture_subscriber.h"
#include "daemon/capture/pcap_handle.h"
#include "daemon/capture/rx_path.h"
#include "daemon/capture/tx_path.h"
#include "daemon/pool/mutex.h"
#include "daemon/pool/packet_pool.h"
#include "daemon/pool/pool_stats.h"
#include "daemon/pool/tagged_memory.h"

namespace pktpool::capture {

enum class BindingState : uint8_t { kBinding, kUp, kDown, kUnbinding };
// "BINDING", "UP", "DOWN", "UNBINDING".
std::string_view BindingStateName(BindingState state);

// The four pools of a binding.
enum class PoolId : uint8_t { kRxPackets, kRxBuffers, kTxPackets, kTxBuffers };

// New sizes for one pool (TunePool). Packet pools: descriptors and overflow; buffer
// pools: descriptors is the buffer count, buffer_size the bytes per buffer (0: keep).
struct TuneRequest {
  uint32_t descriptors = 0;
  uint32_t overflow = 0;
  uint32_t buffer_size = 0;
};

struct TuneResult {
  pool::PoolStats applied;        // the new generation
  bool overflow_clamped = false;  // NdisAllocatePacketPoolEx reduced the overflow
};

// Bytes of pool memory one path with `sizes` takes: its packet descriptors (overflow ones
// at their maximum, after the 0xFFFF clamp), its buffer descriptors and the memory they
// map. What the memory budget (limits.max_pool_memory) counts.
uint64_t PoolMemoryBytes(const PoolSizes& sizes);

struct BindingStats;
// Pool memory a binding held when `stats` was read (Binding::PoolMemoryInUse).
uint64_t PoolMemoryInUse(const BindingStats& stats);

struct BindingStats {
  std::string interface;
  BindingState state = BindingState::kBinding;
  int32_t interface_index = 0;
  uint64_t rx_frames = 0;
  uint64_t rx_bytes = 0;             // wire lengths
  uint64_t rx_resource_drops = 0;    // frames lost for want of a packet or buffer
  uint64_t tx_frames = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_failures[kSendErrorCount] = {};  // indexed by SendError
  uint32_t tx_queue_depth = 0;       // timed frames waiting for the transmit thread
  uint64_t tx_late_frames = 0;       // timed frames that left over kSendLateThreshold late
  uint64_t down_events = 0;          // UP -> DOWN transitions
  PcapCounters pcap;                 // summed over every capture handle this binding had
  std::vector<SubscriberStats> subscribers;
  pool::PoolStats rx_packets, rx_buffers, tx_packets, tx_buffers;
  // Generations replaced by TunePool whose descriptors are not all back yet.
  std::vector<pool::PoolStats> draining;
  std::vector<pool::TagUsage> memory;  // the binding's tagged memory, by tag
};

// Thread-safe: Send, Subscribe, Unsubscribe and Stats may be called from any thread.
// Subscribers share the receive packets: a queued frame holds its packet. When every
// receive packet is out while some subscriber is still reading (has nothing queued, or
// popped within kStalledSubscriberIdle), the longest queue among
// subscribers that have not popped for kStalledSubscriberIdle loses its oldest frames
// (half the pool's worth), and that subscriber every new frame until it reads again, all
// counted in its `dropped`: a client that stops reading loses its own frames and cannot
// stop the others' capture. With one subscriber, or every holder still reading (however
// far behind), nothing is taken: hold mode then waits, as configured.
class Binding {
 public:
  // Binds `interface`: opens the capture and inject handles, builds the pools and the
  // receive preallocation, starts the threads. NotFound for an unknown interface,
  // InvalidArgument for a bad filter or option, ResourceExhausted when the pools cannot
  // be built, PermissionDenied without CAP_NET_RAW.
  static absl::StatusOr<std::unique_ptr<Binding>> Open(const std::string& interface,
                                                      const BindingOptions& options);
  ~Binding();  // Close()
  Binding(const Binding&) = delete;
  Binding& operator=(const Binding&) = delete;

  // Sends frames in order and waits until each is injected or has failed; one result
  // per frame. Never drops an accepted frame silently. Untimed frames are injected by
  // the calling thread; timed ones (a rate, or `offsets_ns`: one recorded offset per
  // frame) by the transmit thread at their due time (TxPath).
  std::vector<FrameResult> Send(std::span<const std::span<const uint8_t>> frames,
                                const SendOptions& options,
                                std::span<const int64_t> offsets_ns = {});
  // A timeline of sends (SendSession), e.g. for a stream. It must not outlive the
  // Binding; after Close its sends fail with kClosed.
  std::unique_ptr<SendSession> StartSend(const SendOptions& options);

  // A new subscriber with a queue of `queue_capacity` frames (wakeup: see
  // CaptureSubscriber). After Close, it is closed. The receive thread adopts it before its
  // next dispatch: its loss counts start then.
  std::shared_ptr<CaptureSubscriber> Subscribe(std::string name,
                                               uint32_t queue_capacity = kDefaultSubscriberQueue,
                                               std::function<void()> wakeup = {});
  // Asks the receive thread to stop `subscriber` now (CaptureSubscriber::Stop, with the
  // binding's drops read fresh), e.g. for StopCapture. Returns at once.
  void StopSubscriber(const std::shared_ptr<CaptureSubscriber>& subscriber);
  // The binding's drops as last published (kernel counts: within 100 ms).
  RxLossCounters LossCounters() const;
  // Detaches and closes a subscriber (its queued frames are released).
  void Unsubscribe(const std::shared_ptr<CaptureSubscriber>& subscriber);

  // Replaces one pool with a new generation, live: new allocations use it, the old one
  // drains (shown in Stats().draining) and is freed within about 100 ms of its last
  // descriptor coming back. Nothing in flight is lost. InvalidArgument for 0
  // descriptors or a bad size, ResourceExhausted over 0xFFFF packet descriptors (NDIS),
  // FailedPrecondition while closing. Under a pool::PopulationGuard whose caller gave up,
  // Cancelled with nothing changed (the new generation is freed unused).
  absl::StatusOr<TuneResult> TunePool(PoolId pool, const TuneRequest& request);

  // Pool memory Open(interface, options) allocates: both paths (PoolMemoryBytes).
  static uint64_t OpenMemoryBytes(const BindingOptions& options);
  // Pool memory TunePool(pool, request) allocates for its new generation (a receive tune
  // builds both receive pools); the old generation keeps its memory until it drained.
  uint64_t TuneMemoryBytes(PoolId pool, const TuneRequest& request) const;
  // Pool memory held now: every generation, draining ones included, overflow
  // descriptors at their maximum. 0 once closed.
  uint64_t PoolMemoryInUse() const;

  // UNBINDING: fails new sends, completes or fails every queued one, closes subscribers,
  // stops the threads, waits (up to 10 s) for held frames, and frees the pools.
  // Idempotent.
  void Close();

  BindingState state() const { return state_.load(std::memory_order_acquire); }
  const std::string& interface() const { return interface_; }
  // The options, with the pool sizes of the current generations.
  BindingOptions options() const;
  BindingStats Stats() const;

 private:
  Binding(std::string interface, BindingOptions options);
  absl::Status Start();
  absl::Status OpenHandles();
  void PublishPcapCounters();
  void RxLoop();
  void Receive(const struct pcap_pkthdr* header, const uint8_t* data);
  void DeliverBatch();
  // Receive thread: takes up a changed subscriber list (adopting new subscribers) and
  // stops those asked to stop.
  void SyncSubscribers();
  RxLossCounters FreshLossCounters();  // receive thread: publishes pcap counters first
  void WakeReceiveThread();            // any thread: its epoll_wait returns
  void ReleaseStarvingPackets();  // the rule in the class comment; receive thread
  static void OnFrame(u_char* self, const struct pcap_pkthdr* header, const u_char* data);
  void GoDown(const std::string& why);
  void TryUp();
  bool InterfaceChanged() const;

  const std::string interface_;
  const BindingOptions options_;
  std::atomic<BindingState> state_{BindingState::kBinding};
  std::atomic<int32_t> interface_index_{0};
  std::atomic<bool> closing_{false};

  void ReapRetired();

  pool::TaggedMemory memory_;
  uint32_t rx_frame_room_ = 0;  // bytes a preallocated receive chain holds
  std::atomic<std::shared_ptr<RxPath>> rx_;  // the current receive generation
  RxPath* rx_current_ = nullptr;             // receive thread's pointer to it
  std::unique_ptr<TxPath> tx_;  // the send path: transmit pools, inject handle, thread
  // TunePool state: generations, the next receive path, and retired ones draining.
  mutable Mutex tune_mu_;
  PoolSizes rx_sizes_ ABSL_GUARDED_BY(tune_mu_);
  PoolSizes tx_sizes_ ABSL_GUARDED_BY(tune_mu_);
  uint32_t generations_[4] ABSL_GUARDED_BY(tune_mu_) = {};
  std::shared_ptr<RxPath> pending_rx_ ABSL_GUARDED_BY(tune_mu_);
  std::atomic<bool> rx_pending_{false};
  std::vector<std::shared_ptr<RxPath>> retired_rx_ ABSL_GUARDED_BY(tune_mu_);

  // The capture handle belongs to the receive thread (opened by Open before the thread
  // starts). The inject handle is the TxPath's; the receive thread replaces it on DOWN/UP.
  std::optional<PcapHandle> capture_;
  PcapCounters pcap_closed_;  // receive thread: counters of capture handles closed
  std::atomic<uint64_t> pcap_received_{0}, pcap_dropped_{0}, pcap_if_dropped_{0};
  int epoll_fd_ = -1;
  int stop_fd_ = -1;  // eventfd that wakes the receive thread for Close
  int wake_fd_ = -1;  // eventfd that wakes it for StopSubscriber
  std::atomic<bool> stop_subscribers_{false};  // some subscriber asked to stop

  mutable Mutex subscribers_mu_;
  std::vector<std::shared_ptr<CaptureSubscriber>> subscribers_ ABSL_GUARDED_BY(subscribers_mu_);
  std::atomic<uint64_t> subscribers_version_{0};
  std::vector<std::shared_ptr<CaptureSubscriber>> rx_subscribers_;  // receive thread's copy
  std::vector<RxFrame> rx_batch_;  // receive thread: frames of one dispatch, offered together
  absl::Time rx_starved_logged_ = absl::InfinitePast();  // the last log line about it
  uint64_t rx_starved_unlogged_ = 0;                     // frames dropped since then
  uint64_t rx_subscribers_version_ = ~uint64_t{0};

  std::atomic<uint64_t> rx_frames_{0}, rx_bytes_{0}, rx_resource_drops_{0};
  std::atomic<uint64_t> down_events_{0};

  std::thread rx_thread_;
  Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_BINDING_H_
