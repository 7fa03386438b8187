// PktPoolService: the gRPC service, a thin adapter from the API's messages to the
// BindingTable and Binding calls (callback API: no thread is parked per stream).
#ifndef PKTPOOL_DAEMON_RPC_PKTPOOL_SERVICE_H_
#define PKTPOOL_DAEMON_RPC_PKTPOOL_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "daemon/pool/mutex.h"

#include "daemon/rpc/binding_table.h"
#include "daemon/rpc/blocking_calls.h"
#include "pktpool/v1/pktpool.grpc.pb.h"

namespace pktpool::rpc {

// Limits the service enforces (DaemonConfig.limits, defaults filled in).
struct ServiceLimits {
  uint32_t max_message_bytes = 16u << 20;
  uint32_t max_frames_per_batch = 4096;
  uint32_t max_concurrent_streams = 64;
};

// Thread-safe. `bindings` must outlive the service.
class PktPoolService final : public v1::PktPool::CallbackService {
 public:
  PktPoolService(BindingTable* bindings, ServiceLimits limits);

  grpc::ServerUnaryReactor* ListBindings(grpc::CallbackServerContext* context,
                                         const v1::ListBindingsRequest* request,
                                         v1::ListBindingsResponse* response) override;
  grpc::ServerUnaryReactor* Bind(grpc::CallbackServerContext* context,
                                 const v1::BindRequest* request,
                                 v1::BindResponse* response) override;
  grpc::ServerUnaryReactor* Unbind(grpc::CallbackServerContext* context,
                                   const v1::UnbindRequest* request,
                                   v1::UnbindResponse* response) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const v1::GetStatsRequest* request,
                                     v1::GetStatsResponse* response) override;
  grpc::ServerWriteReactor<v1::GetStatsResponse>* WatchStats(
      grpc::CallbackServerContext* context, const v1::WatchStatsRequest* request) override;
  grpc::ServerUnaryReactor* ListPools(grpc::CallbackServerContext* context,
                                      const v1::ListPoolsRequest* request,
                                      v1::ListPoolsResponse* response) override;
  grpc::ServerUnaryReactor* TunePool(grpc::CallbackServerContext* context,
                                     const v1::TunePoolRequest* request,
                                     v1::TunePoolResponse* response) override;
  grpc::ServerUnaryReactor* SendFrames(grpc::CallbackServerContext* context,
                                       const v1::SendFramesRequest* request,
                                       v1::SendFramesResponse* response) override;
  grpc::ServerReadReactor<v1::SendFramesRequest>* StreamSendFrames(
      grpc::CallbackServerContext* context, v1::SendFramesResponse* response) override;
  grpc::ServerWriteReactor<v1::CaptureResponse>* Capture(
      grpc::CallbackServerContext* context, const v1::CaptureRequest* request) override;
  grpc::ServerUnaryReactor* StopCapture(grpc::CallbackServerContext* context,
                                        const v1::StopCaptureRequest* request,
                                        v1::StopCaptureResponse* response) override;
  grpc::ServerUnaryReactor* GetVersion(grpc::CallbackServerContext* context,
                                       const v1::GetVersionRequest* request,
                                       v1::GetVersionResponse* response) override;

  // Streams open now (Capture, WatchStats, StreamSendFrames), and SendFrames calls that
  // may block (paced, waiting or repeated), which hold a stream place while they run.
  uint32_t open_streams() const { return open_streams_.load(); }

 private:
  // A unary SendFrames: its frames on a SendCall of their own, outcomes and timing.
  absl::Status SendOnce(grpc::CallbackServerContext* context, const v1::SendFramesRequest& request,
                        v1::SendFramesResponse* response);
  absl::StatusOr<v1::GetStatsResponse> CollectStats(const std::string& interface);
  // Claims a place for a new stream (released by the stream's guard); false at the limit.
  bool TakeStreamSlot();

  BindingTable* const bindings_;
  const ServiceLimits limits_;
  std::atomic<uint32_t> open_streams_{0};
  // Open Capture streams by id, for StopCapture. A stream removes itself when done.
  struct OpenCapture {
    std::weak_ptr<capture::Binding> binding;
    std::weak_ptr<capture::CaptureSubscriber> subscriber;
  };
  Mutex captures_mu_;
  absl::flat_hash_map<std::string, OpenCapture> captures_ ABSL_GUARDED_BY(captures_mu_);
  std::atomic<uint64_t> next_capture_id_{1};
  // Threads for sends that may block; declared last, so it is destroyed first: its
  // destructor waits for the sends still running (the bindings are closed by then).
  BlockingCalls blocking_;
};

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_PKTPOOL_SERVICE_H_
