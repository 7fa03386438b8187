// How pktpoolctl prints: exit codes, error lines, JSON and the tables. One place, so
// every command reports the same way.
#ifndef PKTPOOL_CLIENT_PKTPOOLCTL_OUTPUT_H_
#define PKTPOOL_CLIENT_PKTPOOLCTL_OUTPUT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::ctl {

// Exit codes, documented in --help and the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;  // the daemon refused, failed frames, or unreachable
inline constexpr int kExitUsage = 2;    // bad command line or local input (hex, files)

// Prints "pktpoolctl: CODE: message" (with a hint when the daemon is unreachable) to
// stderr; returns kExitRefused.
int ReportRefused(const grpc::Status& status);
// The exit code of a server stream that ended with `status`: kExitOk when it ended well
// or was CANCELLED because we asked (Ctrl-C, a count reached), else ReportRefused's.
int StreamEnd(const grpc::Status& status, bool we_cancelled);
// Prints "pktpoolctl: message" to stderr; returns kExitUsage.
int ReportUsage(const absl::Status& status);

// The proto3 JSON mapping with the proto's field names (stable: they follow the proto's
// compatibility rules); 64-bit counters are strings, as the mapping says. `pretty`: one
// field per line; else one line (for JSON Lines streams).
void PrintJson(const google::protobuf::Message& message, bool pretty = true);

// `text` as a quoted JSON string.
std::string JsonQuote(const std::string& text);

// "rx-packets" for POOL_NAME_RX_PACKETS, and back (nullopt for an unknown label).
std::string PoolLabel(v1::PoolName name);
std::optional<v1::PoolName> ParsePoolLabel(const std::string& label);
// "UP" for BINDING_STATE_UP.
std::string StateLabel(v1::BindingState state);
// "12.0 MiB".
std::string HumanBytes(uint64_t bytes);

// A plain-text table: headers, then rows, columns padded to their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : rows_{std::move(headers)} {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // The table as text, each line indented by `indent` spaces.
  std::string Render(int indent = 0) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// The tables of `bindings`, `stats` and `pools`.
std::string BindingsTable(const v1::ListBindingsResponse& bindings);
std::string BindingCountersTable(const v1::GetStatsResponse& stats);
// Pools of every binding: BINDING POOL TAG GEN DESCRIPTORS OVERFLOW IN_USE FREE HIGH_WM
// FAILURES MEMORY (+ DRAINING marks).
std::string PoolsTable(const std::vector<std::pair<std::string, const v1::PoolStats*>>& pools);
std::string StatsTables(const v1::GetStatsResponse& stats);

// "pool memory: 21.1 MiB in use of the 11.4 GiB budget (0.2%; limits.max_pool_memory)".
std::string PoolMemoryLine(const v1::PoolMemory& memory);

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_OUTPUT_H_
