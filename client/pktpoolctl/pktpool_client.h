// PktPoolClient: a thin wrapper over the generated stub, used by every pktpoolctl
// command (one place builds requests and deadlines).
#ifndef PKTPOOL_CLIENT_PKTPOOLCTL_PKTPOOL_CLIENT_H_
#define PKTPOOL_CLIENT_PKTPOOLCTL_PKTPOOL_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "pktpool/v1/pktpool.grpc.pb.h"

namespace pktpool::ctl {

// Not thread-safe; one per command.
class PktPoolClient {
 public:
  // `target` is "unix:/path" or "host:port" (plaintext).
  explicit PktPoolClient(const std::string& target);

  grpc::Status Version(v1::GetVersionResponse* out);
  grpc::Status Bindings(v1::ListBindingsResponse* out);
  grpc::Status Stats(const std::string& interface, v1::GetStatsResponse* out);
  // SendFrames of `request` (wait, pacing and repeat as set there).
  grpc::Status Send(const v1::SendFramesRequest& request, v1::SendFramesResponse* out);
  // grpc.health.v1 Check of the whole server; *serving is true for SERVING.
  grpc::Status Health(bool* serving);

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PktPool::Stub> stub_;
};

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_PKTPOOL_CLIENT_H_
