// SendCall: one SendFrames call or one StreamSendFrames stream, from its requests to its
// response: each request checked, its frames sent on one capture::SendSession (a single
// timeline while the timing stays the same, so a paced or recorded stream keeps time
// across messages), and the totals and timing figures at the end.
#ifndef PKTPOOL_DAEMON_RPC_SEND_CALL_H_
#define PKTPOOL_DAEMON_RPC_SEND_CALL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/capture/binding.h"
#include "daemon/rpc/binding_table.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::rpc {

// A request that may block for long: timed (a rate or offsets), waiting for resources, or
// repeated. Such requests run on BlockingCalls threads; the others inject at once.
bool SendMayBlock(const v1::SendFramesRequest& request);

// Not thread-safe: one thread at a time (the call's, or the stream's sending thread).
// `bindings` must outlive it.
class SendCall {
 public:
  // `max_frames_per_batch`: limits.max_frames_per_batch. `cancelled`: polled while a send
  // waits (the gRPC context's IsCancelled); true cancels the frames not sent yet.
  SendCall(BindingTable* bindings, uint32_t max_frames_per_batch,
           std::function<bool()> cancelled);
  ~SendCall();  // an unfinished session is cancelled and finished
  SendCall(const SendCall&) = delete;
  SendCall& operator=(const SendCall&) = delete;

  // Checks and sends one request: NOT_FOUND or UNAVAILABLE for its binding, INVALID_ARGUMENT
  // for a bad request (nothing of it is sent), RESOURCE_EXHAUSTED when an untimed batch got
  // no tx packet for any frame. Timed frames may still be on their way when it returns.
  // `with_outcomes` (a unary call): Finish lists every frame's outcome.
  absl::Status Send(const v1::SendFramesRequest& request, bool with_outcomes);

  // Waits until every frame sent is injected or has failed, then writes the totals, the
  // outcomes and the timing figures into `response`. RESOURCE_EXHAUSTED when a unary call
  // got no tx packet for any frame. Idempotent.
  absl::Status Finish(v1::SendFramesResponse* response);

  // True once a request that may block was sent: Finish may then wait for the wire.
  bool may_block() const { return may_block_; }

 private:
  BindingTable* const bindings_;
  const uint32_t max_frames_per_batch_;
  const std::function<bool()> cancelled_;
  std::shared_ptr<capture::Binding> binding_;  // the first request's
  std::unique_ptr<capture::SendSession> session_;
  uint64_t limit_ = 0;                                  // the first request's
  absl::Duration duration_ = absl::InfiniteDuration();  // the first request's
  std::vector<capture::FrameResult> outcomes_;  // a unary call's, until Finish
  bool with_outcomes_ = false;
  bool may_block_ = false;
  bool finished_ = false;
  absl::Status finish_status_;
};

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_SEND_CALL_H_
