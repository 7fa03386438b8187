// StatusLine: the STATUS= summary names the bindings and sums the counters it shows.
#include "daemon/metrics/status_line.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace pktpool::metrics {
namespace {

v1::BindingStats* AddBinding(v1::GetStatsResponse* stats, const std::string& name,
                             v1::BindingState state) {
  v1::BindingStats* binding = stats->add_bindings();
  binding->mutable_binding()->set_interface(name);
  binding->mutable_binding()->set_state(state);
  return binding;
}

void AddPool(v1::BindingStats* binding, uint32_t descriptors, uint32_t overflow, uint32_t in_use,
             uint64_t failures, bool draining = false) {
  v1::PoolStats* pool = binding->add_pools();
  pool->set_descriptors(descriptors);
  pool->set_overflow_limit(overflow);
  pool->set_in_use(in_use);
  pool->set_resource_failures(failures);
  pool->set_draining(draining);
}

TEST(StatusLine, NamesBindingsAndSumsCounters) {
  v1::GetStatsResponse stats;
  v1::BindingStats* a = AddBinding(&stats, "veth-a", v1::BINDING_STATE_UP);
  a->set_rx_frames(1000);
  a->set_tx_frames(500);
  AddPool(a, 1000, 0, 120, 0);   // 12%
  AddPool(a, 100, 0, 100, 3, /*draining=*/true);  // draining: not in the max, failures count
  v1::BindingStats* b = AddBinding(&stats, "veth-b", v1::BINDING_STATE_DOWN);
  b->set_rx_frames(234);
  b->set_tx_frames(67);
  AddPool(b, 512, 512, 10, 2);  // 1% (rounded up)
  EXPECT_EQ(StatusLine(stats),
            "2 bindings (1 up): veth-a, veth-b DOWN; rx 1234 tx 567 frames, pools max 12% in "
            "use, 5 alloc failures");
}

TEST(StatusLine, NoBindings) {
  EXPECT_EQ(StatusLine(v1::GetStatsResponse()),
            "0 bindings (0 up); rx 0 tx 0 frames, pools max 0% in use, 0 alloc failures");
}

TEST(StatusLine, ManyBindingsNameTheFirstEight) {
  v1::GetStatsResponse stats;
  for (int i = 0; i < 10; ++i) AddBinding(&stats, absl::StrCat("v", i), v1::BINDING_STATE_UP);
  EXPECT_EQ(StatusLine(stats),
            "10 bindings (10 up): v0, v1, v2, v3, v4, v5, v6, v7, +2 more; rx 0 tx 0 frames, "
            "pools max 0% in use, 0 alloc failures");
}

TEST(StatusLine, FullPoolIsHundredPercent) {
  v1::GetStatsResponse stats;
  AddPool(AddBinding(&stats, "one", v1::BINDING_STATE_UP), 64, 0, 64, 0);
  EXPECT_EQ(StatusLine(stats),
            "1 binding (1 up): one; rx 0 tx 0 frames, pools max 100% in use, 0 alloc failures");
}

}  // namespace
}  // namespace pktpool::metrics
