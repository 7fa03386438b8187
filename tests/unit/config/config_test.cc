// One test per config rule (DaemonConfig and below in proto/pktpool/v1/pktpool.proto):
// parsing, every documented limit, defaults, and the example deploy/pktpoold.textproto.
#include "daemon/config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pktpool::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fresh directory under testing::TempDir() per test, removed afterwards.
class ConfigFileTest : public testing::Test {
 protected:
  void SetUp() override {
    const testing::TestInfo* test = testing::UnitTest::GetInstance()->current_test_info();
    std::string name = absl::StrCat("config_test_", getpid(), "_", test->test_suite_name(), "_",
                                    test->name());
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = std::filesystem::path(testing::TempDir()) / name;
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(std::filesystem::create_directories(dir_));
  }

  void TearDown() override {
    std::error_code ignored;
    std::filesystem::permissions(dir_ / "pktpoold.conf", std::filesystem::perms::owner_all,
                                 ignored);
    std::filesystem::remove_all(dir_, ignored);
  }

  // Writes `text` to a file in the test's directory and returns its path.
  std::string WriteConfig(const std::string& text, const std::string& name = "pktpoold.conf") {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    EXPECT_TRUE(out.good()) << path;
    return path;
  }

  std::filesystem::path dir_;
};

// Sets (or unsets, for nullopt) an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The status message as a std::string (absl::string_view is not std::string_view here).
std::string Message(const absl::Status& status) { return std::string(status.message()); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The example with every commented-out setting enabled: a "#" directly followed by
// text (after any indentation) is removed; "# explanations" stay comments.
std::string EnableCommentedSettings(const std::string& text) {
  std::string enabled;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::string out(line);
    const size_t first = out.find_first_not_of(' ');
    if (first != std::string::npos && out[first] == '#' && first + 1 < out.size() &&
        out[first + 1] != ' ' && out[first + 1] != '#') {
      out.erase(first, 1);
    }
    absl::StrAppend(&enabled, out, "\n");
  }
  return enabled;
}

constexpr const char* kFullConfig = R"pb(# every field set
listen {
  unix_socket: "/run/pktpoold/test.sock"
  tcp_address: "[::]:50051"
  tls {
    cert_file: "/etc/pktpoold/server.crt"
    key_file: "/etc/pktpoold/server.key"
    client_ca_file: "/etc/pktpoold/ca.crt"
  }
  allow_insecure_tcp: false
}
bindings {
  interface: "vethcfg0"
  options {
    snaplen: 9000
    pcap_buffer_bytes: 4194304
    filter: "udp port 4789"
    direction: DIRECTION_INOUT
    promiscuous: false
    immediate_mode: true
    pcap_timeout { seconds: 1 nanos: 500000000 }
    rx { packet_descriptors: 4096 packet_overflow: 512 buffer_count: 8192 buffer_size: 4096 }
    tx { packet_descriptors: 2048 packet_overflow: 0 buffer_count: 4096 buffer_size: 9018 }
    rx_preallocate: 1024
    rx_hold_when_exhausted: true
  }
}
bindings { interface: "veth-test-long1" }
limits {
  max_message_bytes: 67108864
  max_frames_per_batch: 65536
  max_concurrent_streams: 10000
}
)pb";

// ---- parsing -------------------------------------------------------------------------

TEST_F(ConfigFileTest, ValidFullFileParses) {
  auto config = LoadConfigFile(WriteConfig(kFullConfig));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen().unix_socket(), "/run/pktpoold/test.sock");
  EXPECT_EQ(config->listen().tcp_address(), "[::]:50051");
  EXPECT_EQ(config->listen().tls().client_ca_file(), "/etc/pktpoold/ca.crt");
  ASSERT_EQ(config->bindings_size(), 2);
  const v1::BindingOptions& options = config->bindings(0).options();
  EXPECT_EQ(options.snaplen(), 9000u);
  EXPECT_EQ(options.direction(), v1::DIRECTION_INOUT);
  ASSERT_TRUE(options.has_promiscuous());
  EXPECT_FALSE(options.promiscuous());
  EXPECT_EQ(options.pcap_timeout().nanos(), 500000000);
  EXPECT_EQ(options.rx().packet_overflow(), 512u);
  EXPECT_EQ(options.tx().buffer_size(), 9018u);
  EXPECT_TRUE(options.rx_hold_when_exhausted());
  EXPECT_EQ(config->bindings(1).interface(), "veth-test-long1");
  EXPECT_EQ(config->limits().max_concurrent_streams(), 10000u);
}

