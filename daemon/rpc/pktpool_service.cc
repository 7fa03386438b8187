#include "daemon/rpc/pktpool_service.h"

#include <grpcpp/alarm.h>

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/capture/frame_filter.h"
#include "daemon/pool/tagged_memory.h"
#include "daemon/rpc/pool_tuning.h"
#include "daemon/rpc/proto_convert.h"
#include "daemon/rpc/request_validation.h"
#include "daemon/rpc/send_call.h"
#include "daemon/rpc/stats_snapshot.h"
#include "daemon/rpc/status_mapping.h"
#include "google/protobuf/util/time_util.h"
#include "proto/pcap_records.h"

#ifndef PKTPOOL_VERSION
#define PKTPOOL_VERSION "0.0.0"
#endif

namespace pktpool::rpc {
namespace {

using google::protobuf::util::TimeUtil;

// How long an idle capture stream waits before looking at its queue again, unless the
// receive thread wakes it first (a frame queued, or StopCapture).
constexpr absl::Duration kCapturePoll = absl::Milliseconds(5);
// After this long without a message, an idle capture stream gives its message's memory
// back (about 1 MiB: kCaptureMessageBytes); the next frame allocates it again.
constexpr absl::Duration kCaptureIdleRelease = absl::Seconds(1);
constexpr uint32_t kDefaultCaptureBatch = 256;         // CAPTURE_FORMAT_FRAMES
constexpr uint32_t kDefaultRecordBatch = 4096;         // CAPTURE_FORMAT_PCAP_RECORDS
constexpr uint32_t kMaxCaptureBatch = 4096;
// A capture message's frame bytes, about (either format): well under the smallest
// limits.max_message_bytes (2 MiB), whatever the frames' sizes.
constexpr size_t kCaptureMessageBytes = 1u << 20;
constexpr char kCaptureIdKey[] = "pktpool-capture-id";

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// True once the caller of `context` gave up: it cancelled, or the call's deadline passed.
bool CallerGaveUp(grpc::CallbackServerContext* context) {
  return context->IsCancelled() || context->deadline() <= std::chrono::system_clock::now();
}

// A Bind or TunePool (`what`) run under a pool::PopulationGuard: when it failed because its
// caller gave up while its pools were being populated, the status says so (its pools were
// freed, nothing changed); any other status as it is.
absl::Status UnlessGaveUp(grpc::CallbackServerContext* context, const std::string& what,
                          const absl::Status& status) {
  if (status.ok() || !CallerGaveUp(context)) return status;
  const bool deadline = context->deadline() <= std::chrono::system_clock::now();
  const std::string message = absl::StrCat(
      what, " abandoned: ", deadline ? "the call's deadline passed" : "the call was cancelled",
      " while its pools were being populated; nothing changed (give large pools a longer "
      "deadline: populating takes about a second per 1-4 GiB)");
  return deadline ? absl::DeadlineExceededError(message) : absl::CancelledError(message);
}

gpr_timespec After(absl::Duration delay) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_nanos(absl::ToInt64Nanoseconds(delay), GPR_TIMESPAN));
}

// Streams refused before they start: finish at once with `status`.
template <typename Response>
class FailedWriteStream final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FailedWriteStream(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};
template <typename Request>
class FailedReadStream final : public grpc::ServerReadReactor<Request> {
 public:
  explicit FailedReadStream(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

absl::Status StreamLimitError(uint32_t limit) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "too many open streams and paced sends (limit ", limit,
      "); close a Capture, WatchStats or StreamSendFrames stream, wait for a paced "
      "SendFrames to end, or raise limits.max_concurrent_streams"));
}

// A streaming reactor's claim on one of the service's stream places.
class StreamGuard {
 public:
  StreamGuard(std::atomic<uint32_t>* open) : open_(open) {}
  ~StreamGuard() { open_->fetch_sub(1); }

 private:
  std::atomic<uint32_t>* open_;
};

// A server stream that writes when it has something and otherwise waits on an alarm:
// the one place for the rules on write completion, cancellation and finishing once.
// Subclasses implement Next(), called under mu_ whenever the stream may write again.
//
// Finish is always the last thing an entry point does, after mu_ is released: the alarm's
// callback is not a reaction gRPC waits for, so once Finish is called OnDone may delete
// this on another thread at any moment (unlocking mu_ after that wrote to freed memory).
template <typename Response>
class AlarmedWriteStream : public grpc::ServerWriteReactor<Response> {
 public:
  void OnWriteDone(bool ok) override {
    Locked([&] {
      writing_ = false;
      if (!ok) {
        FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      } else if (finish_after_write_) {
        FinishOnce(grpc::Status::OK);
      } else {
        Resume();
      }
    });
  }

