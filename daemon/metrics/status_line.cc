#include "daemon/metrics/status_line.h"

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace pktpool::metrics {
namespace {

constexpr int kMaxNamedBindings = 8;

std::string_view StateSuffix(v1::BindingState state) {
  switch (state) {
    case v1::BINDING_STATE_UP: return "";
    case v1::BINDING_STATE_BINDING: return " BINDING";
    case v1::BINDING_STATE_DOWN: return " DOWN";
    case v1::BINDING_STATE_UNBINDING: return " UNBINDING";
    default: return " UNKNOWN";
  }
}

}  // namespace

std::string StatusLine(const v1::GetStatsResponse& stats) {
  int up = 0;
  uint64_t rx_frames = 0, tx_frames = 0, alloc_failures = 0;
  uint32_t max_percent = 0;
  std::string names;
  for (int i = 0; i < stats.bindings_size(); ++i) {
    const v1::BindingStats& binding = stats.bindings(i);
    if (binding.binding().state() == v1::BINDING_STATE_UP) ++up;
    if (i < kMaxNamedBindings) {
      const std::string_view suffix = StateSuffix(binding.binding().state());
      absl::StrAppend(&names, i == 0 ? "" : ", ", binding.binding().interface(),
                      absl::string_view(suffix.data(), suffix.size()));
    }
    rx_frames += binding.rx_frames();
    tx_frames += binding.tx_frames();
    for (const v1::PoolStats& pool : binding.pools()) {
      alloc_failures += pool.resource_failures();
      const uint64_t capacity = uint64_t{pool.descriptors()} + pool.overflow_limit();
      if (pool.draining() || capacity == 0) continue;
      max_percent = std::max<uint32_t>(
          max_percent, static_cast<uint32_t>((uint64_t{pool.in_use()} * 100 + capacity - 1) /
                                             capacity));  // rounded up: 1 of 1024 is 1%
    }
  }
  const int count = stats.bindings_size();
  if (count > kMaxNamedBindings) absl::StrAppend(&names, ", +", count - kMaxNamedBindings, " more");
  return absl::StrCat(count, count == 1 ? " binding" : " bindings", " (", up, " up)",
                      count == 0 ? "" : ": ", names, "; rx ", rx_frames, " tx ", tx_frames,
                      " frames, pools max ", max_percent, "% in use, ", alloc_failures,
                      " alloc failures");
}

}  // namespace pktpool::metrics