TEST_F(ConfigFileTest, EmptyFileIsValid) {
  auto config = LoadConfigFile(WriteConfig("# nothing set: every default\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->has_listen());
}

TEST_F(ConfigFileTest, SyntaxErrorReportsFileLineColumn) {
  const std::string path = WriteConfig("listen {\n  unix_socket \"/x.sock\"\n}\n");
  auto config = LoadConfigFile(path);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_THAT(Message(config.status()), StartsWith(absl::StrCat(path, ":2:15: ")));
}

TEST_F(ConfigFileTest, UnknownFieldReportsItsLine) {
  const std::string path = WriteConfig("listen {\n}\nlimits {\n  max_mesage_bytes: 4096\n}\n");
  auto config = LoadConfigFile(path);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  // The parser's column is where it noticed (after the name); the line is the field's.
  EXPECT_THAT(Message(config.status()), StartsWith(absl::StrCat(path, ":4:")));
  EXPECT_THAT(Message(config.status()), HasSubstr("no field named \"max_mesage_bytes\""));
}

TEST_F(ConfigFileTest, UnknownEnumNameReportsItsLine) {
  const std::string path =
      WriteConfig("bindings {\n  interface: \"vethcfg0\"\n  options { direction: SIDEWAYS }\n}\n");
  auto config = LoadConfigFile(path);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_THAT(Message(config.status()), StartsWith(absl::StrCat(path, ":3:")));
  EXPECT_THAT(Message(config.status()), HasSubstr("SIDEWAYS"));
}

TEST_F(ConfigFileTest, MissingFileIsNotFound) {
  const std::string path = (dir_ / "absent.conf").string();
  auto config = LoadConfigFile(path);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound) << config.status();
  EXPECT_THAT(Message(config.status()), HasSubstr(path));
}

TEST_F(ConfigFileTest, UnreadableFileIsPermissionDenied) {
  const std::string path = WriteConfig("limits { max_frames_per_batch: 16 }\n");
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  if (geteuid() == 0) {
    // Root reads any file: try as nobody, in a child process.
    EXPECT_EXIT(
        {
          if (setgid(65534) != 0 || setuid(65534) != 0) std::_Exit(100);
          auto config = LoadConfigFile(path);
          const bool named = absl::StrContains(config.status().message(), path);
          std::_Exit(named ? static_cast<int>(config.status().code()) : 101);
        },
        testing::ExitedWithCode(static_cast<int>(absl::StatusCode::kPermissionDenied)), "");
    return;
  }
  auto config = LoadConfigFile(path);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kPermissionDenied) << config.status();
  EXPECT_THAT(Message(config.status()), HasSubstr(path));
}

TEST_F(ConfigFileTest, DirectoryIsNotAConfigFile) {
  auto config = LoadConfigFile(dir_.string());
  EXPECT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), HasSubstr(dir_.string()));
}

// ---- limits ---------------------------------------------------------------------------

TEST_F(ConfigFileTest, PacketDescriptorsOver65535NamesNdisStatusResources) {
  const std::string path = WriteConfig(
      "# pktpoold test config\n"
      "listen {\n"
      "  unix_socket: \"/tmp/pktpoold-test.sock\"\n"
      "}\n"
      "bindings {\n"
      "  interface: \"vethcfg0\"\n"
      "  options { rx { packet_descriptors: 70000 } }\n"
      "}\n");
  auto config = LoadConfigFile(path);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_EQ(Message(config.status()),
            absl::StrCat(path, ":7: bindings[0].options.rx.packet_descriptors: 70000 exceeds "
                               "65535 (NDIS_STATUS_RESOURCES); use at most 65535"));
}

// A config file breaking one rule: the error names `line: field` and says `detail`.
struct RuleCase {
  const char* name;
  const char* text;
  const char* line_and_field;  // "3: listen.tcp_address"
  const char* detail;          // a piece of the message
};

