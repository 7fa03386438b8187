// The config's operations settings (metrics.listen_address, status_interval_seconds) and
// what a reload changes (config_diff.h): one test per rule.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "daemon/config/config.h"
#include "daemon/config/config_diff.h"
#include "google/protobuf/text_format.h"

namespace pktpool::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Writes `text` to a file of its own and loads it.
absl::StatusOr<v1::DaemonConfig> Load(const std::string& text) {
  static int counter = 0;
  const std::string path = absl::StrCat(::testing::TempDir(), "/ops_config_test_", getpid(), "_",
                                        counter++, ".conf");
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
  auto loaded = LoadConfigFile(path);
  std::filesystem::remove(path);
  if (!loaded.ok()) {
    // Name the file generically so expectations need not know the temp path.
    std::string message(loaded.status().message());
    for (size_t at = message.find(path); at != std::string::npos; at = message.find(path)) {
      message.replace(at, path.size(), "FILE");
    }
    return absl::Status(loaded.status().code(), message);
  }
  return loaded;
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// ---- metrics.listen_address --------------------------------------------------------------

TEST(MetricsListenAddress, AnyHostAndPortZeroAreValid) {
  for (const char* address : {"127.0.0.1:0", "127.0.0.1:9469", "0.0.0.0:9469", "[::]:9469",
                              "[::1]:0", "localhost:65535", "192.0.2.7:9469"}) {
    auto config = Load(absl::StrCat("metrics {\n  listen_address: \"", address, "\"\n}\n"));
    EXPECT_TRUE(config.ok()) << address << ": " << config.status();
  }
}

TEST(MetricsListenAddress, EmptyMeansOffAndStaysEmpty) {
  auto config = Load("metrics {}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(WithDefaults(*config, true).metrics().listen_address(), "");
}

TEST(MetricsListenAddress, BrokenAddressNamesLineFieldAndProblem) {
  const struct {
    const char* address;
    const char* problem;
  } cases[] = {{"127.0.0.1", "add the port"},
               {"127.0.0.1:65536", "is not a number 0 to 65535"},
               {"127.0.0.1:metrics", "is not a number 0 to 65535"},
               {":9469", "has no host"},
               {"::1:9469", "in brackets"},
               {"[::1:9469", "no closing"}};
  for (const auto& c : cases) {
    auto config = Load(absl::StrCat("# metrics\nmetrics {\n  listen_address: \"", c.address,
                                    "\"\n}\n"));
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.address;
    EXPECT_THAT(Message(config.status()), HasSubstr("FILE:3: metrics.listen_address: "))
        << c.address;
    EXPECT_THAT(Message(config.status()), HasSubstr(c.problem)) << c.address;
  }
}

TEST(ParseHostPortTest, PortZeroOnlyWhenAnyPortIsAllowed) {
  EXPECT_FALSE(ParseHostPort("127.0.0.1:0", false).ok());
  auto any = ParseHostPort("127.0.0.1:0", true);
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->port, 0u);
  auto v6 = ParseHostPort("[::1]:9469", false);
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9469u);
}

// ---- status_interval_seconds -------------------------------------------------------------

TEST(StatusInterval, ZeroTakesTheDefaultOfFiveSeconds) {
  auto config = Load("status_interval_seconds: 0\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(WithDefaults(*config, true).status_interval_seconds(), 5u);
  EXPECT_EQ(WithDefaults(v1::DaemonConfig(), true).status_interval_seconds(), 5u);
}

TEST(StatusInterval, OneTo3600AreValidAndKept) {
  for (uint32_t seconds : {1u, 60u, 3600u}) {
    auto config = Load(absl::StrCat("status_interval_seconds: ", seconds, "\n"));
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(WithDefaults(*config, true).status_interval_seconds(), seconds);
  }
}

TEST(StatusInterval, Over3600NamesLineAndRange) {
  auto config = Load("# too slow\nstatus_interval_seconds: 3601\n");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(config.status()),
            "FILE:2: status_interval_seconds: 3601 exceeds 3600; use 1 to 3600, or 0 for the "
            "default 5");
}

// ---- what a reload changes ---------------------------------------------------------------

v1::BindingOptions Options(const std::string& text) {
  v1::BindingOptions options;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &options)) << text;
  return BindingOptionsWithDefaults(options);
}

TEST(DiffBindingOptionsTest, SameOptionsChangeNothing) {
  const v1::BindingOptions options = Options("snaplen: 1500 tx { packet_descriptors: 512 }");
  const BindingOptionsDiff diff = DiffBindingOptions("veth0", options, options);
  EXPECT_THAT(diff.pool_changes, IsEmpty());
  EXPECT_THAT(diff.needs_rebind, IsEmpty());
}

TEST(DiffBindingOptionsTest, UnsetEqualsItsDefault) {
  const BindingOptionsDiff diff = DiffBindingOptions(
      "veth0", Options(""), Options("snaplen: 65535 tx { packet_descriptors: 1024 }"));
  EXPECT_THAT(diff.pool_changes, IsEmpty());
  EXPECT_THAT(diff.needs_rebind, IsEmpty());
}

