// The statistics snapshot GetStats answers with, for every reader of the counters
// (the RPCs, /metrics, systemd's STATUS line), so they all agree.
#ifndef PKTPOOL_DAEMON_RPC_STATS_SNAPSHOT_H_
#define PKTPOOL_DAEMON_RPC_STATS_SNAPSHOT_H_

#include <string>

#include "absl/status/statusor.h"
#include "daemon/rpc/binding_table.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::rpc {

// Every binding's statistics (or only `interface`'s; NOT_FOUND when it is not bound), read
// now and sorted by interface name, with the time they were read. Thread-safe.
absl::StatusOr<v1::GetStatsResponse> SnapshotStats(const BindingTable& bindings,
                                                   const std::string& interface = "");

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_STATS_SNAPSHOT_H_
