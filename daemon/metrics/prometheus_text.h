// Statistics in the Prometheus text exposition format 0.0.4, with the metric names and
// labels fixed for pktpoold (the list: daemon/metrics/metric_families.txt).
#ifndef PKTPOOL_DAEMON_METRICS_PROMETHEUS_TEXT_H_
#define PKTPOOL_DAEMON_METRICS_PROMETHEUS_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::metrics {

// The Content-Type of RenderPrometheus's text.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Every metric family, one "# HELP" and one "# TYPE" line each (also when it has no
// sample), then its samples; values taken from `stats` only. Label values escaped (\\, \",
// \n). Pure function.
std::string RenderPrometheus(const v1::GetStatsResponse& stats, absl::string_view version);

// "rx-packets", "rx-buffers", "tx-packets", "tx-buffers" ("unknown" otherwise): the
// `pool` label.
absl::string_view PoolLabel(v1::PoolName pool);

}  // namespace pktpool::metrics

#endif  // PKTPOOL_DAEMON_METRICS_PROMETHEUS_TEXT_H_
