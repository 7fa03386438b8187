#include "daemon/config/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "daemon/capture/binding_options.h"
#include "daemon/pool/limits.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace pktpool::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kUnbounded = std::numeric_limits<uint64_t>::max();

// Config files are small; anything larger is the wrong file (or /dev/zero).
constexpr size_t kMaxConfigFileBytes = 1 << 20;

// Linux: IFNAMSIZ - 1.
constexpr size_t kMaxInterfaceNameLength = 15;

constexpr const char* kRootUnixSocketPath = "/run/pktpoold/pktpoold.sock";

// ---- reading and parsing ------------------------------------------------------------

// The whole file, or NotFound / PermissionDenied / ... naming `path`.
absl::StatusOr<std::string> ReadConfigText(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("config file ", path));
  std::string text;
  char chunk[16384];
  while (true) {
    const ssize_t got = read(fd, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      close(fd);
      return absl::ErrnoToStatus(error, absl::StrCat("config file ", path));
    }
    if (got == 0) break;
    text.append(chunk, static_cast<size_t>(got));
    if (text.size() > kMaxConfigFileBytes) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(
          "config file ", path, ": larger than ", kMaxConfigFileBytes,
          " bytes; is it the right file?"));
    }
  }
  close(fd);
  return text;
}

// Collects the parser's errors as "FILE:LINE:COLUMN: message" (1-based).
class ParseErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit ParseErrorCollector(absl::string_view source) : source_(source) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message));
  }

  // InvalidArgument with every error, one per line.
  absl::Status ToStatus() const {
    if (errors_.empty()) return absl::InvalidArgumentError(absl::StrCat(source_, ": not valid"));
    return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
  }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

// ---- validation ---------------------------------------------------------------------

// Where a message sits in the config: its field path and, for a parsed file, its
// locations.
struct Scope {
  std::string path;  // "" for the root, e.g. "bindings[0].options"
  const Descriptor* descriptor = nullptr;
  const TextFormat::ParseInfoTree* tree = nullptr;  // nullptr: no locations known
  int line = 0;                                     // 1-based line of the message; 0: unknown
};

// Collects the problems of one config, each with its source, line and field path.
class Problems {
 public:
  explicit Problems(absl::string_view source) : source_(source) {}

  // The scope of message field `name` (element `index` when repeated) inside `parent`.
  Scope Nested(const Scope& parent, absl::string_view name, int index = -1) const {
    const FieldDescriptor* field = FindField(parent, name);
    Scope nested;
    nested.path = FieldPath(parent, name, index);
    nested.descriptor = field->message_type();
    nested.tree = parent.tree == nullptr ? nullptr : parent.tree->GetTreeForNested(field, index);
    nested.line = LineOf(parent, field, index);
    return nested;
  }

  // Records `what` against field `name` (element `index`) of `scope`'s message.
  void Add(const Scope& scope, absl::string_view name, absl::string_view what, int index = -1) {
    const int line = LineOf(scope, FindField(scope, name), index);
    std::string prefix;
    if (!source_.empty()) {
      prefix = line > 0 ? absl::StrCat(source_, ":", line, ": ") : absl::StrCat(source_, ": ");
    }
    problems_.push_back(absl::StrCat(prefix, FieldPath(scope, name, index), ": ", what));
  }

  // OK, or InvalidArgument listing every problem, one per line.
  absl::Status ToStatus() const {
    if (problems_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(problems_, "\n"));
  }

 private:
  static const FieldDescriptor* FindField(const Scope& scope, absl::string_view name) {
    const FieldDescriptor* field = scope.descriptor->FindFieldByName(std::string(name));
    if (field == nullptr) std::abort();  // a typo in this file, not in the config
    return field;
  }

  static std::string FieldPath(const Scope& scope, absl::string_view name, int index) {
    std::string path = scope.path.empty() ? std::string(name) : absl::StrCat(scope.path, ".", name);
    if (index >= 0) absl::StrAppend(&path, "[", index, "]");
    return path;
  }

  // The field's line when the file has it, else the line of the enclosing message.
  static int LineOf(const Scope& scope, const FieldDescriptor* field, int index) {
    if (scope.tree != nullptr) {
      const TextFormat::ParseLocation location = scope.tree->GetLocation(field, index);
      if (location.line >= 0) return location.line + 1;
    }
    return scope.line;
  }

