// MetricsServer: the /metrics HTTP endpoint (cpp-httplib) on a thread of its own.
#ifndef PKTPOOL_DAEMON_METRICS_METRICS_SERVER_H_
#define PKTPOOL_DAEMON_METRICS_METRICS_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace pktpool::metrics {

// Serves GET (and HEAD) /metrics with what `render` returns, as Prometheus text format
// 0.0.4; 404 for any other path; 500 with the message when `render` fails. Requests are
// read-only and small (bodies refused). Stops and joins its threads when destroyed.
class MetricsServer {
 public:
  // The exposition text, or an error; called on a server thread, so it must be
  // thread-safe.
  using Render = std::function<absl::StatusOr<std::string>()>;

  // Listens on `host` (no brackets for IPv6) and `port` (0: any free port) and starts
  // serving. Unavailable, naming the address, when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& host,
                                                              uint16_t port, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port it listens on (the one chosen when asked for 0).
  uint16_t port() const { return port_; }
  // "http://HOST:PORT/metrics" ("[::1]" for IPv6 hosts).
  std::string url() const;

 private:
  MetricsServer(std::string host, Render render);

  const std::string host_;
  const Render render_;
  std::unique_ptr<httplib::Server> server_;
  uint16_t port_ = 0;
  std::atomic<bool> listen_returned_{false};
  std::thread thread_;
};

}  // namespace pktpool::metrics

#endif  // PKTPOOL_DAEMON_METRICS_METRICS_SERVER_H_
