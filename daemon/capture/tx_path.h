// TxPath: a binding's NDIS send path. Its transmit pools (TXPK packets, TXBD buffer
// descriptors mapping TXBF memory), the inject socket, the transmit thread that keeps
// the time of timed sends, and completion like ProtocolSendComplete. A SendSession is
// one timeline of frames on it: a SendFrames call, or a whole StreamSendFrames stream.
#ifndef PKTPOOL_DAEMON_CAPTURE_TX_PATH_H_
#define PKTPOOL_DAEMON_CAPTURE_TX_PATH_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
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
#include "daemon/capture/pcap_handle.h"
#include "daemon/capture/send_schedule.h"
#include "daemon/pool/mutex.h"
#include "daemon/pool/packet_pool.h"
#include "daemon/pool/pool_stats.h"

namespace pktpool::capture {

// Why a frame was not sent.
enum class SendError : uint8_t {
  kNone,           // sent
  kResources,      // no tx packet or buffer within the wait (NDIS_STATUS_RESOURCES)
  kEmptyFrame,     // zero bytes
  kFrameTooLarge,  // larger than the tx buffers can hold or libpcap can inject
  kBindingDown,    // the interface is gone (the binding is DOWN)
  kInjectFailed,   // the kernel refused it (detail has the reason, e.g. over the MTU)
  kClosed,         // the binding is closing (a timed frame not yet due is not sent)
  kCancelled,      // the client cancelled the send before the frame's time came
};
inline constexpr int kSendErrorCount = 8;
// "sent", "resources", "empty_frame", ... (stable names, used in stats).
std::string_view SendErrorName(SendError error);

// What happened to one frame of a Send call.
struct FrameResult {
  SendError error = SendError::kNone;  // the first failure, if any
  uint32_t sent = 0;                   // times injected (repeat > 1 sends it repeatedly)
  uint32_t skipped = 0;                // times not sent: the limit or duration was reached
  std::string detail;                  // the kernel's reason for kInjectFailed
};

// How to send. The pacing fields and repeat apply to one Send call; limit, duration and
// cancelled to the whole session (as given to StartSession).
struct SendOptions {
  // How long to wait for a free tx packet or buffer; zero fails at once with kResources.
  absl::Duration wait_for_resources = absl::ZeroDuration();
  double frames_per_second = 0;  // pacing (SendPacing); 0: no frame rate
  uint32_t repeat = 1;           // the frames are sent this many times, in order
  double megabits_per_second = 0;  // pacing by bit rate (SendPacing); 0: none
  double multiplier = 1;           // recorded timing (offsets): speed factor
  uint32_t max_burst = 0;          // catch-up bound (SendPacing); 0: none
  uint64_t limit = 0;              // at most this many injections in the session; 0: none
  // Timed: frames due later than this after the timeline's start are not sent. Untimed:
  // no frame starts after this long since the first injection. Infinite: no limit.
  absl::Duration duration = absl::InfiniteDuration();
  // Polled while the session waits (about every 10 ms); true cancels it (Cancel).
  std::function<bool()> cancelled = nullptr;

  // The pacing of a Send call; `recorded` when it carries offsets.
  SendPacing Pacing(bool recorded) const;
};

// What a session did: SendSession::Finish.
struct SendReport {
  uint64_t frames_sent = 0;     // injections, repeats counted
  uint64_t frames_failed = 0;   // frames of the Send calls with a failure (each once)
  uint64_t frames_skipped = 0;  // injections not made: limit or duration reached
  uint64_t bytes_sent = 0;
  uint64_t last_frame_bytes = 0;  // the last frame sent (rates leave it out)
  absl::Time first_sent = absl::InfinitePast();  // start of the first injection
  absl::Time last_sent = absl::InfinitePast();   // end of the last injection
  bool timed = false;             // some frames had a due time: lateness below applies
  LatenessHistogram lateness{absl::ToInt64Nanoseconds(kSendLateThreshold)};
  int64_t slip_ns = 0;            // how far max_burst moved the timeline
  bool limit_reached = false;     // limit or duration ended the session early

  // Over the span from the first to the last injection: frames_sent - 1 frames and the
  // bits of every frame but the last, so a perfectly paced send shows its exact rate.
  double frames_per_second() const;
  double bits_per_second() const;
};

// Counters of a TxPath (Binding::Stats).
struct TxStats {
  uint64_t frames = 0;
  uint64_t bytes = 0;
  uint64_t failures[kSendErrorCount] = {};  // indexed by SendError
  uint32_t queue_depth = 0;                 // timed frames waiting for the transmit thread
  uint64_t late_frames = 0;  // timed frames that left over kSendLateThreshold late
  pool::PoolStats packets, buffers;
  std::vector<pool::PoolStats> draining;  // replaced generations with descriptors out
};

class TxPath;

// One timeline of frames on a TxPath. Send calls add frames in order; untimed frames are
// injected by the calling thread before Send returns, timed ones are built at most a
// look-ahead ahead of the wire and injected by the transmit thread at their due time.
// Frames of successive Send calls share the timeline while their pacing is the same; a
// call with different pacing waits for everything sent before and starts a new one.
// Send, Finish and the destructor: one thread at a time. Cancel: any thread.
// Must not outlive the TxPath (its Binding).
class SendSession {
 public:
  ~SendSession();  // Cancel() then Finish() when Finish was not called
  SendSession(const SendSession&) = delete;
  SendSession& operator=(const SendSession&) = delete;