  std::string source_;
  std::vector<std::string> problems_;
};

// `text` in double quotes, C-escaped: a name or address from the file never breaks an
// error into more lines (each line names the file) or hides control characters.
std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

// "16777216 (16 MiB)" for byte counts that are whole KiB or MiB.
std::string BytesText(uint64_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0) return absl::StrCat(bytes, " (", bytes / kMiB, " MiB)");
  if (bytes >= kKiB && bytes % kKiB == 0) return absl::StrCat(bytes, " (", bytes / kKiB, " KiB)");
  return absl::StrCat(bytes);
}

// The limits of a field where 0 means "the default".
struct ZeroOrRange {
  uint64_t min;
  uint64_t max;  // kUnbounded: no upper limit
  uint64_t default_value;
  bool bytes;  // print values with KiB / MiB
};

// Checks that `value` is 0 (the default) or within the range.
void CheckZeroOrRange(Problems& problems, const Scope& scope, absl::string_view name,
                      uint64_t value, const ZeroOrRange& range) {
  if (value == 0 || (value >= range.min && value <= range.max)) return;
  auto text = [&](uint64_t number) {
    return range.bytes ? BytesText(number) : absl::StrCat(number);
  };
  const std::string allowed =
      range.max == kUnbounded ? absl::StrCat("use at least ", text(range.min))
                              : absl::StrCat("use ", text(range.min), " to ", text(range.max));
  const std::string what = value < range.min ? absl::StrCat(value, " is below ", text(range.min))
                                             : absl::StrCat(value, " exceeds ", text(range.max));
  problems.Add(scope, name,
               absl::StrCat(what, "; ", allowed, ", or 0 for the default ",
                            text(range.default_value)));
}

// Checks packet descriptor and buffer limits of one pair of pools.
void CheckPoolSizes(Problems& problems, const Scope& scope, const v1::PoolSizes& sizes,
                    const capture::PoolSizes& defaults) {
  if (sizes.packet_descriptors() > pool::kMaxPacketDescriptors) {
    problems.Add(scope, "packet_descriptors",
                 absl::StrCat(sizes.packet_descriptors(), " exceeds ", pool::kMaxPacketDescriptors,
                              " (NDIS_STATUS_RESOURCES); use at most ",
                              pool::kMaxPacketDescriptors));
  }
  if (sizes.buffer_count() > pool::kMaxBufferDescriptors) {
    problems.Add(scope, "buffer_count",
                 absl::StrCat(sizes.buffer_count(), " exceeds the buffer pool limit of ",
                              pool::kMaxBufferDescriptors, "; use at most ",
                              pool::kMaxBufferDescriptors));
  }
  CheckZeroOrRange(problems, scope, "buffer_size", sizes.buffer_size(),
                   {.min = capture::kMinBufferSize,
                    .max = capture::kMaxBufferSize,
                    .default_value = defaults.buffer_size,
                    .bytes = true});
}

// Checks rx_preallocate against the receive pools it is built from.
void CheckRxPreallocate(Problems& problems, const Scope& scope,
                        const v1::BindingOptions& options) {
  const v1::BindingOptions effective = BindingOptionsWithDefaults(options);
  const v1::PoolSizes& rx = effective.rx();
  if (rx.packet_descriptors() > pool::kMaxPacketDescriptors) return;  // reported already
  const uint32_t overflow =
      std::min(rx.packet_overflow(), pool::kMaxPacketDescriptors - rx.packet_descriptors());
  const uint64_t packets = uint64_t{rx.packet_descriptors()} + overflow;
  const uint32_t preallocate = effective.rx_preallocate();
  const std::string value = options.rx_preallocate() == 0
                                ? absl::StrCat(preallocate, " (the default)")
                                : absl::StrCat(preallocate);
  if (preallocate > packets) {
    problems.Add(scope, "rx_preallocate",
                 absl::StrCat(value, " exceeds the ", packets,
                              " rx packet descriptors (NDIS_STATUS_RESOURCES); lower "
                              "rx_preallocate or raise rx.packet_descriptors"));
  } else if (preallocate > rx.buffer_count()) {
    problems.Add(scope, "rx_preallocate",
                 absl::StrCat(value, " exceeds the ", rx.buffer_count(),
                              " rx buffers (each packet needs at least one; "
                              "NDIS_STATUS_RESOURCES); lower rx_preallocate or raise "
                              "rx.buffer_count"));
  }
}

