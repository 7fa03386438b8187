// The one place internal statuses become gRPC statuses.
#ifndef PKTPOOL_DAEMON_RPC_STATUS_MAPPING_H_
#define PKTPOOL_DAEMON_RPC_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pktpool::rpc {

// absl and gRPC share the canonical codes: RESOURCE_EXHAUSTED (an NDIS_STATUS_RESOURCES,
// named in the message), INVALID_ARGUMENT, NOT_FOUND (unknown binding or interface),
// UNAVAILABLE (binding down), ALREADY_EXISTS, ... The message is kept as is.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_STATUS_MAPPING_H_