  // Any thread: ends a pending wait at once (its callback resumes the stream). Never
  // blocks: while the stream is busy it looks at its source again anyway.
  void Wake() {
    if (!waiting_.load(std::memory_order_acquire)) return;
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (lock.owns_lock() && alarm_pending_) alarm_.Cancel();
  }

  void OnCancel() override {
    Locked([&] {
      cancelled_ = true;
      if (alarm_pending_) {
        alarm_.Cancel();  // its callback runs soon and finishes the stream
      } else if (!writing_) {
        FinishOnce(grpc::Status::CANCELLED);
      }
    });
  }

 protected:
  // Under mu_: write one message (Write), wait (WaitThen), or finish (FinishOnce).
  virtual void Next() = 0;

  // Called at the end of the subclass's constructor.
  void Begin() {
    Locked([&] { Resume(); });
  }
  void Write(const Response* response) {
    writing_ = true;
    this->StartWrite(response);
  }
  void FinishAfterThisWrite() { finish_after_write_ = true; }
  void WaitThen(absl::Duration delay) {
    alarm_pending_ = true;
    waiting_.store(true, std::memory_order_release);
    alarm_.Set(After(delay), [this](bool) {
      Locked([&] {
        alarm_pending_ = false;
        waiting_.store(false, std::memory_order_relaxed);
        Resume();
      });
    });
  }
  // Under mu_, after WaitThen: ends the wait at once (the source has something now).
  void StopWaiting() {
    if (alarm_pending_) alarm_.Cancel();
  }
  // Under mu_: the stream ends with `status` once the entry point releases mu_.
  void FinishOnce(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    finish_status_ = status;
  }

 private:
  // Runs `step` under mu_, then the Finish it asked for, if any, after releasing mu_:
  // the last touch of this.
  template <typename Step>
  void Locked(Step step) {
    std::unique_lock<std::mutex> lock(mu_);
    step();
    if (!finish_status_.has_value()) return;
    grpc::Status status = std::move(*finish_status_);
    finish_status_.reset();
    lock.unlock();
    this->Finish(std::move(status));
  }

  void Resume() {
    if (finished_ || writing_ || alarm_pending_) return;
    if (cancelled_) {
      FinishOnce(grpc::Status::CANCELLED);
      return;
    }
    Next();
  }

  std::mutex mu_;
  grpc::Alarm alarm_;
  std::atomic<bool> waiting_{false};  // an alarm is set: Wake may cancel it
  bool writing_ = false;
  bool alarm_pending_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  bool finish_after_write_ = false;
  std::optional<grpc::Status> finish_status_;  // FinishOnce's, until mu_ is released
};

// Capture: a subscriber on the binding, drained by write completions, by the receive
// thread's wake-ups and, as a fallback, by alarms.
class CaptureStream final : public AlarmedWriteStream<v1::CaptureResponse> {
 public:
  CaptureStream(std::atomic<uint32_t>* open, grpc::CallbackServerContext* context,
                std::string id, std::function<void()> forget,
                std::shared_ptr<capture::Binding> binding, const v1::CaptureRequest& request,
                std::unique_ptr<capture::FrameFilter> filter)
      : guard_(open),
        forget_(std::move(forget)),
        binding_(std::move(binding)),
        filter_(std::move(filter)),
        snaplen_(request.snaplen()),
        remaining_(request.count()),
        records_(request.format() == v1::CAPTURE_FORMAT_PCAP_RECORDS),
        batch_(request.max_batch_frames() != 0
                   ? std::min(request.max_batch_frames(), kMaxCaptureBatch)
                   : (records_ ? kDefaultRecordBatch : kDefaultCaptureBatch)) {
    subscriber_ = binding_->Subscribe(
        std::move(id),
        request.queue_frames() == 0 ? capture::kDefaultSubscriberQueue : request.queue_frames(),
        [this] { Wake(); });
    // Initial metadata says "subscribed" and carries the id StopCapture takes: a client
    // that waits for it misses nothing after.
    context->AddInitialMetadata(kCaptureIdKey, subscriber_->Stats().name);
    StartSendInitialMetadata();
    Begin();
  }