const RuleCase kRuleCases[] = {
    {"TcpAddressWithoutPort", "listen {\n  tcp_address: \"127.0.0.1\"\n}\n",
     "2: listen.tcp_address", "add the port"},
    {"TcpAddressPortNotNumeric", "listen {\n  tcp_address: \"127.0.0.1:grpc\"\n}\n",
     "2: listen.tcp_address", "is not a number 1 to 65535"},
    {"TcpAddressPortZero", "listen {\n  tcp_address: \"127.0.0.1:0\"\n}\n",
     "2: listen.tcp_address", "is not a number 1 to 65535"},
    {"TcpAddressPortOver65535", "listen {\n  tcp_address: \"localhost:65536\"\n}\n",
     "2: listen.tcp_address", "is not a number 1 to 65535"},
    {"TcpAddressIpv6WithoutBrackets", "listen {\n  tcp_address: \"::1:50051\"\n}\n",
     "2: listen.tcp_address", "in brackets"},
    {"TcpAddressIpv6UnclosedBracket", "listen {\n  tcp_address: \"[::1:50051\"\n}\n",
     "2: listen.tcp_address", "no closing"},
    {"TcpAddressWithoutHost", "listen {\n  tcp_address: \":50051\"\n}\n",
     "2: listen.tcp_address", "has no host"},
    {"PlaintextTcpOnNonLoopbackHost", "listen {\n  unix_socket: \"/x\"\n  tcp_address: \"0.0.0.0:50051\"\n}\n",
     "3: listen.tcp_address", "allow_insecure_tcp"},
    {"PlaintextTcpOnPublicIpv6Host", "listen {\n  tcp_address: \"[2001:db8::1]:50051\"\n}\n",
     "2: listen.tcp_address", "plaintext TCP"},
    {"TlsCertWithoutKey",
     "listen {\n  tcp_address: \"0.0.0.0:50051\"\n  tls {\n    cert_file: \"/c.crt\"\n  }\n}\n",
     "4: listen.tls.cert_file", "set without key_file"},
    {"TlsKeyWithoutCert",
     "listen {\n  tcp_address: \"127.0.0.1:50051\"\n  tls {\n    key_file: \"/c.key\"\n  }\n}\n",
     "4: listen.tls.key_file", "set without cert_file"},
    {"ClientCaWithoutServerCertificate",
     "listen {\n  tcp_address: \"127.0.0.1:50051\"\n  tls {\n    client_ca_file: \"/ca.crt\"\n"
     "  }\n}\n",
     "4: listen.tls.client_ca_file", "set listen.tls.cert_file and listen.tls.key_file"},
    {"TlsWithoutTcpAddress",
     "listen {\n  tls {\n    cert_file: \"/c.crt\"\n    key_file: \"/c.key\"\n  }\n}\n",
     "2: listen.tls", "set listen.tcp_address"},
    {"UnixSocketPathTooLong",
     "listen {\n  unix_socket: \"/run/pktpoold/a-very-long-directory-name-for-a-socket/"
     "and-another-level-of-directories/and-one-more-to-pass-108/pktpoold.sock\"\n}\n",
     "2: listen.unix_socket", "at most 107"},
    {"InterfaceMissing", "bindings {\n  options { snaplen: 1500 }\n}\n",
     "1: bindings[0].interface", "missing"},
    {"InterfaceOver15Characters", "bindings {\n  interface: \"sixteen-chars-xx\"\n}\n",
     "2: bindings[0].interface", "at most 15"},
    {"InterfaceBoundTwice",
     "bindings { interface: \"vethcfg0\" }\nbindings {\n  interface: \"vethcfg0\"\n}\n",
     "3: bindings[1].interface", "already bound by bindings[0]"},
    {"TxPacketDescriptorsOver65535",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    tx {\n      packet_descriptors: 65536\n"
     "    }\n  }\n}\n",
     "5: bindings[0].options.tx.packet_descriptors", "NDIS_STATUS_RESOURCES"},
    {"BufferCountOverPoolLimit",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    tx { buffer_count: 4194305 }\n  }\n}\n",
     "4: bindings[0].options.tx.buffer_count", "use at most 4194304"},
    {"BufferSizeBelow64",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    rx { buffer_size: 63 }\n  }\n}\n",
     "4: bindings[0].options.rx.buffer_size", "63 is below 64; use 64 to 65536 (64 KiB)"},
    {"BufferSizeOver65536",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    tx { buffer_size: 65537 }\n  }\n}\n",
     "4: bindings[0].options.tx.buffer_size", "65537 exceeds 65536 (64 KiB)"},
    {"SnaplenBelow64",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    snaplen: 63\n  }\n}\n",
     "4: bindings[0].options.snaplen", "or 0 for the default 65535"},
    {"SnaplenOver262144",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    snaplen: 262145\n  }\n}\n",
     "4: bindings[0].options.snaplen", "262145 exceeds 262144"},
    {"PcapBufferBytesBelow65536",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    pcap_buffer_bytes: 65535\n  }\n}\n",
     "4: bindings[0].options.pcap_buffer_bytes", "use at least 65536 (64 KiB)"},
    {"PcapTimeoutOver10Seconds",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    pcap_timeout { seconds: 10 nanos: 1 }\n"
     "  }\n}\n",
     "4: bindings[0].options.pcap_timeout", "exceeds 10s"},
    {"PcapTimeoutNegative",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    pcap_timeout { seconds: -1 }\n  }\n}\n",
     "4: bindings[0].options.pcap_timeout", "is negative"},
    {"PcapTimeoutNanosOutOfRange",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    pcap_timeout { nanos: 1000000000 }\n"
     "  }\n}\n",
     "4: bindings[0].options.pcap_timeout", "use 0 to 999999999"},
    {"RxPreallocateOverPacketDescriptors",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    rx { packet_descriptors: 100 }\n  }\n}\n",
     "3: bindings[0].options.rx_preallocate", "256 (the default) exceeds the 100 rx packet"},
    {"RxPreallocateOverBufferCount",
     "bindings {\n  interface: \"vethcfg0\"\n  options {\n    rx { buffer_count: 100 }\n"
     "    rx_preallocate: 200\n  }\n}\n",
     "5: bindings[0].options.rx_preallocate", "exceeds the 100 rx buffers"},
    {"MaxMessageBytesBelow2MiB", "limits {\n  max_message_bytes: 2097151\n}\n",
     "2: limits.max_message_bytes", "2097151 is below 2097152 (2 MiB)"},
    {"MaxMessageBytesOver256MiB", "limits {\n  max_message_bytes: 268435457\n}\n",
     "2: limits.max_message_bytes", "exceeds 268435456 (256 MiB)"},
    {"MaxFramesPerBatchOver65536", "limits {\n  max_frames_per_batch: 65537\n}\n",
     "2: limits.max_frames_per_batch", "use 1 to 65536, or 0 for the default 4096"},
    {"MaxConcurrentStreamsOver10000", "limits {\n  max_concurrent_streams: 10001\n}\n",
     "2: limits.max_concurrent_streams", "use 1 to 10000, or 0 for the default 64"},
};

