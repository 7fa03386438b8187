// Conversions between the API's messages and the capture and pool libraries' types.
#ifndef PKTPOOL_DAEMON_RPC_PROTO_CONVERT_H_
#define PKTPOOL_DAEMON_RPC_PROTO_CONVERT_H_

#include "daemon/capture/binding.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::rpc {

// Options from the API, with every unset (0) field at its default.
capture::BindingOptions ToBindingOptions(const v1::BindingOptions& options);
// Options as applied, for ListBindings and the stats.
v1::BindingOptions FromBindingOptions(const capture::BindingOptions& options);

v1::BindingInfo ToBindingInfo(const capture::Binding& binding);
v1::BindingStats ToBindingStats(const capture::Binding& binding);
// The same from `stats`, read from `binding` by the caller (one Stats() for several uses).
v1::BindingStats ToBindingStats(const capture::Binding& binding,
                                const capture::BindingStats& stats);
v1::SendResult ToSendResult(capture::SendError error);
// One frame's outcome: SENT when injected at least once, else its failure, else SKIPPED.
v1::FrameOutcome ToFrameOutcome(const capture::FrameResult& result);
// A request's options (capture::SendOptions), defaults filled in; cancelled not set.
capture::SendOptions ToSendOptions(const v1::SendFramesRequest& request);
// The totals and timing figures of a send into its response (outcomes aside).
void ToSendResponse(const capture::SendReport& report, v1::SendFramesResponse* response);
// The pool a tag belongs to ("RXPK" -> POOL_NAME_RX_PACKETS, ...).
v1::PoolName PoolNameOfTag(const std::string& tag);
v1::PoolStats ToPoolStatsMessage(const pool::PoolStats& in, v1::PoolName name,
                                 uint32_t buffer_size);

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_PROTO_CONVERT_H_
