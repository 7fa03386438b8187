// The daemon's config: a pktpool.v1.DaemonConfig in protobuf text format (see
// deploy/pktpoold.textproto). Loading, validation against the documented limits, and defaults.
#ifndef PKTPOOL_DAEMON_CONFIG_CONFIG_H_
#define PKTPOOL_DAEMON_CONFIG_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::config {

// Defaults of Limits (the ones of BindingOptions live in daemon/capture/binding_options.h).
inline constexpr uint32_t kDefaultMaxMessageBytes = 16u << 20;
// limits.max_message_bytes at least: a capture message (about 1 MiB of frames) and one
// frame of the largest snaplen fit, and so does any single frame a client sends.
inline constexpr uint32_t kMinMaxMessageBytes = 2u << 20;
inline constexpr uint32_t kDefaultMaxFramesPerBatch = 4096;
inline constexpr uint32_t kDefaultMaxConcurrentStreams = 64;
// limits.max_pool_memory: the smallest budget one may set, and the default's share of the
// memory free at start (MemoryAvailableBytes) and its cap.
inline constexpr uint64_t kMinPoolMemoryBudget = 1u << 20;
inline constexpr uint64_t kDefaultPoolMemoryDivisor = 2;
inline constexpr uint64_t kMaxDefaultPoolMemoryBudget = uint64_t{32} << 30;
// DaemonConfig.status_interval_seconds: its default and limit (STATUS= lines to systemd).
inline constexpr uint32_t kDefaultStatusIntervalSeconds = 5;
inline constexpr uint32_t kMaxStatusIntervalSeconds = 3600;

// A TCP address split into its parts.
struct HostPort {
  std::string host;  // without the brackets of "[::1]"
  uint32_t port = 0;
};

// Reads, parses and validates a config file; errors name the file and its line.
absl::StatusOr<pktpool::v1::DaemonConfig> LoadConfigFile(const std::string& path);

// Parses and validates config text (a file's contents) as LoadConfigFile does; errors are
// InvalidArgument naming `source` and the line.
absl::StatusOr<pktpool::v1::DaemonConfig> ParseConfigText(std::string_view text,
                                                          const std::string& source);

// OK, or InvalidArgument listing every broken limit, one per line, each prefixed with
// `source` (a file name, or "" for none) and the field's path. metrics.listen_address may
// be any host, loopback or not: /metrics is read-only (no TLS, no authentication; put it
// behind a firewall or a loopback host when the counters are not for everyone).
absl::Status ValidateConfig(const pktpool::v1::DaemonConfig& config, const std::string& source);

// OK, or InvalidArgument naming each broken option as `field_path`.option (for Bind).
absl::Status ValidateBindingOptions(const pktpool::v1::BindingOptions& options,
                                    std::string_view field_path);

// `config` with every unset field (0, empty, absent) set to its documented default.
pktpool::v1::DaemonConfig WithDefaults(pktpool::v1::DaemonConfig config, bool is_root);

// `options` with every unset field set to its default (binding_options.h).
pktpool::v1::BindingOptions BindingOptionsWithDefaults(pktpool::v1::BindingOptions options);

// /run/pktpoold/pktpoold.sock for root, else $XDG_RUNTIME_DIR/pktpoold.sock, else
// /tmp/pktpoold-UID.sock.
std::string DefaultUnixSocketPath(bool is_root);

// The pool memory budget in force: limits.max_pool_memory, or when it is 0 the default
// for a machine with `memory_available` bytes available (half of it, at most 32 GiB, at
// least kMinPoolMemoryBudget; 32 GiB when `memory_available` is 0, unknown).
uint64_t PoolMemoryBudget(const pktpool::v1::DaemonConfig& config, uint64_t memory_available);

// Memory free now (sysinfo: free + buffers; the page cache is not counted), in bytes; 0
// when it cannot be read.
uint64_t MemoryAvailableBytes();

// Splits "host:port" or "[ipv6]:port"; InvalidArgument saying what is wrong otherwise.
// The port is 1 to 65535, or also 0 (any free port) when `allow_any_port`.
absl::StatusOr<HostPort> ParseHostPort(std::string_view address, bool allow_any_port);

// True for localhost, 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 ("[::1]" too).
bool IsLoopbackHost(std::string_view host);

}  // namespace pktpool::config

#endif  // PKTPOOL_DAEMON_CONFIG_CONFIG_H_
