// MetricsServer on 127.0.0.1 (loopback only): GET /metrics serves the rendered text with
// the exposition Content-Type, other paths are 404, a failed render is 500, the port is
// free again once the server is gone.
#include "daemon/metrics/metrics_server.h"

#include <httplib.h>

#include <atomic>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"

namespace pktpool::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(MetricsServer, ServesMetricsOnAnEphemeralPortAnd404Elsewhere) {
  std::atomic<int> renders{0};
  auto server = MetricsServer::Start("127.0.0.1", 0, [&]() -> absl::StatusOr<std::string> {
    ++renders;
    return std::string("# HELP m h\n# TYPE m gauge\nm 1\n");
  });
  ASSERT_TRUE(server.ok()) << server.status();
  const uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);
  EXPECT_EQ((*server)->url(), "http://127.0.0.1:" + std::to_string(port) + "/metrics");
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  auto got = client.Get("/metrics");
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "# HELP m h\n# TYPE m gauge\nm 1\n");
  EXPECT_THAT(got->get_header_value("Content-Type"), StartsWith("text/plain; version=0.0.4"));
  EXPECT_EQ(renders.load(), 1);
  auto other = client.Get("/other");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  auto post = client.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_NE(post->status, 200);
  EXPECT_EQ(renders.load(), 1) << "only GET /metrics renders";
  server->reset();
  httplib::Client after("127.0.0.1", port);
  after.set_connection_timeout(2);
  EXPECT_FALSE(after.Get("/metrics")) << "still serving after the server was destroyed";
}

TEST(MetricsServer, FailedRenderIs500WithTheMessage) {
  auto server = MetricsServer::Start("127.0.0.1", 0, []() -> absl::StatusOr<std::string> {
    return absl::UnavailableError("no snapshot");
  });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto got = client.Get("/metrics");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 500);
  EXPECT_THAT(got->body, HasSubstr("no snapshot"));
}

TEST(MetricsServer, PortInUseIsUnavailableNamingTheAddress) {
  auto first = MetricsServer::Start("127.0.0.1", 0, [] { return absl::StatusOr<std::string>(""); });
  ASSERT_TRUE(first.ok()) << first.status();
  const uint16_t port = (*first)->port();
  auto second =
      MetricsServer::Start("127.0.0.1", port, [] { return absl::StatusOr<std::string>(""); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("127.0.0.1:" + std::to_string(port)));
}

}  // namespace
}  // namespace pktpool::metrics
