#include "client/pktpoolctl/capture_session.h"

#include <chrono>
#include <utility>

namespace pktpool::ctl {
namespace {

constexpr char kCaptureIdKey[] = "pktpool-capture-id";
// After StopCapture, how long the final message may take before the stream is cancelled.
constexpr auto kFinalMessageWait = std::chrono::seconds(3);

}  // namespace

CaptureSession::CaptureSession(PktPoolClient* client, v1::CaptureRequest request)
    : client_(client), request_(std::move(request)) {
  request_.set_format(v1::CAPTURE_FORMAT_PCAP_RECORDS);
}

CaptureSession::~CaptureSession() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
  }
  ended_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

std::string CaptureSession::id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return id_;
}

grpc::Status CaptureSession::Run(
    const std::function<void()>& on_subscribed,
    const std::function<bool(std::string_view, uint32_t)>& on_records) {
  auto reader = client_->Capture(&context_, request_);
  reader->WaitForInitialMetadata();
  bool stop_now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto& metadata = context_.GetServerInitialMetadata();
    if (auto it = metadata.find(kCaptureIdKey); it != metadata.end()) {
      id_.assign(it->second.data(), it->second.size());
    }
    subscribed_ = true;
    stop_now = stop_asked_;
  }
  if (stop_now) Stop();
  if (on_subscribed) on_subscribed();
  v1::CaptureResponse response;
  while (reader->Read(&response)) {
    if (response.has_loss()) loss_ = response.loss();
    final_ = response.final();
    if (response.record_count() > 0 &&
        !on_records(response.pcap_records(), response.record_count())) {
      context_.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
  }
  ended_cv_.notify_all();
  return status;
}

void CaptureSession::Stop() {
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    if (!subscribed_) {  // Run stops it as soon as the daemon has subscribed
      stop_asked_ = true;
      return;
    }
    if (watchdog_.joinable()) {  // asked already: the user insists
      context_.TryCancel();
      return;
    }
    id = id_;
  }
  if (id.empty() || !client_->StopCapture(id).ok()) {
    context_.TryCancel();  // an older daemon, or it is going away: end it now
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  watchdog_ = std::thread([this] {
    std::unique_lock<std::mutex> wait(mu_);
    if (!ended_cv_.wait_for(wait, kFinalMessageWait, [this] { return ended_; })) {
      context_.TryCancel();
    }
  });
}

}  // namespace pktpool::ctl
