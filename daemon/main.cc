// pktpoold: wiring only. Flags and config -> bindings -> gRPC server -> wait for a
// signal -> orderly shutdown.
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
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "daemon/config/config.h"
#include "daemon/rpc/binding_table.h"
#include "daemon/rpc/pktpool_service.h"
#include "daemon/rpc/proto_convert.h"

namespace {

using pktpool::v1::DaemonConfig;

void Log(const char* priority, const std::string& message) {
  std::fprintf(stderr, "%spktpoold: %s\n", priority, message.c_str());
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

// Makes the socket's directory and removes a stale socket file left by a crash.
absl::Status PrepareSocketPath(const std::string& path) {
  std::error_code error;
  const auto directory = std::filesystem::path(path).parent_path();
  if (!directory.empty()) std::filesystem::create_directories(directory, error);
  struct stat info {};
  if (lstat(path.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a socket; choose another --socket"));
    }
    unlink(path.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pktpoold: NDIS-style packet pools on libpcap bindings, with a gRPC control plane"};
  std::string config_path, socket_path, listen_address;
  std::vector<std::string> bind_interfaces;
  bool insecure_tcp = false;
  app.add_option("--config", config_path,
                 "config file: protobuf text format of pktpool.v1.DaemonConfig")
      ->check(CLI::ExistingFile);
  app.add_option("--socket", socket_path, "Unix socket path (overrides listen.unix_socket)");
  app.add_option("--listen", listen_address,
                 "TCP host:port (overrides listen.tcp_address); plaintext only on loopback "
                 "unless --insecure-tcp or TLS is configured");
  app.add_option("--bind", bind_interfaces, "interface to bind with default options (repeatable)");
  app.add_flag("--insecure-tcp", insecure_tcp, "allow plaintext TCP on a non-loopback address");
  CLI11_PARSE(app, argc, argv);

  DaemonConfig config;
  if (!config_path.empty()) {
    auto loaded = pktpool::config::LoadConfigFile(config_path);
    if (!loaded.ok()) {
      Log("<3>", std::string(loaded.status().message()));
      return 2;
    }
    config = std::move(*loaded);
  }
  if (!socket_path.empty()) config.mutable_listen()->set_unix_socket(socket_path);
  if (!listen_address.empty()) config.mutable_listen()->set_tcp_address(listen_address);
  if (insecure_tcp) config.mutable_listen()->set_allow_insecure_tcp(true);
  for (const std::string& name : bind_interfaces) config.add_bindings()->set_interface(name);
  if (absl::Status valid = pktpool::config::ValidateConfig(config, "flags and config");
      !valid.ok()) {
    Log("<3>", std::string(valid.message()));
    return 2;
  }
  config = pktpool::config::WithDefaults(std::move(config), geteuid() == 0);

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  pktpool::rpc::BindingTable bindings;
  for (const auto& bind : config.bindings()) {
    auto bound = bindings.Bind(bind.interface(), pktpool::rpc::ToBindingOptions(bind.options()));
    if (!bound.ok()) {
      Log("<3>", absl::StrCat("cannot bind ", bind.interface(), ": ", bound.status().message()));
      bindings.CloseAll();
      return 1;
    }
    Log("<6>", absl::StrCat("bound ", bind.interface()));
  }

  pktpool::rpc::PktPoolService service(
      &bindings, {.max_frames_per_batch = config.limits().max_frames_per_batch(),
                  .max_concurrent_streams = config.limits().max_concurrent_streams()});
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string& unix_socket = config.listen().unix_socket();
  if (absl::Status prepared = PrepareSocketPath(unix_socket); !prepared.ok()) {
    Log("<3>", std::string(prepared.message()));
    return 1;
  }
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
  sd_notifyf(0, "READY=1\nSTATUS=serving on %s, %d bindings", unix_socket.c_str(),
             config.bindings_size());

  while (true) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == SIGHUP) {
      Log("<5>", "SIGHUP: config reload is not implemented yet; ignoring");
      continue;
    }
    Log("<6>", absl::StrCat("signal ", strsignal(signal_number), ": shutting down"));
    break;
  }
  sd_notify(0, "STOPPING=1");
  server->GetHealthCheckService()->SetServingStatus(false);
  // Bindings close first: sends in flight complete or fail, captures end; then the
  // server stops, giving RPCs two seconds to finish.
  bindings.CloseAll();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  unlink(unix_socket.c_str());
  Log("<6>", "stopped");
  return 0;
}
