#include "daemon/rpc/stats_snapshot.h"

#include "daemon/rpc/proto_convert.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"

namespace pktpool::rpc {

absl::StatusOr<v1::GetStatsResponse> SnapshotStats(const BindingTable& bindings,
                                                   const std::string& interface) {
  if (auto selected = bindings.Select(interface); !selected.ok()) return selected.status();
  // Every binding is read once: the selected ones go into the response, and all of them
  // count towards the pool memory in use.
  auto all = bindings.Select("");
  if (!all.ok()) return all.status();
  v1::GetStatsResponse response;
  // absl::Now, not TimeUtil::GetCurrentTime: protobuf 3.21's has whole-second resolution
  // on Linux, and clients compute rates from this time.
  *response.mutable_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  uint64_t in_use = 0;
  for (const auto& binding : *all) {
    const capture::BindingStats stats = binding->Stats();
    in_use += capture::PoolMemoryInUse(stats);
    if (interface.empty() || binding->interface() == interface) {
      *response.add_bindings() = ToBindingStats(*binding, stats);
    }
  }
  const uint64_t budget = bindings.max_pool_memory();
  response.mutable_pool_memory()->set_budget_bytes(budget == kNoPoolMemoryBudget ? 0 : budget);
  response.mutable_pool_memory()->set_in_use_bytes(in_use);
  return response;
}

}  // namespace pktpool::rpc