  void OnDone() override {
    forget_();                           // StopCapture no longer finds it
    binding_->Unsubscribe(subscriber_);  // releases every queued frame
    delete this;
  }

  const std::shared_ptr<capture::CaptureSubscriber>& subscriber() const { return subscriber_; }

 private:
  // Writes what is queued, or waits a little for more. A batch the filter rejects whole
  // does not wait: the next one is popped at once, so a selective filter drains the
  // queue (and frees its packets) as fast as an unfiltered stream. Once stopped
  // (StopCapture) and drained, one last message carries the final counts.
  void Next() override {
    response_.Clear();
    frame_bytes_ = 0;
    Fill();
    // Stopped by the receive thread: nothing more comes; once the queue is empty the
    // counts are final.
    const bool last = final_pending_ && subscriber_->queued() == 0 && frames_.empty();
    if (Filled() > 0 || last) {
      SetLoss();
      if (last) {
        response_.set_final(true);
        final_pending_ = false;
        FinishAfterThisWrite();
      }
      last_message_ = absl::Now();
      holds_message_memory_ = true;
      Write(&response_);
    } else if (subscriber_->closed()) {
      FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              absl::StrCat("binding '", binding_->interface(),
                                           "' was unbound; capture ended")));
    } else {
      if (holds_message_memory_ && absl::Now() - last_message_ >= kCaptureIdleRelease) {
        ReleaseMessageMemory();
      }
      WaitThen(kCapturePoll);
      // A frame queued, or the stop done, between the pop and the alarm: no wait.
      NoteStop();
      if (subscriber_->queued() > 0 || final_pending_) StopWaiting();
    }
  }

  // Idle: frees the message's memory (Clear keeps a string's capacity and a repeated
  // field's elements). Called only while no write is pending, so nothing refers to it.
  void ReleaseMessageMemory() {
    v1::CaptureResponse empty;
    response_.Swap(&empty);
    if (next_ == frames_.size()) {
      std::vector<capture::RxFrame>().swap(frames_);
      next_ = 0;
    }
    holds_message_memory_ = false;
  }

  // Pops frames into response_ until a message is full or the queue is empty. Frames
  // popped that did not fit wait in frames_ for the next message.
  void Fill() {
    NoteStop();
    while (!Full() && !finishing_) {
      if (next_ == frames_.size()) {
        frames_.clear();
        next_ = 0;
        const size_t want = std::min<size_t>(batch_ - Filled(), 1024);
        if (subscriber_->PopBatch(&frames_, want, absl::ZeroDuration()) == 0) break;
      }
      Convert();
    }
  }

  bool Full() const { return Filled() >= batch_ || Bytes() >= kCaptureMessageBytes; }

  // Once the receive thread has stopped the subscriber (after StopCapture), the final
  // message is due (after what is still queued).
  void NoteStop() {
    if (stop_seen_ || !subscriber_->stop_requested()) return;
    stop_seen_ = subscriber_->stopped();
    final_pending_ = stop_seen_;
  }

  size_t Filled() const {
    return records_ ? response_.record_count() : static_cast<size_t>(response_.frames_size());
  }
  size_t Bytes() const { return records_ ? response_.pcap_records().size() : frame_bytes_; }

  // Adds the popped frames that pass the filter to response_ until it is full, then
  // releases those it went through.
  void Convert() {
    for (; next_ < frames_.size() && !Full(); ++next_) {
      const capture::RxFrame& frame = frames_[next_];
      if (filter_ && !filter_->Matches(frame)) {
        ++filtered_;
        continue;
      }
      uint32_t length = frame.captured_length();
      if (snaplen_ != 0) length = std::min(length, snaplen_);
      if (records_) {
        AppendRecord(frame, length);
      } else {
        v1::CapturedFrame* out = response_.add_frames();
        *out->mutable_timestamp() =
            TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(frame.timestamp()));
        out->set_wire_length(frame.wire_length());
        std::string* data = out->mutable_data();
        data->resize(length);
        pool::CopyOutOfPacket(frame.packet(),
                              {reinterpret_cast<uint8_t*>(data->data()), length});
        frame_bytes_ += length;
      }
      ++captured_;
      if (remaining_ != 0 && --remaining_ == 0) {
        FinishAfterThisWrite();
        finishing_ = true;
        next_ = frames_.size();
        break;
      }
    }
    if (next_ == frames_.size()) {
      frames_.clear();  // the packets go back to the binding's pool now
      next_ = 0;
    }
  }

  // One pcap record (little-endian header, then the bytes), copied straight from the
  // packet's buffer chain into the message.
  void AppendRecord(const capture::RxFrame& frame, uint32_t length) {
    std::string* records = response_.mutable_pcap_records();
    if (records->capacity() < kCaptureMessageBytes) records->reserve(kCaptureMessageBytes + 65536);
    const size_t at = records->size();
    records->resize(at + records::kRecordHeaderSize + length);
    uint8_t* out = reinterpret_cast<uint8_t*>(records->data() + at);
    records::WriteRecordHeader(out, absl::ToUnixNanos(frame.timestamp()), length,
                               std::max(frame.wire_length(), length));
    pool::CopyOutOfPacket(frame.packet(), {out + records::kRecordHeaderSize, length});
    response_.set_record_count(response_.record_count() + 1);
  }

  void SetLoss() {
    const capture::SubscriberLoss loss = subscriber_->Loss(binding_->LossCounters());
    v1::CaptureLoss* out = response_.mutable_loss();
    out->set_captured(captured_);
    out->set_filtered(filtered_);
    out->set_pool_empty(loss.binding.pool_empty);
    out->set_queue_full(loss.queue_full);
    out->set_stalled(loss.stalled);
    out->set_kernel(loss.binding.kernel);
    out->set_interface(loss.binding.interface);
    out->set_received(loss.offered + loss.binding.pool_empty + loss.binding.kernel);
    response_.set_dropped(loss.queue_full + loss.stalled);
  }

  StreamGuard guard_;
  std::function<void()> forget_;
  std::shared_ptr<capture::Binding> binding_;
  std::unique_ptr<capture::FrameFilter> filter_;
  const uint32_t snaplen_;
  uint64_t remaining_;
  const bool records_;
  const uint32_t batch_;
  uint64_t captured_ = 0;
  size_t frame_bytes_ = 0;  // CAPTURE_FORMAT_FRAMES: the frame bytes in response_
  uint64_t filtered_ = 0;
  bool finishing_ = false;      // count reached: this message is the last
  bool stop_seen_ = false;      // the receive thread stopped the subscriber
  bool final_pending_ = false;  // the final message is still to be written
  std::shared_ptr<capture::CaptureSubscriber> subscriber_;
  std::vector<capture::RxFrame> frames_;  // popped; frames_[next_...] not yet in a message
  size_t next_ = 0;
  v1::CaptureResponse response_;
  absl::Time last_message_ = absl::Now();  // when the last message was written
  bool holds_message_memory_ = false;      // response_ has grown since it was released
};

