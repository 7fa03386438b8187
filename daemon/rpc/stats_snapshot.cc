#include "daemon/rpc/stats_snapshot.h"

#include "daemon/rpc/proto_convert.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"

namespace pktpool::rpc {

absl::StatusOr<v1::GetStatsResponse> SnapshotStats(const BindingTable& bindings,
                                                   const std::string& interface) {
  auto selected = bindings.Select(interface);
  if (!selected.ok()) return selected.status();
  v1::GetStatsResponse response;
  // absl::Now, not TimeUtil::GetCurrentTime: protobuf 3.21's has whole-second resolution
  // on Linux, and clients compute rates from this time.
  *response.mutable_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  for (const auto& binding : *selected) *response.add_bindings() = ToBindingStats(*binding);
  const PoolMemoryUse memory = bindings.PoolMemory();
  response.mutable_pool_memory()->set_budget_bytes(
      memory.limit == kNoPoolMemoryBudget ? 0 : memory.limit);
  response.mutable_pool_memory()->set_in_use_bytes(memory.in_use);
  return response;
}

}  // namespace pktpool::rpc
