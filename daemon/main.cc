// pktpoold: wiring only. Flags and config -> bindings -> gRPC server, metrics, systemd
// notifications -> signals (SIGHUP reloads the config) -> orderly shutdown.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "daemon/config/config.h"
#include "daemon/config/config_diff.h"
#include "daemon/heap_trimmer.h"
#include "daemon/listen_claims.h"
#include "daemon/metrics/metrics_server.h"
#include "daemon/metrics/prometheus_text.h"
#include "daemon/process_settings.h"
#include "daemon/rpc/binding_table.h"
#include "daemon/rpc/config_reload.h"
#include "daemon/rpc/pktpool_service.h"
#include "daemon/rpc/stats_snapshot.h"
#include "daemon/service_notifier.h"

#ifndef PKTPOOL_VERSION
#define PKTPOOL_VERSION "0.0.0"
#endif

namespace {

using pktpool::v1::DaemonConfig;

void Log(const char* priority, const std::string& message) {
  std::fprintf(stderr, "%spktpoold: %s\n", priority, message.c_str());
}

void Log(int priority, const std::string& message) {
  std::fprintf(stderr, "<%d>pktpoold: %s\n", priority, message.c_str());
}

// A multi-line status message (one problem per line) as one log line.
std::string OneLine(absl::string_view message) {
  return absl::StrReplaceAll(message, {{"\n", "; "}});
}

// What the command line says; flags override the config file.
struct Flags {
  std::string config_path, socket_path, listen_address, metrics_address;
  uint64_t max_pool_memory = 0;
  std::vector<std::string> bind_interfaces;
  bool insecure_tcp = false;
};

// The config file (if any) with the flags applied, validated, defaults filled in: the
// same at start-up and on reload.
absl::StatusOr<DaemonConfig> LoadDaemonConfig(const Flags& flags) {
  DaemonConfig config;
  if (!flags.config_path.empty()) {
    auto loaded = pktpool::config::LoadConfigFile(flags.config_path);
    if (!loaded.ok()) return loaded.status();
    config = std::move(*loaded);
  }
  if (!flags.socket_path.empty()) config.mutable_listen()->set_unix_socket(flags.socket_path);
  if (!flags.listen_address.empty()) {
    config.mutable_listen()->set_tcp_address(flags.listen_address);
  }
  if (flags.insecure_tcp) config.mutable_listen()->set_allow_insecure_tcp(true);
  if (!flags.metrics_address.empty()) {
    config.mutable_metrics()->set_listen_address(flags.metrics_address);
  }
  if (flags.max_pool_memory != 0) {
    config.mutable_limits()->set_max_pool_memory(flags.max_pool_memory);
  }
  for (const std::string& name : flags.bind_interfaces) config.add_bindings()->set_interface(name);
  if (absl::Status valid = pktpool::config::ValidateConfig(config, "flags and config");
      !valid.ok()) {
    return valid;
  }
  return pktpool::config::WithDefaults(std::move(config), geteuid() == 0);
}

// SIGHUP: reads the config file again and applies what can change live (bindings, pool
// sizes, the status interval); logs what needs a restart. A config that does not load
// changes nothing.
void Reload(const Flags& flags, const DaemonConfig& started,
            pktpool::rpc::ConfiguredBindings* configured, pktpool::ServiceNotifier* notifier) {
  if (flags.config_path.empty()) {
    Log("<5>", "SIGHUP: started without --config; nothing to reload");
    return;
  }
  notifier->Reloading();
  Log("<6>", absl::StrCat("SIGHUP: reloading ", flags.config_path));
  absl::StatusOr<DaemonConfig> next = LoadDaemonConfig(flags);
  if (!next.ok()) {
    Log("<3>", absl::StrCat("reload of ", flags.config_path, " failed: ",
                            OneLine(next.status().message()), "; keeping the running config"));
    notifier->Reloaded();
    return;
  }
  for (const std::string& change : pktpool::config::ChangesNeedingRestart(started, *next)) {
    Log("<4>", absl::StrCat("reload: ", change, ": not applied; needs a restart"));
  }
  const std::vector<pktpool::rpc::ReloadNote> notes = configured->Apply(*next);
  for (const pktpool::rpc::ReloadNote& note : notes) Log(note.priority, note.text);
  notifier->SetStatusInterval(absl::Seconds(next->status_interval_seconds()));
  Log("<6>", absl::StrCat("reloaded ", flags.config_path,
                          notes.empty() ? ": no binding changed" : ""));
  notifier->Reloaded();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Credentials for the TCP listener, or an error saying what to configure.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TcpCredentials(
    const pktpool::v1::ListenConfig& listen) {
  const auto& tls = listen.tls();
  if (tls.cert_file().empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      tls.client_ca_file().empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                   : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  const std::string cert = ReadFile(tls.cert_file());
  const std::string key = ReadFile(tls.key_file());
  if (cert.empty() || key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read TLS certificate ", tls.cert_file(),
                                                   " or key ", tls.key_file()));
  }
  options.pem_key_cert_pairs.push_back({key, cert});
  if (!tls.client_ca_file().empty()) {
    options.pem_root_certs = ReadFile(tls.client_ca_file());
    if (options.pem_root_certs.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read client CA file ", tls.client_ca_file()));
    }
  }
  return grpc::SslServerCredentials(options);
}

// Every address the daemon will listen on is free, and the Unix socket is ours: checked
// before anything is bound, so a second daemon stops at once and takes nothing.
absl::StatusOr<pktpool::SocketClaim> ClaimListenAddresses(const DaemonConfig& config) {
  absl::StatusOr<pktpool::SocketClaim> claim =
      pktpool::SocketClaim::Take(config.listen().unix_socket());
  if (!claim.ok()) return claim.status();
  // Validated already: ParseHostPort cannot fail here.
  if (!config.listen().tcp_address().empty()) {
    const auto tcp = pktpool::config::ParseHostPort(config.listen().tcp_address(), false);
    if (absl::Status free = pktpool::CheckTcpAddressFree(tcp->host, tcp->port,
                                                          "--listen (listen.tcp_address)");
        !free.ok()) {
      return free;
    }
  }
  if (!config.metrics().listen_address().empty()) {
    const auto metrics = pktpool::config::ParseHostPort(config.metrics().listen_address(), true);
    if (metrics->port != 0) {
      if (absl::Status free = pktpool::CheckTcpAddressFree(
              metrics->host, metrics->port, "--metrics (metrics.listen_address)");
          !free.ok()) {
        return free;
      }
    }
  }
  return claim;
}

}  // namespace