// WatchStats: one write per interval until the client cancels.
class WatchStream final : public AlarmedWriteStream<v1::GetStatsResponse> {
 public:
  using Collect = std::function<absl::StatusOr<v1::GetStatsResponse>()>;
  WatchStream(std::atomic<uint32_t>* open, Collect collect, absl::Duration interval)
      : guard_(open), collect_(std::move(collect)), interval_(interval) {
    Begin();
  }
  void OnDone() override { delete this; }

 private:
  // Alternates: write the stats now, then wait an interval.
  void Next() override {
    if (!due_) {
      due_ = true;
      WaitThen(interval_);
      return;
    }
    due_ = false;
    absl::StatusOr<v1::GetStatsResponse> stats = collect_();
    if (!stats.ok()) {
      FinishOnce(ToGrpcStatus(stats.status()));
      return;
    }
    response_ = std::move(*stats);
    Write(&response_);
  }

  StreamGuard guard_;
  Collect collect_;
  const absl::Duration interval_;
  bool due_ = true;  // the first update goes out at once
  v1::GetStatsResponse response_;
};

// StreamSendFrames: each message is one batch, sent in order on the stream's SendCall (one
// timeline while the timing stays the same); totals and timing at the end. Reads ahead
// while a batch is being sent (at most kSendReadAhead messages wait), so receiving and
// parsing the next message overlaps the injection of this one. One thread at a time
// sends; a message read while another thread sends is queued for it. Messages that may
// block (SendMayBlock), and the end of a stream that had such messages (it waits for the
// wire), run on a BlockingCalls thread, never on gRPC's.
class SendStream final : public grpc::ServerReadReactor<v1::SendFramesRequest> {
 public:
  SendStream(std::atomic<uint32_t>* open, std::unique_ptr<SendCall> call,
             v1::SendFramesResponse* response, BlockingCalls* blocking)
      : guard_(open), call_(std::move(call)), response_(response), blocking_(blocking) {
    StartRead(reading_.get());
  }
  void OnReadDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!ok) {
      reads_closed_ = true;  // the client closed its side (or went away)
    } else {
      pending_.push_back(std::move(reading_));
      reading_ = TakeSpare();
      if (pending_.size() < kSendReadAhead && failure_.ok()) {
        StartRead(reading_.get());
      } else {
        reads_paused_ = true;
      }
    }
    if (sending_) return;  // the sending thread takes it from here
    sending_ = true;
    lock.unlock();
    SendPending(/*on_worker=*/false);
  }
  void OnDone() override { delete this; }

 private:
  static constexpr size_t kSendReadAhead = 2;
  // Sends what is pending, in order, then finishes the stream once it is over. On a gRPC
  // thread (on_worker false) it hands the rest over to a BlockingCalls thread as soon as
  // the next message, or the end of the stream, may block.
  void SendPending(bool on_worker) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!pending_.empty() && failure_.ok()) {
      if (!on_worker && SendMayBlock(*pending_.front())) {
        lock.unlock();
        if (blocking_->Run([this] { SendPending(/*on_worker=*/true); })) return;
        on_worker = true;  // every thread is taken: send here rather than not at all
        lock.lock();
        continue;
      }
      std::unique_ptr<v1::SendFramesRequest> request = std::move(pending_.front());
      pending_.pop_front();
      if (reads_paused_ && !reads_closed_) {
        reads_paused_ = false;
        StartRead(reading_.get());
      }
      lock.unlock();
      absl::Status sent = call_->Send(*request, /*with_outcomes=*/false);
      request->Clear();  // keeps its frame strings' memory for the next parse
      lock.lock();
      spare_.push_back(std::move(request));
      if (!sent.ok()) failure_ = sent;
    }
    const bool finish = !finished_ && (!failure_.ok() || (reads_closed_ && pending_.empty()));
    if (!finish) {
      sending_ = false;
      return;
    }
    if (failure_.ok() && !on_worker && call_->may_block()) {
      // Finishing waits until the timed frames still queued have left.
      lock.unlock();
      if (blocking_->Run([this] { SendPending(/*on_worker=*/true); })) return;
      lock.lock();
    }
    sending_ = false;
    finished_ = true;
    absl::Status status = failure_;
    lock.unlock();
    if (status.ok()) status = call_->Finish(response_);
    Finish(ToGrpcStatus(status));  // OnDone may delete this now
  }
  // A cleared request from an earlier batch (its strings reused: no malloc per frame).
  std::unique_ptr<v1::SendFramesRequest> TakeSpare() {
    if (spare_.empty()) return std::make_unique<v1::SendFramesRequest>();
    auto request = std::move(spare_.back());
    spare_.pop_back();
    return request;
  }
  StreamGuard guard_;
  std::unique_ptr<SendCall> call_;    // used by the sending thread only
  v1::SendFramesResponse* response_;  // written by the sending thread only
  BlockingCalls* const blocking_;
  std::mutex mu_;
  std::unique_ptr<v1::SendFramesRequest> reading_ =
      std::make_unique<v1::SendFramesRequest>();  // the outstanding read's target
  std::deque<std::unique_ptr<v1::SendFramesRequest>> pending_;  // guarded by mu_
  std::vector<std::unique_ptr<v1::SendFramesRequest>> spare_;   // guarded by mu_
  bool sending_ = false, reads_paused_ = false, reads_closed_ = false, finished_ = false;
  absl::Status failure_;                          // the first failed batch
};

}  // namespace