void CheckBindingOptions(Problems& problems, const Scope& scope,
                         const v1::BindingOptions& options) {
  const capture::BindingOptions defaults;
  CheckZeroOrRange(problems, scope, "snaplen", options.snaplen(),
                   {.min = 64, .max = 262144, .default_value = defaults.snaplen, .bytes = false});
  CheckZeroOrRange(problems, scope, "pcap_buffer_bytes", options.pcap_buffer_bytes(),
                   {.min = 64 * kKiB,
                    .max = kUnbounded,
                    .default_value = defaults.pcap_buffer_bytes,
                    .bytes = true});
  if (!v1::Direction_IsValid(options.direction())) {
    problems.Add(scope, "direction",
                 absl::StrCat(static_cast<int>(options.direction()),
                              " is not a direction; use DIRECTION_IN, DIRECTION_OUT or "
                              "DIRECTION_INOUT"));
  }
  if (!v1::TimestampPrecision_IsValid(options.timestamp_precision())) {
    problems.Add(scope, "timestamp_precision",
                 absl::StrCat(static_cast<int>(options.timestamp_precision()),
                              " is not a precision; use TIMESTAMP_PRECISION_NANO or "
                              "TIMESTAMP_PRECISION_MICRO"));
  }
  if (options.has_pcap_timeout()) {
    const google::protobuf::Duration& timeout = options.pcap_timeout();
    const absl::Duration value = absl::Seconds(timeout.seconds()) + absl::Nanoseconds(timeout.nanos());
    if (timeout.nanos() < -999999999 || timeout.nanos() > 999999999) {
      problems.Add(scope, "pcap_timeout",
                   absl::StrCat("nanos ", timeout.nanos(),
                                " is not a fraction of a second; use 0 to 999999999"));
    } else if (value < absl::ZeroDuration()) {
      problems.Add(scope, "pcap_timeout",
                   absl::StrCat(absl::FormatDuration(value),
                                " is negative; use 0 to 10s (0 or unset: the default ",
                                absl::FormatDuration(defaults.pcap_timeout), ")"));
    } else if (value > absl::Seconds(10)) {
      problems.Add(scope, "pcap_timeout",
                   absl::StrCat(absl::FormatDuration(value),
                                " exceeds 10s; use at most 10s (0 or unset: the default ",
                                absl::FormatDuration(defaults.pcap_timeout), ")"));
    }
  }
  if (options.has_rx()) CheckPoolSizes(problems, problems.Nested(scope, "rx"), options.rx(), defaults.rx);
  if (options.has_tx()) CheckPoolSizes(problems, problems.Nested(scope, "tx"), options.tx(), defaults.tx);
  CheckRxPreallocate(problems, scope, options);
}

void CheckListen(Problems& problems, const Scope& scope, const v1::ListenConfig& listen) {
  constexpr size_t kMaxUnixSocketPath = sizeof(sockaddr_un::sun_path) - 1;
  if (listen.unix_socket().size() > kMaxUnixSocketPath) {
    problems.Add(scope, "unix_socket",
                 absl::StrCat("the path has ", listen.unix_socket().size(),
                              " characters; a Unix socket path has at most ", kMaxUnixSocketPath,
                              ": use a shorter one"));
  }
  const v1::TlsConfig& tls = listen.tls();
  const bool has_cert = !tls.cert_file().empty();
  const bool has_key = !tls.key_file().empty();
  if (!listen.tcp_address().empty()) {
    absl::StatusOr<HostPort> address = ParseHostPort(listen.tcp_address(), false);
    if (!address.ok()) {
      problems.Add(scope, "tcp_address", address.status().message());
    } else if (!has_cert && !listen.allow_insecure_tcp() && !IsLoopbackHost(address->host)) {
      problems.Add(scope, "tcp_address",
                   absl::StrCat("plaintext TCP on ", Quoted(listen.tcp_address()),
                                " is open to other hosts; set listen.tls.cert_file and "
                                "listen.tls.key_file, use a loopback host (127.0.0.1, [::1], "
                                "localhost), or set listen.allow_insecure_tcp: true"));
    }
  }
  if (!listen.has_tls()) return;
  const Scope tls_scope = problems.Nested(scope, "tls");
  if (has_cert && !has_key) {
    problems.Add(tls_scope, "cert_file",
                 "set without key_file; TLS needs both listen.tls.cert_file and "
                 "listen.tls.key_file");
  }
  if (has_key && !has_cert) {
    problems.Add(tls_scope, "key_file",
                 "set without cert_file; TLS needs both listen.tls.cert_file and "
                 "listen.tls.key_file");
  }
  if (!tls.client_ca_file().empty() && (!has_cert || !has_key)) {
    problems.Add(tls_scope, "client_ca_file",
                 "client certificates (mTLS) need the server's own: set listen.tls.cert_file "
                 "and listen.tls.key_file too");
  }
  if (listen.tcp_address().empty() &&
      (has_cert || has_key || !tls.client_ca_file().empty())) {
    problems.Add(scope, "tls",
                 "TLS is for the TCP listener; set listen.tcp_address or remove listen.tls");
  }
}

