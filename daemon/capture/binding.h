// Binding: one interface bound through libpcap, with its four pools (rx/tx packets,
// rx/tx buffers), its receive thread and its transmit thread: the daemon's "protocol
// bound to a miniport".
#ifndef PKTPOOL_DAEMON_CAPTURE_BINDING_H_
#define PKTPOOL_DAEMON_CAPTURE_BINDING_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
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
#include "daemon/pool/mutex.h"
#include "daemon/pool/packet_pool.h"
#include "daemon/pool/pool_stats.h"
#include "daemon/pool/tagged_memory.h"

namespace pktpool::capture {

enum class BindingState : uint8_t { kBinding, kUp, kDown, kUnbinding };
// "BINDING", "UP", "DOWN", "UNBINDING".
std::string_view BindingStateName(BindingState state);

// Why a frame was not sent.
enum class SendError : uint8_t {
  kNone,           // sent
  kResources,      // no tx packet or buffer within the wait (NDIS_STATUS_RESOURCES)
  kEmptyFrame,     // zero bytes
  kFrameTooLarge,  // larger than the tx buffers can hold or libpcap can inject
  kBindingDown,    // the interface is gone (the binding is DOWN)
  kInjectFailed,   // the kernel refused it (detail has the reason, e.g. over the MTU)
  kClosed,         // the binding is closing
};
inline constexpr int kSendErrorCount = 7;
// "sent", "resources", "empty_frame", ... (stable names, used in stats).
std::string_view SendErrorName(SendError error);

// What happened to one frame of a Send call.
struct FrameResult {
  SendError error = SendError::kNone;  // the first failure, if any
  uint32_t sent = 0;                   // times injected (repeat > 1 sends it repeatedly)
  std::string detail;                  // libpcap's message for kInjectFailed
};

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

struct SendOptions {
  // How long to wait for a free tx packet or buffer; zero fails at once with kResources.
  absl::Duration wait_for_resources = absl::ZeroDuration();
  double frames_per_second = 0;  // pacing of this request; 0: as fast as possible
  uint32_t repeat = 1;           // the frames are sent this many times, in order
};

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
  uint32_t tx_queue_depth = 0;
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
// receive packet is out while some subscriber has nothing queued, the longest queue among
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
  // per frame. Never drops an accepted frame silently. Unpaced frames are injected by
  // the calling thread; paced ones by the transmit thread.
  std::vector<FrameResult> Send(std::span<const std::span<const uint8_t>> frames,
                                const SendOptions& options);

  // A new subscriber with a queue of `queue_capacity` frames. After Close, it is closed.
  std::shared_ptr<CaptureSubscriber> Subscribe(std::string name,
                                               uint32_t queue_capacity = kDefaultSubscriberQueue);
  // Detaches and closes a subscriber (its queued frames are released).
  void Unsubscribe(const std::shared_ptr<CaptureSubscriber>& subscriber);

  // Replaces one pool with a new generation, live: new allocations use it, the old one
  // drains (shown in Stats().draining) and is freed within about 100 ms of its last
  // descriptor coming back. Nothing in flight is lost. InvalidArgument for 0
  // descriptors or a bad size, ResourceExhausted over 0xFFFF packet descriptors (NDIS),
  // FailedPrecondition while closing.
  absl::StatusOr<TuneResult> TunePool(PoolId pool, const TuneRequest& request);

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
  // The transmit pools of one generation pair; senders take a snapshot per Send call.
  struct TxPools {
    std::shared_ptr<pool::PacketPool> packets;
    std::shared_ptr<BufferSlab> buffers;
  };
  struct SendBatch;
  struct TxItem {
    pool::Packet* packet;
    SendBatch* batch;
    uint32_t index;
    absl::Duration interval;
  };