  // Sends `frames` in order (repeat times), at the pacing of `options`. `offsets_ns`:
  // empty, or one per frame, each its recorded offset from the timeline's start. With
  // repeat, round r's frame i is at offsets_ns[i] + r x RepeatPeriod(offsets_ns).
  // `results`: null, or one per frame, filled in by the time Finish returns (the
  // caller keeps it alive until then). Returns once every frame is injected, queued or
  // failed; never drops an accepted frame silently.
  void Send(std::span<const std::span<const uint8_t>> frames, std::span<const int64_t> offsets_ns,
            const SendOptions& options, std::vector<FrameResult>* results);

  // Fails every frame not injected yet (kCancelled); later Send calls send nothing.
  void Cancel();

  // Waits until every frame is injected or failed and returns what happened.
  // Idempotent.
  SendReport Finish();

 private:
  friend class TxPath;
  struct Batch {
    std::vector<FrameResult>* results;  // the caller's, or own
    std::vector<FrameResult> own;
    uint32_t pending = 0;  // frames built and not completed
    bool adding = true;    // its Send call is still running
  };
  SendSession(TxPath* tx, const SendOptions& options);
  // Waits until fewer than `limit` frames are in flight (built, not completed), polling
  // the cancel callback. After a cancel or Close the transmit thread fails what it holds,
  // so the count still falls.
  void WaitInFlightBelow(uint32_t limit) ABSL_LOCKS_EXCLUDED(mu_);
  void PollCancelled();  // Cancel() when the options' callback says so
  // Folds a finished batch into the report and forgets it. mu_ held.
  void Fold(std::list<Batch>::iterator batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  TxPath* const tx_;
  const uint64_t limit_;
  const absl::Duration duration_;
  const std::function<bool()> cancelled_check_;
  const absl::Duration wall_minus_monotonic_;  // monotonic ns -> wall time, for the report
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> over_{false};  // limit, duration, cancel: nothing more is sent

  // The timeline of the current pacing (the calling thread's).
  SendPacing pacing_;
  std::optional<SendTimeline> timeline_;
  uint64_t timeline_id_ = 0;
  int64_t t0_ = 0;  // monotonic ns of the timeline's start; 0: not started
  uint64_t attempted_ = 0;  // injections tried (limit)

  // The transmit thread's, for the current timeline: reset when it sees a new id.
  uint64_t pacer_timeline_ = ~uint64_t{0};
  std::optional<Pacer> pacer_;

  Mutex mu_;
  std::condition_variable_any changed_;  // in flight fell (wake_below) or reached 0
  uint32_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t wake_below_ ABSL_GUARDED_BY(mu_) = 0;
  std::list<Batch> batches_ ABSL_GUARDED_BY(mu_);
  SendReport report_ ABSL_GUARDED_BY(mu_);
  int64_t first_sent_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_sent_ns_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ = false;
};

// Thread-safe: StartSession, Send, the pool and inject handle calls and Stats may be
// called from any thread.
class TxPath {
 public:
  // Transmit pools of `sizes` charged to `memory` (which must outlive the TxPath), and
  // the transmit thread, named "tx " + `interface` (top -H shows it). `interface_changed`
  // tells a refused frame on a vanished interface (kBindingDown) from one the kernel
  // refused (kInjectFailed).
  static absl::StatusOr<std::unique_ptr<TxPath>> Create(pool::TaggedMemory* memory,
                                                       const PoolSizes& sizes,
                                                       const std::string& interface,
                                                       std::function<bool()> interface_changed);
  ~TxPath();  // Close()

  // The inject handle, or none while the interface is gone (frames fail with kBindingDown).
  void SetInjectHandle(std::optional<PcapHandle> handle);

  // A new timeline. limit, duration and cancelled of `options` apply to all of it.
  std::unique_ptr<SendSession> StartSession(const SendOptions& options);
  // One session with one Send call: the frames' results once every frame is done.
  std::vector<FrameResult> Send(std::span<const std::span<const uint8_t>> frames,
                                const SendOptions& options,
                                std::span<const int64_t> offsets_ns = {});