void CheckBindings(Problems& problems, const Scope& root, const v1::DaemonConfig& config) {
  std::map<std::string, int> first_binding_of;  // interface -> index
  for (int i = 0; i < config.bindings_size(); ++i) {
    const v1::BindConfig& binding = config.bindings(i);
    const Scope scope = problems.Nested(root, "bindings", i);
    const std::string& name = binding.interface();
    if (name.empty()) {
      problems.Add(scope, "interface", "missing; name the interface to bind, e.g. \"eth0\"");
    } else if (name.size() > kMaxInterfaceNameLength) {
      problems.Add(scope, "interface",
                   absl::StrCat(Quoted(name), " has ", name.size(),
                                " characters; interface names have at most ",
                                kMaxInterfaceNameLength));
    } else if (auto [it, inserted] = first_binding_of.emplace(name, i); !inserted) {
      problems.Add(scope, "interface",
                   absl::StrCat(Quoted(name), " is already bound by bindings[", it->second,
                                "]; bind each interface once"));
    }
    CheckBindingOptions(problems, problems.Nested(scope, "options"), binding.options());
  }
}

void CheckLimits(Problems& problems, const Scope& scope, const v1::Limits& limits) {
  CheckZeroOrRange(problems, scope, "max_message_bytes", limits.max_message_bytes(),
                   {.min = kMinMaxMessageBytes,
                    .max = 256 * kMiB,
                    .default_value = kDefaultMaxMessageBytes,
                    .bytes = true});
  CheckZeroOrRange(problems, scope, "max_frames_per_batch", limits.max_frames_per_batch(),
                   {.min = 1, .max = 65536, .default_value = kDefaultMaxFramesPerBatch,
                    .bytes = false});
  CheckZeroOrRange(problems, scope, "max_concurrent_streams", limits.max_concurrent_streams(),
                   {.min = 1, .max = 10000, .default_value = kDefaultMaxConcurrentStreams,
                    .bytes = false});
  if (limits.max_pool_memory() != 0 && limits.max_pool_memory() < kMinPoolMemoryBudget) {
    problems.Add(scope, "max_pool_memory",
                 absl::StrCat(limits.max_pool_memory(), " is below ",
                              BytesText(kMinPoolMemoryBudget), "; use at least ",
                              BytesText(kMinPoolMemoryBudget),
                              ", or 0 for the default (half the memory free at start, "
                              "at most 32 GiB)"));
  }
}

// Any host is allowed, loopback or not: /metrics only reads counters (see config.h).
void CheckMetrics(Problems& problems, const Scope& scope, const v1::MetricsConfig& metrics) {
  if (metrics.listen_address().empty()) return;  // off
  absl::StatusOr<HostPort> address = ParseHostPort(metrics.listen_address(), true);
  if (!address.ok()) problems.Add(scope, "listen_address", address.status().message());
}

// ValidateConfig, with the file's locations when `tree` is not null.
absl::Status ValidateConfigAt(const v1::DaemonConfig& config, absl::string_view source,
                              const TextFormat::ParseInfoTree* tree) {
  Problems problems(source);
  const Scope root{.path = "", .descriptor = v1::DaemonConfig::descriptor(), .tree = tree,
                   .line = 0};
  if (config.has_listen()) CheckListen(problems, problems.Nested(root, "listen"), config.listen());
  CheckBindings(problems, root, config);
  if (config.has_limits()) CheckLimits(problems, problems.Nested(root, "limits"), config.limits());
  if (config.has_metrics()) {
    CheckMetrics(problems, problems.Nested(root, "metrics"), config.metrics());
  }
  CheckZeroOrRange(problems, root, "status_interval_seconds", config.status_interval_seconds(),
                   {.min = 1, .max = kMaxStatusIntervalSeconds,
                    .default_value = kDefaultStatusIntervalSeconds, .bytes = false});
  return problems.ToStatus();
}