int main(int argc, char** argv) {
  pktpool::ApplyDaemonProcessSettings();  // before any thread (malloc, absl::Mutex)
  CLI::App app{"pktpoold: NDIS-style packet pools on libpcap bindings, with a gRPC control plane"};
  Flags flags;
  app.add_option("--config", flags.config_path,
                 "config file: protobuf text format of pktpool.v1.DaemonConfig (SIGHUP "
                 "reloads it)")
      ->check(CLI::ExistingFile);
  app.add_option("--socket", flags.socket_path, "Unix socket path (overrides listen.unix_socket)");
  app.add_option("--listen", flags.listen_address,
                 "TCP host:port (overrides listen.tcp_address); plaintext only on loopback "
                 "unless --insecure-tcp or TLS is configured");
  app.add_option("--bind", flags.bind_interfaces,
                 "interface to bind with default options (repeatable)");
  app.add_flag("--insecure-tcp", flags.insecure_tcp,
               "allow plaintext TCP on a non-loopback address");
  app.add_option("--metrics", flags.metrics_address,
                 "serve Prometheus /metrics on HOST:PORT, port 0 for any free one (overrides "
                 "metrics.listen_address)");
  app.add_option("--max-pool-memory", flags.max_pool_memory,
                 "pool memory every binding together may hold, bytes or with a unit (512MiB, "
                 "8GiB); default half the memory free at start, at most 32 GiB "
                 "(overrides limits.max_pool_memory)")
      ->transform(CLI::AsSizeValue(false));
  app.set_version_flag("--version", "pktpoold " PKTPOOL_VERSION, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version exit 0; a command line that does not parse is a usage error,
    // exit 2 like an invalid config (CLI11's own codes are 100 and above).
    return app.exit(error) == 0 ? 0 : 2;
  }

  absl::StatusOr<DaemonConfig> loaded = LoadDaemonConfig(flags);
  if (!loaded.ok()) {
    Log("<3>", std::string(loaded.status().message()));
    return 2;
  }
  const DaemonConfig config = std::move(*loaded);

  absl::StatusOr<pktpool::SocketClaim> claim = ClaimListenAddresses(config);
  if (!claim.ok()) {
    Log("<3>", std::string(claim.status().message()));
    return 1;
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const uint64_t pool_memory_budget =
      pktpool::config::PoolMemoryBudget(config, pktpool::config::MemoryAvailableBytes());
  pktpool::rpc::BindingTable bindings(pool_memory_budget);
  Log("<6>", absl::StrCat("pool memory budget: ", pool_memory_budget >> 20, " MiB",
                          config.limits().max_pool_memory() == 0
                              ? " (half the memory free at start, at most 32 GiB)"
                              : ""));
  pktpool::rpc::ConfiguredBindings configured(&bindings);
  for (const auto& bind : config.bindings()) {
    if (absl::Status bound = configured.Bind(bind); !bound.ok()) {
      Log("<3>", std::string(bound.message()));
      bindings.CloseAll();
      return 1;
    }
    Log("<6>", absl::StrCat("bound ", bind.interface()));
  }

  pktpool::rpc::PktPoolService service(
      &bindings, {.max_message_bytes = config.limits().max_message_bytes(),
                  .max_frames_per_batch = config.limits().max_frames_per_batch(),
                  .max_concurrent_streams = config.limits().max_concurrent_streams()});
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string& unix_socket = config.listen().unix_socket();
  // gRPC sets SO_REUSEPORT by default: a second daemon could then share the TCP port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort("unix:" + unix_socket, grpc::InsecureServerCredentials());
  if (!config.listen().tcp_address().empty()) {
    auto credentials = TcpCredentials(config.listen());
    if (!credentials.ok()) {
      Log("<3>", std::string(credentials.status().message()));
      return 2;
    }
    builder.AddListeningPort(config.listen().tcp_address(), *credentials);
  }
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.limits().max_message_bytes()));
  builder.SetMaxSendMessageSize(static_cast<int>(config.limits().max_message_bytes()));
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    Log("<3>", absl::StrCat("cannot listen on unix:", unix_socket,
                            config.listen().tcp_address().empty() ? "" : " or ",
                            config.listen().tcp_address()));
    bindings.CloseAll();
    return 1;
  }
  chmod(unix_socket.c_str(), 0660);
  server->GetHealthCheckService()->SetServingStatus(true);
  Log("<6>", absl::StrCat("listening on unix:", unix_socket,
                          config.listen().tcp_address().empty()
                              ? ""
                              : absl::StrCat(" and ", config.listen().tcp_address())));

  // /metrics and the STATUS line read the snapshot GetStats answers with.
  auto snapshot = [&bindings] { return pktpool::rpc::SnapshotStats(bindings); };
  std::unique_ptr<pktpool::metrics::MetricsServer> metrics;
  if (!config.metrics().listen_address().empty()) {
    // Validated already: ParseHostPort cannot fail here.
    const auto address = pktpool::config::ParseHostPort(config.metrics().listen_address(), true);
    auto started = pktpool::metrics::MetricsServer::Start(
        address->host, static_cast<uint16_t>(address->port),
        [snapshot]() -> absl::StatusOr<std::string> {
          absl::StatusOr<pktpool::v1::GetStatsResponse> stats = snapshot();
          if (!stats.ok()) return stats.status();
          return pktpool::metrics::RenderPrometheus(*stats, PKTPOOL_VERSION);
        });
    if (!started.ok()) {
      Log("<3>", std::string(started.status().message()));
      server->Shutdown(std::chrono::system_clock::now());
      bindings.CloseAll();
      unlink(unix_socket.c_str());
      return 1;
    }
    metrics = std::move(*started);
    Log("<6>", absl::StrCat("metrics on ", metrics->url()));
  }

  pktpool::HeapTrimmer heap_trimmer(pktpool::kHeapTrimInterval);
  pktpool::ServiceNotifier notifier(snapshot, absl::Seconds(config.status_interval_seconds()));
  notifier.Ready();
  if (notifier.watchdog_interval() > absl::ZeroDuration()) {
    Log("<6>", absl::StrCat("systemd watchdog: pinging every ",
                            absl::FormatDuration(notifier.watchdog_interval())));
  }

  while (true) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == SIGHUP) {
      Reload(flags, config, &configured, &notifier);
      continue;
    }
    Log("<6>", absl::StrCat("signal ", strsignal(signal_number), ": shutting down"));
    break;
  }
  notifier.Stopping("stopping: closing the bindings");
  server->GetHealthCheckService()->SetServingStatus(false);
  metrics.reset();
  // Bindings close first: sends in flight complete or fail, captures end; then the
  // server stops, giving RPCs two seconds to finish.
  bindings.CloseAll();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  unlink(unix_socket.c_str());
  Log("<6>", "stopped");
  return 0;
}
