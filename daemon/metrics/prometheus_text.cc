#include "daemon/metrics/prometheus_text.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace pktpool::metrics {
namespace {

using Labels = std::vector<std::pair<absl::string_view, std::string>>;

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string EscapeLabelValue(absl::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': escaped += "\\\\"; break;
      case '"': escaped += "\\\""; break;
      case '\n': escaped += "\\n"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

// Writes one family: HELP and TYPE, then the samples its `fill` adds.
class Exposition {
 public:
  // Starts family `name` of `type` ("counter" or "gauge").
  void Family(absl::string_view name, absl::string_view type, absl::string_view help) {
    name_ = std::string(name);
    absl::StrAppend(&text_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  // One sample of the current family.
  void Sample(const Labels& labels, uint64_t value) {
    absl::StrAppend(&text_, name_);
    if (!labels.empty()) {
      text_ += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        absl::StrAppend(&text_, i == 0 ? "" : ",", labels[i].first, "=\"",
                        EscapeLabelValue(labels[i].second), "\"");
      }
      text_ += '}';
    }
    absl::StrAppend(&text_, " ", value, "\n");
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
  std::string name_;
};

using BindingValue = std::function<uint64_t(const v1::BindingStats&)>;
using PoolValue = std::function<uint64_t(const v1::PoolStats&)>;

// A family with one sample per binding, labelled {binding}.
void PerBinding(Exposition& out, const v1::GetStatsResponse& stats, absl::string_view name,
                absl::string_view type, absl::string_view help, const BindingValue& value) {
  out.Family(name, type, help);
  for (const v1::BindingStats& binding : stats.bindings()) {
    out.Sample({{"binding", binding.binding().interface()}}, value(binding));
  }
}

// A family with one sample per pool generation, labelled {binding,pool,tag,generation}.
void PerPool(Exposition& out, const v1::GetStatsResponse& stats, absl::string_view name,
             absl::string_view type, absl::string_view help, const PoolValue& value) {
  out.Family(name, type, help);
  for (const v1::BindingStats& binding : stats.bindings()) {
    for (const v1::PoolStats& pool : binding.pools()) {
      out.Sample({{"binding", binding.binding().interface()},
                  {"pool", std::string(PoolLabel(pool.name()))},
                  {"tag", pool.tag()},
                  {"generation", absl::StrCat(pool.generation())}},
                 value(pool));
    }
  }
}

}  // namespace

absl::string_view PoolLabel(v1::PoolName pool) {
  switch (pool) {
    case v1::POOL_NAME_RX_PACKETS: return "rx-packets";
    case v1::POOL_NAME_RX_BUFFERS: return "rx-buffers";
    case v1::POOL_NAME_TX_PACKETS: return "tx-packets";
    case v1::POOL_NAME_TX_BUFFERS: return "tx-buffers";
    default: return "unknown";
  }
}

std::string RenderPrometheus(const v1::GetStatsResponse& stats, absl::string_view version) {
  Exposition out;
  out.Family("pktpool_up", "gauge", "1 when pktpoold answers.");
  out.Sample({}, 1);
  out.Family("pktpool_build_info", "gauge", "pktpoold's version, as a label; always 1.");
  out.Sample({{"version", std::string(version)}}, 1);
  out.Family("pktpool_pool_memory_budget_bytes", "gauge",
             "Pool memory every binding together may hold (limits.max_pool_memory); 0: none.");
  out.Sample({}, stats.pool_memory().budget_bytes());
  out.Family("pktpool_pool_memory_in_use_bytes", "gauge",
             "Pool memory every binding holds now, draining generations included.");
  out.Sample({}, stats.pool_memory().in_use_bytes());

  PerBinding(out, stats, "pktpool_binding_up", "gauge", "1 when the binding is UP, else 0.",
             [](const v1::BindingStats& b) {
               return b.binding().state() == v1::BINDING_STATE_UP ? 1u : 0u;
             });
  PerBinding(out, stats, "pktpool_rx_frames_total", "counter",
             "Frames received into the pools.",
             [](const v1::BindingStats& b) { return b.rx_frames(); });
  PerBinding(out, stats, "pktpool_rx_bytes_total", "counter",
             "Bytes received (wire lengths).",
             [](const v1::BindingStats& b) { return b.rx_bytes(); });
  PerBinding(out, stats, "pktpool_rx_resource_drops_total", "counter",
             "Frames dropped for want of a free receive packet or buffer "
             "(NDIS_STATUS_RESOURCES).",
             [](const v1::BindingStats& b) { return b.rx_resource_drops(); });
  PerBinding(out, stats, "pktpool_tx_frames_total", "counter", "Frames injected.",
             [](const v1::BindingStats& b) { return b.tx_frames(); });
  PerBinding(out, stats, "pktpool_tx_bytes_total", "counter", "Bytes injected.",
             [](const v1::BindingStats& b) { return b.tx_bytes(); });

  out.Family("pktpool_tx_failures_total", "counter", "Frames not sent, by reason.");
  for (const v1::BindingStats& binding : stats.bindings()) {
    std::vector<std::pair<std::string, uint64_t>> failures(binding.tx_failures().begin(),
                                                           binding.tx_failures().end());
    std::sort(failures.begin(), failures.end());  // a map's order is not stable
    for (const auto& [reason, count] : failures) {
      out.Sample({{"binding", binding.binding().interface()}, {"reason", reason}}, count);
    }
  }

  PerBinding(out, stats, "pktpool_tx_queue_depth", "gauge",
             "Timed frames waiting for the transmit thread.",
             [](const v1::BindingStats& b) { return b.tx_queue_depth(); });
  PerBinding(out, stats, "pktpool_tx_late_frames_total", "counter",
             "Frames of timed sends that left more than 100 us after their due time.",
             [](const v1::BindingStats& b) { return b.tx_late_frames(); });
  PerBinding(out, stats, "pktpool_down_events_total", "counter",
             "Times the interface went away (UP -> DOWN).",
             [](const v1::BindingStats& b) { return b.down_events(); });
  PerBinding(out, stats, "pktpool_pcap_received_total", "counter",
             "Frames libpcap received (ps_recv).",
             [](const v1::BindingStats& b) { return b.pcap_received(); });
  PerBinding(out, stats, "pktpool_pcap_dropped_total", "counter",
             "Frames libpcap dropped for a full ring (ps_drop).",
             [](const v1::BindingStats& b) { return b.pcap_dropped(); });
  PerBinding(out, stats, "pktpool_pcap_if_dropped_total", "counter",
             "Frames the interface dropped (ps_ifdrop).",
             [](const v1::BindingStats& b) { return b.pcap_if_dropped(); });

  PerPool(out, stats, "pktpool_pool_descriptors", "gauge",
          "Static descriptors of the pool generation.",
          [](const v1::PoolStats& p) { return p.descriptors(); });
  PerPool(out, stats, "pktpool_pool_overflow_limit", "gauge",
          "Overflow packet descriptors allowed (after the 0xFFFF clamp).",
          [](const v1::PoolStats& p) { return p.overflow_limit(); });
  PerPool(out, stats, "pktpool_pool_in_use", "gauge", "Descriptors allocated now.",
          [](const v1::PoolStats& p) { return p.in_use(); });
  PerPool(out, stats, "pktpool_pool_free", "gauge", "Descriptors free now.",
          [](const v1::PoolStats& p) { return p.free(); });
  PerPool(out, stats, "pktpool_pool_high_watermark", "gauge",
          "Most descriptors in use at once.",
          [](const v1::PoolStats& p) { return p.high_watermark(); });
  PerPool(out, stats, "pktpool_pool_draining", "gauge",
          "1 when the generation was replaced by TunePool and still has descriptors out.",
          [](const v1::PoolStats& p) { return p.draining() ? 1u : 0u; });
  PerPool(out, stats, "pktpool_pool_allocations_total", "counter", "Descriptors allocated.",
          [](const v1::PoolStats& p) { return p.allocations(); });
  PerPool(out, stats, "pktpool_pool_alloc_failures_total", "counter",
          "Allocations refused with NDIS_STATUS_RESOURCES.",
          [](const v1::PoolStats& p) { return p.resource_failures(); });
  PerPool(out, stats, "pktpool_pool_memory_bytes", "gauge", "Bytes of descriptor storage.",
          [](const v1::PoolStats& p) { return p.memory_bytes(); });

  out.Family("pktpool_tag_bytes_outstanding", "gauge",
             "Bytes of tagged memory allocated and not freed.");
  for (const v1::BindingStats& binding : stats.bindings()) {
    for (const v1::TagUsage& tag : binding.memory()) {
      out.Sample({{"binding", binding.binding().interface()}, {"tag", tag.tag()}},
                 tag.bytes_outstanding());
    }
  }
  out.Family("pktpool_tag_peak_bytes", "gauge", "Most bytes of tagged memory outstanding.");
  for (const v1::BindingStats& binding : stats.bindings()) {
    for (const v1::TagUsage& tag : binding.memory()) {
      out.Sample({{"binding", binding.binding().interface()}, {"tag", tag.tag()}},
                 tag.peak_bytes());
    }
  }
  out.Family("pktpool_subscriber_dropped_total", "counter",
             "Frames a capture subscriber lost because its queue was full.");
  for (const v1::BindingStats& binding : stats.bindings()) {
    for (const v1::SubscriberStats& subscriber : binding.subscribers()) {
      out.Sample({{"binding", binding.binding().interface()}, {"subscriber", subscriber.name()}},
                 subscriber.dropped());
    }
  }
  return out.Take();
}

}  // namespace pktpool::metrics