TEST(DiffBindingOptionsTest, PacketSizesBecomeOneTunePoolOfThatPool) {
  const BindingOptionsDiff diff =
      DiffBindingOptions("veth0", Options("tx { packet_descriptors: 512 }"),
                         Options("tx { packet_descriptors: 256 packet_overflow: 10 }"));
  ASSERT_EQ(diff.pool_changes.size(), 1u);
  const v1::TunePoolRequest& request = diff.pool_changes[0].request;
  EXPECT_EQ(request.interface(), "veth0");
  EXPECT_EQ(request.pool(), v1::POOL_NAME_TX_PACKETS);
  EXPECT_EQ(request.descriptors(), 256u);
  EXPECT_EQ(request.overflow(), 10u);
  EXPECT_EQ(diff.pool_changes[0].what,
            "bindings[veth0].options.tx.packet_descriptors: 512 -> 256, "
            "bindings[veth0].options.tx.packet_overflow: 0 -> 10");
  EXPECT_THAT(diff.needs_rebind, IsEmpty());
}

TEST(DiffBindingOptionsTest, EachChangedPoolIsTunedInPoolOrder) {
  const BindingOptionsDiff diff = DiffBindingOptions(
      "veth0", Options(""),
      Options("rx { packet_descriptors: 600 buffer_size: 1024 } tx { buffer_count: 700 }"));
  ASSERT_EQ(diff.pool_changes.size(), 3u);
  EXPECT_EQ(diff.pool_changes[0].request.pool(), v1::POOL_NAME_RX_PACKETS);
  EXPECT_EQ(diff.pool_changes[0].request.descriptors(), 600u);
  EXPECT_EQ(diff.pool_changes[1].request.pool(), v1::POOL_NAME_RX_BUFFERS);
  EXPECT_EQ(diff.pool_changes[1].request.descriptors(), 8192u);  // the rx buffer count, kept
  EXPECT_EQ(diff.pool_changes[1].request.buffer_size(), 1024u);
  EXPECT_EQ(diff.pool_changes[2].request.pool(), v1::POOL_NAME_TX_BUFFERS);
  EXPECT_EQ(diff.pool_changes[2].request.descriptors(), 700u);
  EXPECT_EQ(diff.pool_changes[2].request.buffer_size(), 2048u);
}

TEST(DiffBindingOptionsTest, OtherOptionsNeedARebindEachNamed) {
  const BindingOptionsDiff diff = DiffBindingOptions(
      "veth0", Options("snaplen: 1500"),
      Options("snaplen: 9000 filter: \"udp\" promiscuous: false pcap_timeout { nanos: 5000000 }"));
  EXPECT_THAT(diff.pool_changes, IsEmpty());
  EXPECT_THAT(diff.needs_rebind,
              ElementsAre("bindings[veth0].options.snaplen: 1500 -> 9000",
                          "bindings[veth0].options.filter: \"\" -> \"udp\"",
                          "bindings[veth0].options.promiscuous: true -> false",
                          "bindings[veth0].options.pcap_timeout.nanos: 2000000 -> 5000000"));
}

TEST(DiffBindingOptionsTest, AppliedChangesLeaveNothingToDo) {
  v1::BindingOptions running = Options("");
  const v1::BindingOptions next =
      Options("rx { packet_descriptors: 600 buffer_count: 1400 buffer_size: 1024 } "
              "tx { packet_descriptors: 300 packet_overflow: 5 buffer_count: 700 }");
  for (const PoolChange& change : DiffBindingOptions("veth0", running, next).pool_changes) {
    ApplyPoolChange(change, &running);
  }
  EXPECT_EQ(running.SerializeAsString(), next.SerializeAsString()) << running.DebugString();
}

TEST(ChangesNeedingRestartTest, ListenLimitsAndMetricsNeedARestart) {
  v1::DaemonConfig running = WithDefaults(v1::DaemonConfig(), true);
  v1::DaemonConfig next = running;
  next.mutable_listen()->set_tcp_address("127.0.0.1:50051");
  next.mutable_limits()->set_max_frames_per_batch(16);
  next.mutable_metrics()->set_listen_address("127.0.0.1:9469");
  next.add_bindings()->set_interface("veth0");  // reloaded live
  next.set_status_interval_seconds(60);          // applied live
  EXPECT_THAT(ChangesNeedingRestart(running, next),
              ElementsAre("listen.tcp_address: \"\" -> \"127.0.0.1:50051\"",
                          "limits.max_frames_per_batch: 4096 -> 16",
                          "metrics.listen_address: \"\" -> \"127.0.0.1:9469\""));
  EXPECT_THAT(ChangesNeedingRestart(running, running), IsEmpty());
}

}  // namespace
}  // namespace pktpool::config