PktPoolService::PktPoolService(BindingTable* bindings, ServiceLimits limits)
    : bindings_(bindings), limits_(limits), blocking_(limits.max_concurrent_streams) {}

bool PktPoolService::TakeStreamSlot() {
  if (open_streams_.fetch_add(1) >= limits_.max_concurrent_streams) {
    open_streams_.fetch_sub(1);
    return false;
  }
  return true;
}

grpc::ServerUnaryReactor* PktPoolService::ListBindings(grpc::CallbackServerContext* context,
                                                       const v1::ListBindingsRequest*,
                                                       v1::ListBindingsResponse* response) {
  auto all = bindings_->Select("");
  if (all.ok()) {
    for (const auto& binding : *all) *response->add_bindings() = ToBindingInfo(*binding);
  }
  return Done(context, all.status());
}

grpc::ServerUnaryReactor* PktPoolService::Bind(grpc::CallbackServerContext* context,
                                               const v1::BindRequest* request,
                                               v1::BindResponse* response) {
  if (absl::Status valid = ValidateBind(*request); !valid.ok()) return Done(context, valid);
  pool::PopulationGuard guard([context] { return CallerGaveUp(context); });
  auto bound = bindings_->Bind(request->interface(), ToBindingOptions(request->options()));
  if (bound.ok()) *response->mutable_binding() = ToBindingInfo(**bound);
  return Done(context, UnlessGaveUp(context, absl::StrCat("Bind of '", request->interface(), "'"),
                                    bound.status()));
}

