#include "daemon/rpc/send_call.h"

#include <span>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/rpc/proto_convert.h"
#include "daemon/rpc/request_validation.h"

namespace pktpool::rpc {
namespace {

// True when every frame failed for want of a tx packet or buffer and none was sent.
bool NoneForResources(const std::vector<capture::FrameResult>& results) {
  if (results.empty()) return false;
  for (const capture::FrameResult& result : results) {
    if (result.sent > 0 || result.error != capture::SendError::kResources) return false;
  }
  return true;
}

absl::Status NoResourcesError() {
  return absl::ResourceExhaustedError(
      "NDIS_STATUS_RESOURCES: no tx packet or buffer was free for any frame; set "
      "wait_for_resources, or raise the tx pool sizes");
}

}  // namespace

bool SendMayBlock(const v1::SendFramesRequest& request) {
  return SendPacingOf(request).timed() || request.repeat() > 1 ||
         (request.has_wait_for_resources() &&
          DurationFromProto(request.wait_for_resources()) > absl::ZeroDuration());
}

SendCall::SendCall(BindingTable* bindings, uint32_t max_frames_per_batch,
                   std::function<bool()> cancelled)
    : bindings_(bindings),
      max_frames_per_batch_(max_frames_per_batch),
      cancelled_(std::move(cancelled)) {}

SendCall::~SendCall() {
  if (session_ && !finished_) session_->Cancel();
  session_.reset();  // finishes it: waits until the transmit thread let go of its frames
}

absl::Status SendCall::Send(const v1::SendFramesRequest& request, bool with_outcomes) {
  if (absl::Status valid = ValidateInterfaceSelector(request.interface()); !valid.ok()) {
    return valid;
  }
  if (binding_ != nullptr && request.interface() != binding_->interface()) {
    return absl::InvalidArgumentError(
        absl::StrCat("every message of a stream names the same interface ('",
                     binding_->interface(), "'), not '", request.interface(), "'"));
  }
  std::shared_ptr<capture::Binding> binding = binding_;
  if (binding == nullptr) {
    auto found = bindings_->Get(request.interface());
    if (!found.ok()) return found.status();
    binding = *found;
  }
  std::vector<std::span<const uint8_t>> frames;
  if (absl::Status valid = ValidateSendFrames(request, max_frames_per_batch_,
                                              binding->options().snaplen, &frames);
      !valid.ok()) {
    return valid;
  }
  capture::SendOptions options = ToSendOptions(request);
  if (session_ == nullptr) {
    // The first request: its limit and duration hold for the whole call.
    limit_ = options.limit;
    duration_ = options.duration;
  } else if ((options.limit != 0 && options.limit != limit_) ||
             (options.duration != absl::InfiniteDuration() && options.duration != duration_)) {
    return absl::InvalidArgumentError(
        "limit and duration hold for the whole stream: a later message may repeat the first "
        "message's values or leave them unset, not change them");
  }
  if (binding->state() == capture::BindingState::kDown) {
    return absl::UnavailableError(absl::StrCat("binding '", request.interface(),
                                               "' is DOWN (its interface is gone); retry later"));
  }
  if (session_ == nullptr) {
    binding_ = binding;
    options.cancelled = cancelled_;
    session_ = binding_->StartSend(options);
  }
  const std::span<const int64_t> offsets(request.offsets_ns().data(),
                                         static_cast<size_t>(request.offsets_ns_size()));
  may_block_ |= SendMayBlock(request);
  if (with_outcomes) {
    with_outcomes_ = true;
    session_->Send(frames, offsets, options, &outcomes_);
    return absl::OkStatus();
  }
  if (SendPacingOf(request).timed()) {
    session_->Send(frames, offsets, options, nullptr);  // totals only, at Finish
    return absl::OkStatus();
  }
  // Untimed frames are done when Send returns: a batch that got no packet at all ends the
  // stream with RESOURCE_EXHAUSTED, as a unary call would.
  std::vector<capture::FrameResult> results;
  session_->Send(frames, offsets, options, &results);
  return NoneForResources(results) ? NoResourcesError() : absl::OkStatus();
}

absl::Status SendCall::Finish(v1::SendFramesResponse* response) {
  if (finished_) return finish_status_;
  finished_ = true;
  if (session_ == nullptr) return finish_status_;
  const capture::SendReport report = session_->Finish();
  ToSendResponse(report, response);
  if (with_outcomes_) {
    for (const capture::FrameResult& result : outcomes_) {
      *response->add_outcomes() = ToFrameOutcome(result);
    }
    if (NoneForResources(outcomes_)) finish_status_ = NoResourcesError();
  }
  return finish_status_;
}

}  // namespace pktpool::rpc
