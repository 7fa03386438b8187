#include "daemon/metrics/metrics_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "daemon/metrics/prometheus_text.h"

namespace pktpool::metrics {
namespace {

// Scrapes are one at a time in practice; two threads let a slow client not block the next.
constexpr size_t kServerThreads = 2;
// A GET has no body; anything larger is not a scrape.
constexpr size_t kMaxRequestBodyBytes = 1024;
constexpr time_t kIoTimeoutSeconds = 5;

}  // namespace

MetricsServer::MetricsServer(std::string host, Render render)
    : host_(std::move(host)), render_(std::move(render)),
      server_(std::make_unique<httplib::Server>()) {}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& host,
                                                                   uint16_t port, Render render) {
  std::unique_ptr<MetricsServer> metrics(new MetricsServer(host, std::move(render)));
  httplib::Server& server = *metrics->server_;
  server.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second
  // daemon share the port silently and answer half of the scrapes.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.set_payload_max_length(kMaxRequestBodyBytes);
  server.set_read_timeout(kIoTimeoutSeconds, 0);
  server.set_write_timeout(kIoTimeoutSeconds, 0);
  const MetricsServer* self = metrics.get();
  server.Get("/metrics", [self](const httplib::Request&, httplib::Response& response) {
    absl::StatusOr<std::string> text = self->render_();
    if (!text.ok()) {
      response.status = 500;
      response.set_content(absl::StrCat(text.status().message(), "\n"), "text/plain");
      return;
    }
    response.set_content(std::move(*text), kPrometheusContentType);
  });
  errno = 0;
  int bound = -1;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else if (server.bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) {
    const int error = errno;
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for metrics on ", host, ":", port,
        error != 0 ? absl::StrCat(" (", std::strerror(error), ")") : "",
        "; choose another metrics.listen_address or free the port"));
  }
  metrics->port_ = static_cast<uint16_t>(bound);
  metrics->thread_ = std::thread([&server, owner = metrics.get()] {
    server.listen_after_bind();
    owner->listen_returned_.store(true);
  });
  // stop() only works once the server runs: wait for that (it is the thread's first step).
  while (!server.is_running() && !metrics->listen_returned_.load()) std::this_thread::yield();
  return metrics;
}

MetricsServer::~MetricsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string MetricsServer::url() const {
  const bool ipv6 = absl::StrContains(host_, ':');
  return absl::StrCat("http://", ipv6 ? "[" : "", host_, ipv6 ? "]" : "", ":", port_, "/metrics");
}

}  // namespace pktpool::metrics