// ---- defaults -----------------------------------------------------------------------

v1::Direction ToProto(capture::Direction direction) {
  switch (direction) {
    case capture::Direction::kIn: return v1::DIRECTION_IN;
    case capture::Direction::kOut: return v1::DIRECTION_OUT;
    case capture::Direction::kInOut: return v1::DIRECTION_INOUT;
  }
  return v1::DIRECTION_IN;
}

void FillPoolSizes(v1::PoolSizes* sizes, const capture::PoolSizes& defaults) {
  if (sizes->packet_descriptors() == 0) sizes->set_packet_descriptors(defaults.packet_descriptors);
  if (sizes->packet_overflow() == 0) sizes->set_packet_overflow(defaults.packet_overflow);
  if (sizes->buffer_count() == 0) sizes->set_buffer_count(defaults.buffer_count);
  if (sizes->buffer_size() == 0) sizes->set_buffer_size(defaults.buffer_size);
}

}  // namespace

absl::StatusOr<v1::DaemonConfig> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadConfigText(path);
  if (!text.ok()) return text.status();
  return ParseConfigText(*text, path);
}

absl::StatusOr<v1::DaemonConfig> ParseConfigText(std::string_view text,
                                                 const std::string& source) {
  v1::DaemonConfig config;
  TextFormat::ParseInfoTree locations;
  ParseErrorCollector errors(source);
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&locations);
  if (!parser.ParseFromString(std::string(text), &config)) return errors.ToStatus();
  if (absl::Status valid = ValidateConfigAt(config, source, &locations); !valid.ok()) return valid;
  return config;
}

absl::Status ValidateConfig(const v1::DaemonConfig& config, const std::string& source) {
  return ValidateConfigAt(config, source, nullptr);
}

absl::Status ValidateBindingOptions(const v1::BindingOptions& options,
                                    std::string_view field_path) {
  Problems problems("");
  const Scope scope{.path = std::string(field_path),
                    .descriptor = v1::BindingOptions::descriptor(),
                    .tree = nullptr,
                    .line = 0};
  CheckBindingOptions(problems, scope, options);
  return problems.ToStatus();
}

v1::DaemonConfig WithDefaults(v1::DaemonConfig config, bool is_root) {
  v1::ListenConfig* listen = config.mutable_listen();
  if (listen->unix_socket().empty()) listen->set_unix_socket(DefaultUnixSocketPath(is_root));
  v1::Limits* limits = config.mutable_limits();
  if (limits->max_message_bytes() == 0) limits->set_max_message_bytes(kDefaultMaxMessageBytes);
  if (limits->max_frames_per_batch() == 0) {
    limits->set_max_frames_per_batch(kDefaultMaxFramesPerBatch);
  }
  if (limits->max_concurrent_streams() == 0) {
    limits->set_max_concurrent_streams(kDefaultMaxConcurrentStreams);
  }
  if (config.status_interval_seconds() == 0) {
    config.set_status_interval_seconds(kDefaultStatusIntervalSeconds);
  }
  for (v1::BindConfig& binding : *config.mutable_bindings()) {
    *binding.mutable_options() = BindingOptionsWithDefaults(std::move(*binding.mutable_options()));
  }
  return config;
}

uint64_t PoolMemoryBudget(const v1::DaemonConfig& config, uint64_t memory_available) {
  if (config.limits().max_pool_memory() != 0) return config.limits().max_pool_memory();
  if (memory_available == 0) return kMaxDefaultPoolMemoryBudget;  // no /proc/meminfo
  return std::clamp(memory_available / kDefaultPoolMemoryDivisor, kMinPoolMemoryBudget,
                    kMaxDefaultPoolMemoryBudget);
}

uint64_t MemoryAvailableBytes() {
  // sysinfo, not /proc/meminfo: the service's ProcSubset=pid hides the latter.
  struct sysinfo info {};
  if (sysinfo(&info) != 0) return 0;
  return (static_cast<uint64_t>(info.freeram) + info.bufferram) * info.mem_unit;
}