class ConfigRuleTest : public ConfigFileTest, public testing::WithParamInterface<RuleCase> {};

TEST_P(ConfigRuleTest, ViolationIsInvalidArgumentNamingFieldAndLine) {
  const RuleCase& rule = GetParam();
  const std::string path = WriteConfig(rule.text);
  auto config = LoadConfigFile(path);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  EXPECT_THAT(Message(config.status()),
              HasSubstr(absl::StrCat(path, ":", rule.line_and_field, ": ")));
  EXPECT_THAT(Message(config.status()), HasSubstr(rule.detail));
}

INSTANTIATE_TEST_SUITE_P(Rules, ConfigRuleTest, testing::ValuesIn(kRuleCases),
                         [](const testing::TestParamInfo<RuleCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

TEST_F(ConfigFileTest, BoundaryValuesAreValid) {
  auto config = LoadConfigFile(WriteConfig(R"pb(
    bindings {
      interface: "lo"
      options {
        snaplen: 64
        pcap_buffer_bytes: 65536
        pcap_timeout {}
        rx { packet_descriptors: 1 buffer_count: 1 buffer_size: 64 }
        tx { packet_descriptors: 1 buffer_count: 1 buffer_size: 64 }
        rx_preallocate: 1
      }
    }
    bindings {
      interface: "veth-fifteen-ch"
      options {
        snaplen: 262144
        pcap_buffer_bytes: 4294967295
        pcap_timeout { seconds: 10 }
        rx { packet_descriptors: 65535 packet_overflow: 4000000000 buffer_count: 4194304 buffer_size: 65536 }
        tx { packet_descriptors: 65535 buffer_count: 4194304 buffer_size: 65536 }
        rx_preallocate: 65535
      }
    }
    limits { max_message_bytes: 268435456 max_frames_per_batch: 1 max_concurrent_streams: 1 }
  )pb"));
  EXPECT_TRUE(config.ok()) << config.status();
  config = LoadConfigFile(WriteConfig(
      "limits { max_message_bytes: 2097152 max_frames_per_batch: 65536 "
      "max_concurrent_streams: 10000 }\n"));
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST_F(ConfigFileTest, EveryProblemIsReported) {
  const std::string path = WriteConfig(
      "limits {\n  max_frames_per_batch: 70000\n  max_concurrent_streams: 20000\n}\n");
  auto config = LoadConfigFile(path);
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  const std::vector<std::string> lines = absl::StrSplit(Message(config.status()), '\n');
  ASSERT_EQ(lines.size(), 2u) << config.status();
  EXPECT_THAT(lines[0], StartsWith(absl::StrCat(path, ":2: limits.max_frames_per_batch: ")));
  EXPECT_THAT(lines[1], StartsWith(absl::StrCat(path, ":3: limits.max_concurrent_streams: ")));
}

TEST(TcpListenerTest, PlaintextAllowedOnLoopbackHosts) {
  for (const char* address : {"127.0.0.1:50051", "127.1.2.3:1", "[::1]:65535", "localhost:50051"}) {
    v1::DaemonConfig config;
    config.mutable_listen()->set_tcp_address(address);
    EXPECT_TRUE(ValidateConfig(config, "").ok()) << address;
  }
}

TEST(TcpListenerTest, PlaintextAllowedAnywhereWithAllowInsecureTcp) {
  v1::DaemonConfig config;
  config.mutable_listen()->set_tcp_address("0.0.0.0:50051");
  config.mutable_listen()->set_allow_insecure_tcp(true);
  EXPECT_TRUE(ValidateConfig(config, "").ok());
}

TEST(TcpListenerTest, TlsAllowedAnywhere) {
  v1::DaemonConfig config;
  config.mutable_listen()->set_tcp_address("[::]:50051");
  config.mutable_listen()->mutable_tls()->set_cert_file("/c.crt");
  config.mutable_listen()->mutable_tls()->set_key_file("/c.key");
  EXPECT_TRUE(ValidateConfig(config, "").ok());
}

// ---- ValidateConfig and ValidateBindingOptions without a file -------------------------

TEST(ValidateConfigTest, WithoutSourceMessageStartsWithFieldPath) {
  v1::DaemonConfig config;
  config.mutable_limits()->set_max_concurrent_streams(10001);
  const absl::Status status = ValidateConfig(config, "");
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(Message(status), StartsWith("limits.max_concurrent_streams: 10001 exceeds 10000"));
}

TEST(ValidateConfigTest, WithSourceButNoFileNamesSourceWithoutLine) {
  v1::DaemonConfig config;
  config.add_bindings()->mutable_options()->mutable_rx()->set_packet_descriptors(70000);
  config.mutable_bindings(0)->set_interface("vethcfg0");
  const absl::Status status = ValidateConfig(config, "flags");
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(Message(status),
            "flags: bindings[0].options.rx.packet_descriptors: 70000 exceeds 65535 "
            "(NDIS_STATUS_RESOURCES); use at most 65535");
}

TEST(ValidateConfigTest, UnknownDirectionRejected) {
  v1::DaemonConfig config;
  v1::BindConfig* binding = config.add_bindings();
  binding->set_interface("vethcfg0");
  binding->mutable_options()->set_direction(static_cast<v1::Direction>(7));
  const absl::Status status = ValidateConfig(config, "");
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(Message(status), StartsWith("bindings[0].options.direction: 7 is not a direction"));
}

TEST(ValidateConfigTest, UnknownTimestampPrecisionRejected) {
  v1::DaemonConfig config;
  v1::BindConfig* binding = config.add_bindings();
  binding->set_interface("vethcfg0");
  binding->mutable_options()->set_timestamp_precision(static_cast<v1::TimestampPrecision>(9));
  const absl::Status status = ValidateConfig(config, "");
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(Message(status),
              StartsWith("bindings[0].options.timestamp_precision: 9 is not a precision"));
}

TEST(ValidateConfigTest, PoolMemoryBudgetBelowOneMebibyteRejected) {
  v1::DaemonConfig config;
  config.mutable_limits()->set_max_pool_memory(4096);
  const absl::Status status = ValidateConfig(config, "");
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(Message(status),
              StartsWith("limits.max_pool_memory: 4096 is below 1048576 (1 MiB); use at least"));
  config.mutable_limits()->set_max_pool_memory(1u << 20);
  EXPECT_TRUE(ValidateConfig(config, "").ok());
}

TEST(PoolMemoryBudgetTest, HalfTheMemoryAvailableCappedUnlessSet) {
  v1::DaemonConfig config;
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  EXPECT_EQ(PoolMemoryBudget(config, 24 * kGiB), 12 * kGiB);
  EXPECT_EQ(PoolMemoryBudget(config, 256 * kGiB), 32 * kGiB);   // capped
  EXPECT_EQ(PoolMemoryBudget(config, 0), 32 * kGiB);            // MemAvailable unknown
  EXPECT_EQ(PoolMemoryBudget(config, 1024), uint64_t{1} << 20);  // at least 1 MiB
  config.mutable_limits()->set_max_pool_memory(3 * kGiB);
  EXPECT_EQ(PoolMemoryBudget(config, 24 * kGiB), 3 * kGiB);
  EXPECT_GT(MemoryAvailableBytes(), 0u);  // this machine has /proc/meminfo
}

TEST(ValidateBindingOptionsTest, NamesTheGivenFieldPath) {
  v1::BindingOptions options;
  options.set_snaplen(32);
  const absl::Status status = ValidateBindingOptions(options, "options");
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(Message(status), StartsWith("options.snaplen: 32 is below 64"));
  EXPECT_TRUE(ValidateBindingOptions(v1::BindingOptions(), "options").ok());
}

// ---- defaults --------------------------------------------------------------------------

TEST(WithDefaultsTest, FillsEveryUnsetFieldForRoot) {
  v1::DaemonConfig config;
  config.add_bindings()->set_interface("vethcfg0");
  const v1::DaemonConfig filled = WithDefaults(config, /*is_root=*/true);
  EXPECT_EQ(filled.listen().unix_socket(), "/run/pktpoold/pktpoold.sock");
  EXPECT_EQ(filled.listen().tcp_address(), "");
  EXPECT_FALSE(filled.listen().has_tls());
  EXPECT_EQ(filled.limits().max_message_bytes(), 16u << 20);
  EXPECT_EQ(filled.limits().max_frames_per_batch(), 4096u);
  EXPECT_EQ(filled.limits().max_concurrent_streams(), 64u);
  const v1::BindingOptions& options = filled.bindings(0).options();
  EXPECT_EQ(options.snaplen(), 65535u);
  EXPECT_EQ(options.pcap_buffer_bytes(), 64u << 20);
  EXPECT_EQ(options.filter(), "");
  EXPECT_EQ(options.direction(), v1::DIRECTION_IN);
  EXPECT_EQ(options.timestamp_precision(), v1::TIMESTAMP_PRECISION_NANO);
  ASSERT_TRUE(options.has_promiscuous());
  EXPECT_TRUE(options.promiscuous());
  ASSERT_TRUE(options.has_rx_hold_when_exhausted());
  EXPECT_TRUE(options.rx_hold_when_exhausted());
  EXPECT_FALSE(options.immediate_mode());
  EXPECT_EQ(options.pcap_timeout().seconds(), 0);
  EXPECT_EQ(options.pcap_timeout().nanos(), 2000000);
  EXPECT_EQ(options.rx().packet_descriptors(), 4096u);
  EXPECT_EQ(options.rx().packet_overflow(), 0u);
  EXPECT_EQ(options.rx().buffer_count(), 8192u);
  EXPECT_EQ(options.rx().buffer_size(), 2048u);
  EXPECT_EQ(options.tx().packet_descriptors(), 1024u);
  EXPECT_EQ(options.tx().packet_overflow(), 0u);
  EXPECT_EQ(options.tx().buffer_count(), 2048u);
  EXPECT_EQ(options.tx().buffer_size(), 2048u);
  EXPECT_EQ(options.rx_preallocate(), 256u);
  EXPECT_TRUE(ValidateConfig(filled, "").ok());
}

TEST(WithDefaultsTest, UserSocketInXdgRuntimeDir) {
  ScopedEnv runtime_dir("XDG_RUNTIME_DIR", "/run/user/1000");
  EXPECT_EQ(WithDefaults(v1::DaemonConfig(), /*is_root=*/false).listen().unix_socket(),
            "/run/user/1000/pktpoold.sock");
}

TEST(WithDefaultsTest, UserSocketInTmpWithoutXdgRuntimeDir) {
  ScopedEnv runtime_dir("XDG_RUNTIME_DIR", std::nullopt);
  EXPECT_EQ(WithDefaults(v1::DaemonConfig(), /*is_root=*/false).listen().unix_socket(),
            absl::StrCat("/tmp/pktpoold-", getuid(), ".sock"));
}

TEST(WithDefaultsTest, KeepsSetValues) {
  v1::DaemonConfig config;
  config.mutable_listen()->set_unix_socket("/x.sock");
  config.mutable_limits()->set_max_frames_per_batch(16);
  v1::BindingOptions* options = config.add_bindings()->mutable_options();
  options->set_snaplen(128);
  options->set_promiscuous(false);
  options->set_direction(v1::DIRECTION_OUT);
  options->set_timestamp_precision(v1::TIMESTAMP_PRECISION_MICRO);
  options->mutable_pcap_timeout()->set_seconds(1);
  options->mutable_rx()->set_buffer_size(512);
  options->set_rx_preallocate(8);
  const v1::DaemonConfig filled = WithDefaults(config, /*is_root=*/true);
  EXPECT_EQ(filled.listen().unix_socket(), "/x.sock");
  EXPECT_EQ(filled.limits().max_frames_per_batch(), 16u);
  EXPECT_EQ(filled.limits().max_concurrent_streams(), 64u);
  const v1::BindingOptions& applied = filled.bindings(0).options();
  EXPECT_EQ(applied.snaplen(), 128u);
  EXPECT_FALSE(applied.promiscuous());
  EXPECT_EQ(applied.direction(), v1::DIRECTION_OUT);
  EXPECT_EQ(applied.timestamp_precision(), v1::TIMESTAMP_PRECISION_MICRO);
  EXPECT_EQ(applied.pcap_timeout().seconds(), 1);
  EXPECT_EQ(applied.pcap_timeout().nanos(), 0);
  EXPECT_EQ(applied.rx().buffer_size(), 512u);
  EXPECT_EQ(applied.rx().buffer_count(), 8192u);  // the rx default, kept
  EXPECT_EQ(applied.rx_preallocate(), 8u);
}

// ---- loopback --------------------------------------------------------------------------

TEST(IsLoopbackHostTest, LoopbackHosts) {
  for (const char* host : {"127.0.0.1", "127.0.0.0", "127.255.255.254", "::1", "[::1]",
                           "0:0:0:0:0:0:0:1", "localhost", "LocalHost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
}

TEST(IsLoopbackHostTest, OtherHosts) {
  for (const char* host : {"", "0.0.0.0", "::", "[::]", "128.0.0.1", "10.0.0.1", "126.255.255.255",
                           "::2", "::ffff:10.0.0.1", "example.com", "localhost.example.com",
                           "127.0.0.1.example.com", "127.1", "[127.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

// ---- the example config ----------------------------------------------------------------

constexpr const char* kExampleConfigPath = PKTPOOL_SOURCE_DIR "/deploy/pktpoold.textproto";

TEST(ExampleConfigTest, ParsesAndValidates) {
  auto config = LoadConfigFile(kExampleConfigPath);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen().unix_socket(), "/run/pktpoold/pktpoold.sock");
  EXPECT_TRUE(config->listen().tcp_address().empty());
  EXPECT_EQ(config->bindings_size(), 0);
}

TEST_F(ConfigFileTest, ExampleWithEverySettingEnabledParsesAndValidates) {
  const std::string example = ReadFile(kExampleConfigPath);
  ASSERT_FALSE(example.empty()) << kExampleConfigPath;
  auto config = LoadConfigFile(WriteConfig(EnableCommentedSettings(example)));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen().tcp_address(), "0.0.0.0:50051");
  EXPECT_FALSE(config->listen().tls().client_ca_file().empty());
  ASSERT_EQ(config->bindings_size(), 1);
  // The example shows the defaults (its filter aside).
  v1::BindingOptions shown = config->bindings(0).options();
  shown.clear_filter();
  const v1::BindingOptions defaults = BindingOptionsWithDefaults(v1::BindingOptions());
  EXPECT_EQ(shown.SerializeAsString(), defaults.SerializeAsString())
      << "example:\n" << shown.DebugString() << "defaults:\n" << defaults.DebugString();
  EXPECT_EQ(config->limits().SerializeAsString(),
            WithDefaults(v1::DaemonConfig(), true).limits().SerializeAsString());
}

}  // namespace
}  // namespace pktpool::config