grpc::ServerUnaryReactor* PktPoolService::Unbind(grpc::CallbackServerContext* context,
                                                 const v1::UnbindRequest* request,
                                                 v1::UnbindResponse*) {
  if (absl::Status valid = ValidateInterfaceSelector(request->interface()); !valid.ok()) {
    return Done(context, valid);
  }
  return Done(context, bindings_->Unbind(request->interface()));
}

absl::StatusOr<v1::GetStatsResponse> PktPoolService::CollectStats(const std::string& interface) {
  return SnapshotStats(*bindings_, interface);
}

grpc::ServerUnaryReactor* PktPoolService::GetStats(grpc::CallbackServerContext* context,
                                                   const v1::GetStatsRequest* request,
                                                   v1::GetStatsResponse* response) {
  if (absl::Status valid = ValidateInterfaceSelector(request->interface()); !valid.ok()) {
    return Done(context, valid);
  }
  auto stats = CollectStats(request->interface());
  if (stats.ok()) *response = std::move(*stats);
  return Done(context, stats.status());
}

grpc::ServerWriteReactor<v1::GetStatsResponse>* PktPoolService::WatchStats(
    grpc::CallbackServerContext*, const v1::WatchStatsRequest* request) {
  auto fail = [](const absl::Status& status) {
    return new FailedWriteStream<v1::GetStatsResponse>(status);
  };
  absl::StatusOr<absl::Duration> interval = ValidateWatchStats(*request);
  if (!interval.ok()) return fail(interval.status());
  if (auto check = bindings_->Select(request->interface()); !check.ok()) return fail(check.status());
  if (!TakeStreamSlot()) return fail(StreamLimitError(limits_.max_concurrent_streams));
  const std::string interface = request->interface();
  return new WatchStream(&open_streams_, [this, interface] { return CollectStats(interface); },
                         *interval);
}

grpc::ServerUnaryReactor* PktPoolService::ListPools(grpc::CallbackServerContext* context,
                                                    const v1::ListPoolsRequest* request,
                                                    v1::ListPoolsResponse* response) {
  if (absl::Status valid = ValidateInterfaceSelector(request->interface()); !valid.ok()) {
    return Done(context, valid);
  }
  auto selected = bindings_->Select(request->interface());
  if (selected.ok()) {
    for (const auto& binding : *selected) {
      v1::BindingStats stats = ToBindingStats(*binding);
      auto* entry = response->add_bindings();
      entry->set_interface(binding->interface());
      *entry->mutable_pools() = stats.pools();
    }
  }
  return Done(context, selected.status());
}

grpc::ServerUnaryReactor* PktPoolService::TunePool(grpc::CallbackServerContext* context,
                                                   const v1::TunePoolRequest* request,
                                                   v1::TunePoolResponse* response) {
  pool::PopulationGuard guard([context] { return CallerGaveUp(context); });
  auto tuned = TuneBindingPool(*bindings_, *request);
  if (tuned.ok()) *response = std::move(*tuned);
  return Done(context,
              UnlessGaveUp(context, absl::StrCat("TunePool of '", request->interface(), "'"),
                           tuned.status()));
}

absl::Status PktPoolService::SendOnce(grpc::CallbackServerContext* context,
                                      const v1::SendFramesRequest& request,
                                      v1::SendFramesResponse* response) {
  SendCall call(bindings_, limits_.max_frames_per_batch,
                [context] { return context->IsCancelled(); });
  if (absl::Status sent = call.Send(request, /*with_outcomes=*/true); !sent.ok()) return sent;
  return call.Finish(response);
}