v1::BindingOptions BindingOptionsWithDefaults(v1::BindingOptions options) {
  const capture::BindingOptions defaults;
  if (options.snaplen() == 0) options.set_snaplen(defaults.snaplen);
  if (options.pcap_buffer_bytes() == 0) options.set_pcap_buffer_bytes(defaults.pcap_buffer_bytes);
  if (options.direction() == v1::DIRECTION_UNSPECIFIED) {
    options.set_direction(ToProto(defaults.direction));
  }
  if (options.timestamp_precision() == v1::TIMESTAMP_PRECISION_UNSPECIFIED) {
    options.set_timestamp_precision(defaults.timestamp_precision ==
                                            capture::TimestampPrecision::kMicro
                                        ? v1::TIMESTAMP_PRECISION_MICRO
                                        : v1::TIMESTAMP_PRECISION_NANO);
  }
  if (!options.has_promiscuous()) options.set_promiscuous(defaults.promiscuous);
  if (!options.has_rx_hold_when_exhausted()) {
    options.set_rx_hold_when_exhausted(defaults.rx_hold_when_exhausted);
  }
  const google::protobuf::Duration& timeout = options.pcap_timeout();
  if (timeout.seconds() == 0 && timeout.nanos() == 0) {
    absl::Duration remainder;
    const int64_t seconds = absl::IDivDuration(defaults.pcap_timeout, absl::Seconds(1), &remainder);
    options.mutable_pcap_timeout()->set_seconds(seconds);
    options.mutable_pcap_timeout()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(remainder)));
  }
  FillPoolSizes(options.mutable_rx(), defaults.rx);
  FillPoolSizes(options.mutable_tx(), defaults.tx);
  if (options.rx_preallocate() == 0) options.set_rx_preallocate(defaults.rx_preallocate);
  return options;
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view address_view, bool allow_any_port) {
  const absl::string_view address(address_view.data(), address_view.size());
  const std::string quoted = Quoted(address);
  HostPort parsed;
  absl::string_view port;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          quoted, " has no closing \"]\"; write IPv6 addresses as \"[::1]:50051\""));
    }
    parsed.host = std::string(address.substr(1, close - 1));
    absl::string_view rest = address.substr(close + 1);
    if (!absl::ConsumePrefix(&rest, ":")) {
      return absl::InvalidArgumentError(
          absl::StrCat(quoted, " is not host:port; add the port, e.g. \"[::1]:50051\""));
    }
    port = rest;
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          quoted, " is not host:port; add the port, e.g. \"", absl::CHexEscape(address),
          ":50051\""));
    }
    parsed.host = std::string(address.substr(0, colon));
    port = address.substr(colon + 1);
    if (absl::StrContains(parsed.host, ':')) {
      return absl::InvalidArgumentError(absl::StrCat(
          quoted, " is ambiguous; write IPv6 addresses in brackets, e.g. \"[::1]:50051\""));
    }
  }
  if (parsed.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        quoted, " has no host; use 0.0.0.0:PORT or [::]:PORT for every interface, "
        "127.0.0.1:PORT for this machine only"));
  }
  const bool digits_only =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return absl::ascii_isdigit(c); });
  const uint32_t min_port = allow_any_port ? 0 : 1;
  if (!digits_only || !absl::SimpleAtoi(port, &parsed.port) || parsed.port < min_port ||
      parsed.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        quoted, ": port ", Quoted(port), " is not a number ", min_port, " to 65535",
        allow_any_port ? " (0: any free port)" : ""));
  }
  return parsed;
}

std::string DefaultUnixSocketPath(bool is_root) {
  if (is_root) return kRootUnixSocketPath;
  const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
  if (runtime_dir != nullptr && runtime_dir[0] != '\0') {
    return absl::StrCat(runtime_dir, "/pktpoold.sock");
  }
  return absl::StrCat("/tmp/pktpoold-", getuid(), ".sock");
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (absl::EqualsIgnoreCase(absl::string_view(host.data(), host.size()), "localhost")) {
    return true;
  }
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  static constexpr unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                  0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr unsigned char kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6.s6_addr, kLoopback, sizeof(kLoopback)) == 0) return true;
  return std::memcmp(v6.s6_addr, kV4MappedPrefix, sizeof(kV4MappedPrefix)) == 0 &&
         v6.s6_addr[12] == 127;
}

}  // namespace pktpool::config
