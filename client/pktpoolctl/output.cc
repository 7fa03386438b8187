#include "client/pktpoolctl/output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace pktpool::ctl {
namespace {

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? kNames[index] : "UNKNOWN";
}

std::string Count(uint64_t value) { return absl::StrCat(value); }

}  // namespace

int ReportRefused(const grpc::Status& status) {
  const char* hint = "";
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      status.error_message().find("connect") != std::string::npos) {
    hint = " (is pktpoold running? set --socket or --target)";
  }
  std::fprintf(stderr, "pktpoolctl: %s: %s%s\n", CodeName(status.error_code()),
               status.error_message().c_str(), hint);
  return kExitRefused;
}

int StreamEnd(const grpc::Status& status, bool we_cancelled) {
  if (status.ok() || (we_cancelled && status.error_code() == grpc::StatusCode::CANCELLED)) {
    return kExitOk;
  }
  return ReportRefused(status);
}

int ReportUsage(const absl::Status& status) {
  std::fprintf(stderr, "pktpoolctl: %s\n", std::string(status.message()).c_str());
  return kExitUsage;
}

void PrintJson(const google::protobuf::Message& message, bool pretty) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  std::fputs(json.c_str(), stdout);
}

std::string JsonQuote(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      quoted += absl::StrFormat("\\u%04x", c);
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

std::string PoolLabel(v1::PoolName name) {
  std::string label = v1::PoolName_Name(name);
  label = label.substr(std::min(label.size(), sizeof("POOL_NAME_") - 1));
  for (char& c : label) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
  return label;
}

std::optional<v1::PoolName> ParsePoolLabel(const std::string& label) {
  for (v1::PoolName name : {v1::POOL_NAME_RX_PACKETS, v1::POOL_NAME_RX_BUFFERS,
                            v1::POOL_NAME_TX_PACKETS, v1::POOL_NAME_TX_BUFFERS}) {
    if (PoolLabel(name) == label) return name;
  }
  return std::nullopt;
}

std::string StateLabel(v1::BindingState state) {
  std::string name = v1::BindingState_Name(state);
  return name.substr(std::min(name.size(), sizeof("BINDING_STATE_") - 1));
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrFormat("%.0f %s", value, units[unit])
                   : absl::StrFormat("%.1f %s", value, units[unit]);
}

std::string Table::Render(int indent) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string text;
  for (const auto& row : rows_) {
    std::string line(static_cast<size_t>(indent), ' ');
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    text += line + "\n";
  }
  return text;
}

std::string BindingsTable(const v1::ListBindingsResponse& bindings) {
  Table table({"INTERFACE", "STATE", "SNAPLEN", "DIRECTION", "FILTER", "RX_PACKETS",
               "RX_BUFFERS", "TX_PACKETS", "TX_BUFFERS"});
  for (const auto& b : bindings.bindings()) {
    const auto& o = b.options();
    std::string direction = v1::Direction_Name(o.direction());
    direction = direction.substr(std::min(direction.size(), sizeof("DIRECTION_") - 1));
    table.Add({b.interface(), StateLabel(b.state()), Count(o.snaplen()), direction,
               o.filter().empty() ? "-" : o.filter(),
               absl::StrCat(o.rx().packet_descriptors(), "+", o.rx().packet_overflow()),
               absl::StrCat(o.rx().buffer_count(), "x", o.rx().buffer_size()),
               absl::StrCat(o.tx().packet_descriptors(), "+", o.tx().packet_overflow()),
               absl::StrCat(o.tx().buffer_count(), "x", o.tx().buffer_size())});
  }
  return table.Render();
}

std::string BindingCountersTable(const v1::GetStatsResponse& stats) {
  Table table({"BINDING", "STATE", "RX_FRAMES", "RX_BYTES", "RX_DROPS", "TX_FRAMES",
               "TX_BYTES", "TX_FAILED", "TX_QUEUE", "PCAP_RECV", "PCAP_DROP", "DOWN"});
  for (const auto& b : stats.bindings()) {
    uint64_t failed = 0;
    for (const auto& [reason, count] : b.tx_failures()) failed += count;
    table.Add({b.binding().interface(), StateLabel(b.binding().state()), Count(b.rx_frames()),
               Count(b.rx_bytes()), Count(b.rx_resource_drops()), Count(b.tx_frames()),
               Count(b.tx_bytes()), Count(failed), Count(b.tx_queue_depth()),
               Count(b.pcap_received()), Count(b.pcap_dropped()), Count(b.down_events())});
  }
  return table.Render();
}

std::string PoolsTable(const std::vector<std::pair<std::string, const v1::PoolStats*>>& pools) {
  Table table({"BINDING", "POOL", "TAG", "GEN", "DESCRIPTORS", "OVERFLOW", "IN_USE", "FREE",
               "HIGH_WM", "FAILURES", "MEMORY", ""});
  for (const auto& [binding, pool] : pools) {
    table.Add({binding, PoolLabel(pool->name()), pool->tag(), Count(pool->generation()),
               Count(pool->descriptors()), Count(pool->overflow_limit()), Count(pool->in_use()),
               Count(pool->free()), Count(pool->high_watermark()),
               Count(pool->resource_failures()), HumanBytes(pool->memory_bytes()),
               pool->draining() ? "draining" : ""});
  }
  return table.Render();
}

std::string StatsTables(const v1::GetStatsResponse& stats) {
  std::vector<std::pair<std::string, const v1::PoolStats*>> pools;
  for (const auto& b : stats.bindings()) {
    for (const auto& pool : b.pools()) pools.emplace_back(b.binding().interface(), &pool);
  }
  // StrCat, not operator+: GCC 12 at -O3 (Release) warns -Wrestrict on `"\n" + string`
  // (a known false positive of GCC 12), and -Werror stopped the build.
  std::string text = absl::StrCat(BindingCountersTable(stats), "\n", PoolsTable(pools));
  if (stats.has_pool_memory()) {
    absl::StrAppend(&text, "\n", PoolMemoryLine(stats.pool_memory()), "\n");
  }
  return text;
}

std::string PoolMemoryLine(const v1::PoolMemory& memory) {
  if (memory.budget_bytes() == 0) {
    return absl::StrCat("pool memory: ", HumanBytes(memory.in_use_bytes()), " in use, no budget");
  }
  return absl::StrFormat("pool memory: %s in use of the %s budget (%.1f%%; limits.max_pool_memory)",
                         HumanBytes(memory.in_use_bytes()), HumanBytes(memory.budget_bytes()),
                         100.0 * static_cast<double>(memory.in_use_bytes()) /
                             static_cast<double>(memory.budget_bytes()));
}

}  // namespace pktpool::ctl