grpc::ServerUnaryReactor* PktPoolService::SendFrames(grpc::CallbackServerContext* context,
                                                     const v1::SendFramesRequest* request,
                                                     v1::SendFramesResponse* response) {
  if (!SendMayBlock(*request)) return Done(context, SendOnce(context, *request, response));
  // Paced, waiting or repeated: on a thread of its own, holding a stream place, so a few
  // slow sends cannot take every gRPC callback thread and stall the other calls.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!TakeStreamSlot()) {
    reactor->Finish(ToGrpcStatus(StreamLimitError(limits_.max_concurrent_streams)));
    return reactor;
  }
  const bool started = blocking_.Run([this, context, request, response, reactor] {
    StreamGuard guard(&open_streams_);
    reactor->Finish(ToGrpcStatus(SendOnce(context, *request, response)));
  });
  if (!started) {
    open_streams_.fetch_sub(1);
    reactor->Finish(ToGrpcStatus(StreamLimitError(limits_.max_concurrent_streams)));
  }
  return reactor;
}

grpc::ServerReadReactor<v1::SendFramesRequest>* PktPoolService::StreamSendFrames(
    grpc::CallbackServerContext* context, v1::SendFramesResponse* response) {
  if (!TakeStreamSlot()) {
    return new FailedReadStream<v1::SendFramesRequest>(
        StreamLimitError(limits_.max_concurrent_streams));
  }
  auto call = std::make_unique<SendCall>(bindings_, limits_.max_frames_per_batch,
                                         [context] { return context->IsCancelled(); });
  return new SendStream(&open_streams_, std::move(call), response, &blocking_);
}

grpc::ServerWriteReactor<v1::CaptureResponse>* PktPoolService::Capture(
    grpc::CallbackServerContext* context, const v1::CaptureRequest* request) {
  using Failed = FailedWriteStream<v1::CaptureResponse>;
  if (absl::Status valid = ValidateInterfaceSelector(request->interface()); !valid.ok()) {
    return new Failed(valid);
  }
  auto binding = bindings_->Get(request->interface());
  if (!binding.ok()) return new Failed(binding.status());
  auto filter = ValidateCapture(*request);
  if (!filter.ok()) return new Failed(filter.status());
  if (!TakeStreamSlot()) return new Failed(StreamLimitError(limits_.max_concurrent_streams));
  const std::string id = absl::StrCat("capture-", next_capture_id_.fetch_add(1));
  auto* stream = new CaptureStream(
      &open_streams_, context, id,
      [this, id] {
        MutexLock lock(&captures_mu_);
        captures_.erase(id);
      },
      *binding, *request, std::move(*filter));
  MutexLock lock(&captures_mu_);
  captures_[id] = {*binding, stream->subscriber()};
  return stream;
}

grpc::ServerUnaryReactor* PktPoolService::StopCapture(grpc::CallbackServerContext* context,
                                                      const v1::StopCaptureRequest* request,
                                                      v1::StopCaptureResponse*) {
  std::shared_ptr<capture::Binding> binding;
  std::shared_ptr<capture::CaptureSubscriber> subscriber;
  {
    MutexLock lock(&captures_mu_);
    auto it = captures_.find(request->capture_id());
    if (it != captures_.end()) {
      binding = it->second.binding.lock();
      subscriber = it->second.subscriber.lock();
    }
  }
  if (!binding || !subscriber) {
    return Done(context, absl::NotFoundError(absl::StrCat(
                             "no open Capture stream has id '", request->capture_id(),
                             "'; the id is the stream's pktpool-capture-id initial metadata")));
  }
  binding->StopSubscriber(subscriber);
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* PktPoolService::GetVersion(grpc::CallbackServerContext* context,
                                                     const v1::GetVersionRequest*,
                                                     v1::GetVersionResponse* response) {
  response->set_version(PKTPOOL_VERSION);
  v1::Limits* limits = response->mutable_limits();
  limits->set_max_message_bytes(limits_.max_message_bytes);
  limits->set_max_frames_per_batch(limits_.max_frames_per_batch);
  limits->set_max_concurrent_streams(limits_.max_concurrent_streams);
  limits->set_max_pool_memory(bindings_->max_pool_memory());
  return Done(context, absl::OkStatus());
}

}  // namespace pktpool::rpc