  Binding(std::string interface, BindingOptions options);
  absl::Status Start();
  absl::Status OpenHandles();
  void PublishPcapCounters();
  void RxLoop();
  void TxLoop();
  void Receive(const struct pcap_pkthdr* header, const uint8_t* data);
  void DeliverBatch();
  void ReleaseStarvingPackets();  // the rule in the class comment; receive thread
  static void OnFrame(u_char* self, const struct pcap_pkthdr* header, const u_char* data);
  void GoDown(const std::string& why);
  void TryUp();
  bool InterfaceChanged() const;
  pool::Packet* BuildTxPacket(const TxPools& tx, std::span<const uint8_t> frame,
                             absl::Time deadline);
  // Completes items[0..n) (consecutive, often of one batch): frees their packets, records
  // each result, wakes senders.
  void Complete(const TxItem* items, const SendError* errors, std::string* details, size_t n);
  void FreeTxPacket(pool::Packet* packet);
  void NotifyTxFreed();
  void Enqueue(std::vector<TxItem>* items);
  // Unpaced frames: injected and completed by the calling thread, in order.
  void InjectNow(std::vector<TxItem>* items);
  SendError InjectOne(pool::Packet* packet, std::string* detail);
  // Injects items[0..n) with one sendmmsg where possible; fills errors and details.
  void InjectBatch(const TxItem* items, size_t n, SendError* errors, std::string* details);

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
  std::atomic<std::shared_ptr<const TxPools>> tx_;
  // TunePool state: generations, the next receive path, and retired ones draining.
  mutable Mutex tune_mu_;
  PoolSizes rx_sizes_ ABSL_GUARDED_BY(tune_mu_);
  PoolSizes tx_sizes_ ABSL_GUARDED_BY(tune_mu_);
  uint32_t generations_[4] ABSL_GUARDED_BY(tune_mu_) = {};
  std::shared_ptr<RxPath> pending_rx_ ABSL_GUARDED_BY(tune_mu_);
  std::atomic<bool> rx_pending_{false};
  std::vector<std::shared_ptr<RxPath>> retired_rx_ ABSL_GUARDED_BY(tune_mu_);
  std::vector<std::shared_ptr<pool::PacketPool>> retired_tx_packets_ ABSL_GUARDED_BY(tune_mu_);
  std::vector<std::shared_ptr<BufferSlab>> retired_tx_buffers_ ABSL_GUARDED_BY(tune_mu_);

  // libpcap handles. The capture handle belongs to the receive thread (opened by Open
  // before the thread starts). The inject handle is used by senders and the transmit
  // thread under a shared lock of io_mu_ (sending on one packet socket from several
  // threads is safe); the receive thread swaps it under the exclusive lock on DOWN/UP.
  std::optional<PcapHandle> capture_;
  std::shared_mutex io_mu_;
  std::optional<PcapHandle> inject_;
  PcapCounters pcap_closed_;  // receive thread: counters of capture handles closed
  std::atomic<uint64_t> pcap_received_{0}, pcap_dropped_{0}, pcap_if_dropped_{0};
  int epoll_fd_ = -1;
  int stop_fd_ = -1;  // eventfd that wakes the receive thread for Close

  mutable Mutex subscribers_mu_;
  std::vector<std::shared_ptr<CaptureSubscriber>> subscribers_ ABSL_GUARDED_BY(subscribers_mu_);
  std::atomic<uint64_t> subscribers_version_{0};
  std::vector<std::shared_ptr<CaptureSubscriber>> rx_subscribers_;  // receive thread's copy
  std::vector<RxFrame> rx_batch_;  // receive thread: frames of one dispatch, offered together
  absl::Time rx_starved_logged_ = absl::InfinitePast();  // the last log line about it
  uint64_t rx_starved_unlogged_ = 0;                     // frames dropped since then
  uint64_t rx_subscribers_version_ = ~uint64_t{0};

  Mutex tx_mu_;
  std::condition_variable_any tx_ready_;  // the transmit thread waits for items
  std::deque<TxItem> tx_queue_ ABSL_GUARDED_BY(tx_mu_);
  bool tx_stop_ ABSL_GUARDED_BY(tx_mu_) = false;
  // Senders waiting for tx resources. The generation moves on every free; the transmit
  // thread takes the lock and notifies only when someone waits.
  Mutex tx_free_mu_;
  std::condition_variable_any tx_freed_;
  std::atomic<uint64_t> tx_free_generation_{0};
  std::atomic<uint32_t> tx_free_waiters_{0};

  std::atomic<uint64_t> rx_frames_{0}, rx_bytes_{0}, rx_resource_drops_{0};
  std::atomic<uint64_t> tx_frames_{0}, tx_bytes_{0};
  std::atomic<uint64_t> tx_failures_[kSendErrorCount] = {};
  std::atomic<uint32_t> tx_queue_depth_{0};
  std::atomic<uint64_t> down_events_{0};

  Mutex senders_mu_;
  std::condition_variable_any senders_left_;
  uint32_t active_senders_ ABSL_GUARDED_BY(senders_mu_) = 0;

  std::thread rx_thread_;
  std::thread tx_thread_;
  Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_BINDING_H_
