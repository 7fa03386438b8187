// TunePool as the API defines it, in one place for its two callers: the TunePool RPC and
// config reload (SIGHUP).
#ifndef PKTPOOL_DAEMON_RPC_POOL_TUNING_H_
#define PKTPOOL_DAEMON_RPC_POOL_TUNING_H_

#include "absl/status/statusor.h"
#include "daemon/rpc/binding_table.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::rpc {

// Replaces the named pool of the request's binding with a new generation of the given
// sizes, live (Binding::TunePool: the old generation drains, nothing in flight is lost).
// INVALID_ARGUMENT when no pool is named, NOT_FOUND for an unbound interface,
// RESOURCE_EXHAUSTED over the pool memory budget, else Binding::TunePool's statuses.
// Thread-safe.
absl::StatusOr<v1::TunePoolResponse> TuneBindingPool(BindingTable& bindings,
                                                     const v1::TunePoolRequest& request);

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_POOL_TUNING_H_