  // Live tuning: new allocations use the new pool; the old one drains (Stats().draining)
  // and goes once its last descriptor is back (ReapRetired).
  void ReplacePackets(std::shared_ptr<pool::PacketPool> packets);
  void ReplaceBuffers(std::shared_ptr<BufferSlab> buffers);
  // Forgets retired generations that are empty. Any thread.
  void ReapRetired();

  // Fails new sends (kClosed), injects the queued frames already due, fails those not
  // yet due, stops the transmit thread and waits for the threads inside Send. Idempotent.
  void Close();
  // Drops the pools (after Close, once nothing can use them).
  void ReleasePools();

  TxStats Stats() const;

 private:
  friend class SendSession;
  struct Pools {
    std::shared_ptr<pool::PacketPool> packets;
    std::shared_ptr<BufferSlab> buffers;
  };
  // A built frame on its way to the wire.
  struct Item {
    pool::Packet* packet;
    SendSession* session;
    SendSession::Batch* batch;
    uint32_t index;     // the frame's place in its batch
    uint32_t bytes;
    int64_t due;        // monotonic ns; 0 for untimed frames
    uint64_t timeline;  // the session's timeline id (timed frames)
    uint32_t max_burst; // the timeline's catch-up bound (SendPacing)
  };

  explicit TxPath(std::function<bool()> interface_changed)
      : interface_changed_(std::move(interface_changed)) {}
  void Loop();  // the transmit thread
  // Enters a Send call; false when closing (the call fails its frames with kClosed).
  bool EnterSender();
  void LeaveSender();
  bool closing() const { return closing_.load(std::memory_order_acquire); }
  std::shared_ptr<const Pools> pools() const { return pools_.load(); }
  // A tx packet for `frame`, waiting for resources until `deadline`. `copy`: the frame is
  // copied into slot buffers (it may be injected after the caller's bytes are gone);
  // else one buffer maps the caller's bytes, which must live until completion.
  pool::Packet* Build(const Pools& pools, std::span<const uint8_t> frame, absl::Time deadline,
                      bool copy);
  void FreePacket(pool::Packet* packet);
  void NotifyFreed();
  // Untimed: injects items[0..n) on the calling thread and completes them.
  void InjectNow(std::vector<Item>* items);
  // Timed: hands items to the transmit thread (or fails them, kClosed, when it stopped).
  void Enqueue(std::vector<Item>* items);
  // One sendmmsg where possible; fills errors and details.
  void InjectBatch(const Item* items, size_t n, SendError* errors, std::string* details);
  SendError InjectOne(pool::Packet* packet, std::string* detail);
  // ProtocolSendComplete for items[0..n) (consecutive, often of one session): status into
  // OOB, packets and buffers back, results recorded, senders woken. `started` and `ended`
  // (monotonic ns) bracket the injection.
  void Complete(const Item* items, const SendError* errors, std::string* details, size_t n,
                int64_t started, int64_t ended);
  void Wake();  // the transmit thread, to look at its queue and sessions again

  const std::function<bool()> interface_changed_;
  std::atomic<std::shared_ptr<const Pools>> pools_;
  mutable Mutex retired_mu_;
  std::vector<std::shared_ptr<pool::PacketPool>> retired_packets_ ABSL_GUARDED_BY(retired_mu_);
  std::vector<std::shared_ptr<BufferSlab>> retired_buffers_ ABSL_GUARDED_BY(retired_mu_);

  // Senders and the transmit thread inject under a shared lock (sending on one packet
  // socket from several threads is safe); SetInjectHandle swaps it under the exclusive lock.
  std::shared_mutex io_mu_;
  std::optional<PcapHandle> inject_;
  std::atomic<bool> up_{false};

  std::atomic<bool> closing_{false};
  Mutex queue_mu_;
  std::condition_variable_any queued_;  // the transmit thread waits for items or a wake
  std::deque<Item> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stop_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool woken_ ABSL_GUARDED_BY(queue_mu_) = false;
  // Set with woken_ or stop_ (and read without the lock): the transmit thread busy with
  // timed frames looks at the queue only when it holds items or there is news.
  std::atomic<bool> news_{false};
  // Senders waiting for tx resources. The generation moves on every free; the lock is
  // taken to notify only when someone waits.
  Mutex freed_mu_;
  std::condition_variable_any freed_;
  std::atomic<uint64_t> free_generation_{0};
  std::atomic<uint32_t> free_waiters_{0};

  std::atomic<uint64_t> frames_{0}, bytes_{0}, late_frames_{0};
  std::atomic<uint64_t> failures_[kSendErrorCount] = {};
  std::atomic<uint32_t> queue_depth_{0};

  Mutex senders_mu_;
  std::condition_variable_any senders_left_;
  uint32_t active_senders_ ABSL_GUARDED_BY(senders_mu_) = 0;

  std::thread thread_;
  Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_TX_PATH_H_
