#include "client/pktpoolctl/pktpool_client.h"

#include <grpcpp/generic/generic_stub.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "daemon/config/config.h"

namespace pktpool::ctl {
namespace {

constexpr auto kDeadline = std::chrono::seconds(10);
// Bind and TunePool populate their pools before they answer: up to the daemon's pool
// memory budget (at most 32 GiB by default), at the slowest rate seen on a fresh VM (about
// 300 MB/s; 1.4-4 GB/s is usual). The daemon abandons and rolls back a call whose deadline
// passes, so a shorter one is safe, only less likely to succeed for large pools.
constexpr auto kPoolDeadline = std::chrono::seconds(120);
// Large enough for a full batch of snaplen-sized frames (the daemon's default limit).
constexpr int kMaxMessageBytes = 64 << 20;

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (!in.good() && !in.eof()) text.clear();
  if (text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  }
  return text;
}

}  // namespace

std::string DefaultSocket() {
  const std::string system = config::DefaultUnixSocketPath(/*is_root=*/true);
  std::error_code error;
  if (geteuid() == 0 || std::filesystem::exists(system, error)) return system;
  return config::DefaultUnixSocketPath(/*is_root=*/false);
}

absl::StatusOr<std::unique_ptr<PktPoolClient>> PktPoolClient::Connect(const Endpoint& endpoint) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  arguments.SetMaxSendMessageSize(kMaxMessageBytes);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  std::string target = endpoint.target.empty() ? "unix:" + endpoint.socket : endpoint.target;
  const bool tls = endpoint.tls || !endpoint.ca_file.empty() || !endpoint.cert_file.empty() ||
                   !endpoint.key_file.empty();
  if (tls) {
    if (endpoint.target.empty()) {
      return absl::InvalidArgumentError("TLS options need --target HOST:PORT");
    }
    if (endpoint.cert_file.empty() != endpoint.key_file.empty()) {
      return absl::InvalidArgumentError("--cert and --key go together (mTLS)");
    }
    grpc::SslCredentialsOptions options;
    if (!endpoint.ca_file.empty()) {
      auto pem = ReadPem(endpoint.ca_file, "--ca file");
      if (!pem.ok()) return pem.status();
      options.pem_root_certs = *pem;
    }
    if (!endpoint.cert_file.empty()) {
      auto cert = ReadPem(endpoint.cert_file, "--cert file");
      if (!cert.ok()) return cert.status();
      auto key = ReadPem(endpoint.key_file, "--key file");
      if (!key.ok()) return key.status();
      options.pem_cert_chain = *cert;
      options.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(options);
    if (!endpoint.server_name.empty()) {
      arguments.SetSslTargetNameOverride(endpoint.server_name);
    }
  }
  return std::unique_ptr<PktPoolClient>(
      new PktPoolClient(grpc::CreateCustomChannel(target, credentials, arguments)));
}

PktPoolClient::PktPoolClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(v1::PktPool::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> PktPoolClient::Context() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kDeadline);
  return context;
}

grpc::Status PktPoolClient::Version(v1::GetVersionResponse* out) {
  return stub_->GetVersion(Context().get(), v1::GetVersionRequest{}, out);
}

grpc::Status PktPoolClient::Bindings(v1::ListBindingsResponse* out) {
  return stub_->ListBindings(Context().get(), v1::ListBindingsRequest{}, out);
}

grpc::Status PktPoolClient::Bind(const v1::BindRequest& request, v1::BindResponse* out) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kPoolDeadline);
  return stub_->Bind(context.get(), request, out);
}

grpc::Status PktPoolClient::Unbind(const std::string& interface) {
  v1::UnbindRequest request;
  request.set_interface(interface);
  v1::UnbindResponse response;
  // Unbinding waits for queued sends and held frames: allow it longer.
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + 6 * kDeadline);
  return stub_->Unbind(context.get(), request, &response);
}

grpc::Status PktPoolClient::Stats(const std::string& interface, v1::GetStatsResponse* out) {
  v1::GetStatsRequest request;
  request.set_interface(interface);
  return stub_->GetStats(Context().get(), request, out);
}

grpc::Status PktPoolClient::Pools(const std::string& interface, v1::ListPoolsResponse* out) {
  v1::ListPoolsRequest request;
  request.set_interface(interface);
  return stub_->ListPools(Context().get(), request, out);
}

grpc::Status PktPoolClient::Tune(const v1::TunePoolRequest& request, v1::TunePoolResponse* out) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kPoolDeadline);
  return stub_->TunePool(context.get(), request, out);
}

grpc::Status PktPoolClient::Send(const v1::SendFramesRequest& request,
                                 v1::SendFramesResponse* out) {
  auto context = std::make_unique<grpc::ClientContext>();
  const double frames = static_cast<double>(request.frames_size()) * std::max(1u, request.repeat());
  const double seconds = request.frames_per_second() > 0 ? frames / request.frames_per_second() : 0;
  context->set_deadline(std::chrono::system_clock::now() + kDeadline +
                        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  return stub_->SendFrames(context.get(), request, out);
}

std::unique_ptr<grpc::ClientWriter<v1::SendFramesRequest>> PktPoolClient::StreamSend(
    grpc::ClientContext* context, v1::SendFramesResponse* out) {
  return stub_->StreamSendFrames(context, out);
}

std::unique_ptr<grpc::ClientReader<v1::GetStatsResponse>> PktPoolClient::WatchStats(
    grpc::ClientContext* context, const v1::WatchStatsRequest& request) {
  return stub_->WatchStats(context, request);
}

std::unique_ptr<grpc::ClientReader<v1::CaptureResponse>> PktPoolClient::Capture(
    grpc::ClientContext* context, const v1::CaptureRequest& request) {
  return stub_->Capture(context, request);
}

grpc::Status PktPoolClient::StopCapture(const std::string& capture_id) {
  v1::StopCaptureRequest request;
  request.set_capture_id(capture_id);
  v1::StopCaptureResponse response;
  return stub_->StopCapture(Context().get(), request, &response);
}

grpc::Status PktPoolClient::Health(bool* serving) {
  // HealthCheckRequest{service: ""} is empty; the response's field 1 is the status.
  grpc::GenericStub generic(channel_);
  auto context = Context();
  grpc::Slice empty(std::string{});
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status result;
  generic.UnaryCall(context.get(), "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status status) {
                      std::lock_guard<std::mutex> lock(mu);
                      result = std::move(status);
                      done = true;
                      cv.notify_one();
                    });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  std::vector<grpc::Slice> slices;
  if (result.ok()) response.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  *serving = bytes == std::string("\x08\x01", 2);
  return result;
}

}  // namespace pktpool::ctl
