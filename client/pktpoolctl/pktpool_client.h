// PktPoolClient: the one place pktpoolctl builds channels, requests and deadlines.
#ifndef PKTPOOL_CLIENT_PKTPOOLCTL_PKTPOOL_CLIENT_H_
#define PKTPOOL_CLIENT_PKTPOOLCTL_PKTPOOL_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "pktpool/v1/pktpool.grpc.pb.h"

namespace pktpool::ctl {

// Where the daemon is and how to reach it.
struct Endpoint {
  std::string socket;       // Unix socket path (used when target is empty)
  std::string target;       // host:port of a TCP listener
  bool tls = false;         // TLS on target (implied by ca/cert/key)
  std::string ca_file;      // PEM roots to verify the daemon (default: system roots)
  std::string cert_file;    // PEM client certificate (mTLS)
  std::string key_file;     // PEM client key (mTLS)
  std::string server_name;  // name to verify in the daemon's certificate (default: host)
};

// The daemon's socket when none is given: the system one when it exists (pktpoold as a
// service, or run as root), else this user's default (config::DefaultUnixSocketPath).
std::string DefaultSocket();

// Not thread-safe except where noted; one per command.
class PktPoolClient {
 public:
  // INVALID_ARGUMENT when a TLS file cannot be read or only one of cert/key is given.
  static absl::StatusOr<std::unique_ptr<PktPoolClient>> Connect(const Endpoint& endpoint);

  grpc::Status Version(v1::GetVersionResponse* out);
  // grpc.health.v1 Check of the whole server; *serving is true for SERVING.
  grpc::Status Health(bool* serving);
  grpc::Status Bindings(v1::ListBindingsResponse* out);
  grpc::Status Bind(const v1::BindRequest& request, v1::BindResponse* out);
  grpc::Status Unbind(const std::string& interface);
  grpc::Status Stats(const std::string& interface, v1::GetStatsResponse* out);
  grpc::Status Pools(const std::string& interface, v1::ListPoolsResponse* out);
  grpc::Status Tune(const v1::TunePoolRequest& request, v1::TunePoolResponse* out);
  // SendFrames; the deadline grows with the paced duration of the batch.
  grpc::Status Send(const v1::SendFramesRequest& request, v1::SendFramesResponse* out);

  // Streams: `context` (no deadline set here) may be cancelled from another thread.
  std::unique_ptr<grpc::ClientWriter<v1::SendFramesRequest>> StreamSend(
      grpc::ClientContext* context, v1::SendFramesResponse* out);
  std::unique_ptr<grpc::ClientReader<v1::GetStatsResponse>> WatchStats(
      grpc::ClientContext* context, const v1::WatchStatsRequest& request);
  std::unique_ptr<grpc::ClientReader<v1::CaptureResponse>> Capture(
      grpc::ClientContext* context, const v1::CaptureRequest& request);
  // StopCapture of the stream with that id (thread-safe: may run while a stream is read).
  grpc::Status StopCapture(const std::string& capture_id);

 private:
  explicit PktPoolClient(std::shared_ptr<grpc::Channel> channel);
  std::unique_ptr<grpc::ClientContext> Context() const;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PktPool::Stub> stub_;
};

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_PKTPOOL_CLIENT_H_
