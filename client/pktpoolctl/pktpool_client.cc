#include "client/pktpoolctl/pktpool_client.h"

#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace pktpool::ctl {

constexpr auto kDeadline = std::chrono::seconds(10);

PktPoolClient::PktPoolClient(const std::string& target)
    : channel_(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
      stub_(v1::PktPool::NewStub(channel_)) {}

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

grpc::Status PktPoolClient::Stats(const std::string& interface, v1::GetStatsResponse* out) {
  v1::GetStatsRequest request;
  request.set_interface(interface);
  return stub_->GetStats(Context().get(), request, out);
}

grpc::Status PktPoolClient::Send(const v1::SendFramesRequest& request,
                                 v1::SendFramesResponse* out) {
  auto context = std::make_unique<grpc::ClientContext>();
  // Paced sends take as long as they take: the deadline grows with the work.
  const double frames = static_cast<double>(request.frames_size()) * std::max(1u, request.repeat());
  const double seconds = request.frames_per_second() > 0 ? frames / request.frames_per_second() : 0;
  context->set_deadline(std::chrono::system_clock::now() + kDeadline +
                        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  return stub_->SendFrames(context.get(), request, out);
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
