// pktpool-extcap: Wireshark's extcap for pktpoold. Each binding of the running daemon is
// a Wireshark interface "pktpool:<binding>"; capturing on it reads the daemon's Capture
// stream. main only parses the extcap arguments and picks the operation.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/str_join.h"
#include "client/extcap/commands.h"
#include "client/extcap/extcap_protocol.h"

namespace {

constexpr int kListDeadlineMs = 1500;  // --extcap-interfaces: Wireshark waits for it

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pktpool::extcap;
  // A FIFO whose reader left: write() fails with EPIPE and the capture ends cleanly.
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "pktpool-extcap: Wireshark extcap for pktpoold. Lists the daemon's bindings as "
      "interfaces pktpool:<binding> and captures them through its Capture stream."};
  app.footer(
      "Wireshark runs it from its extcap folder (tshark -G folders: \"Extcap path\").\n"
      "By hand:\n"
      "  pktpool-extcap --extcap-interfaces\n"
      "  pktpool-extcap --capture --extcap-interface pktpool:eth1 --fifo out.pcap "
      "--extcap-capture-filter 'udp port 53'\n"
      "The daemon: --socket (PKTPOOL_SOCKET) or --target (PKTPOOL_TARGET) with the TLS options.\n"
      "Exit codes: 0 success (also a capture stopped by SIGTERM/SIGINT or by the FIFO's reader);"
      "\n1 pktpoold refused (unknown binding, bad filter) or is unreachable; 2 usage error.");
  app.set_version_flag("--version", std::string("pktpool-extcap ") + PKTPOOL_EXTCAP_VERSION);
  app.allow_extras();  // future Wireshark arguments must not break us
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  bool list_interfaces = false, list_dlts = false, list_config = false, capture = false;
  std::string wireshark_version, interface, fifo, reload_option;
  std::string filter;
  app.add_flag("--extcap-interfaces", list_interfaces, "list the daemon's bindings (extcap)");
  app.add_option("--extcap-version", wireshark_version, "the calling Wireshark's version");
  app.add_option("--extcap-interface", interface, "pktpool:<binding>");
  app.add_flag("--extcap-dlts", list_dlts, "list the interface's link types (extcap)");
  app.add_flag("--extcap-config", list_config, "list the interface's options (extcap)");
  app.add_option("--extcap-reload-option", reload_option, "(extcap; no option reloads)");
  app.add_flag("--capture", capture, "capture into --fifo (extcap)");
  app.add_option("--fifo", fifo, "where the pcapng stream goes (Wireshark's FIFO, or a file)");
  app.add_option("--extcap-capture-filter", filter,
                 "BPF expression; without --capture: only check it (empty output: valid)");

  Endpoint endpoint;
  endpoint.socket = EnvOr("PKTPOOL_SOCKET", pktpool::ctl::DefaultSocket());
  endpoint.target = EnvOr("PKTPOOL_TARGET", "");
  const ConfigDefaults defaults{endpoint.socket, endpoint.target};
  CaptureOptions options;
  app.add_option("--socket", endpoint.socket, "pktpoold's Unix socket (PKTPOOL_SOCKET)")
      ->capture_default_str();
  app.add_option("--target", endpoint.target,
                 "host:port of pktpoold's TCP listener, instead of the socket (PKTPOOL_TARGET)");
  app.add_flag("--tls", endpoint.tls, "use TLS on --target (system roots unless --ca)");
  app.add_option("--ca", endpoint.ca_file, "PEM CA bundle that signed the daemon (TLS)");
  app.add_option("--cert", endpoint.cert_file, "PEM client certificate (mTLS)");
  app.add_option("--key", endpoint.key_file, "PEM client key (mTLS)");
  app.add_option("--server-name", endpoint.server_name,
                 "name expected in the daemon's certificate (default: the target host)");
  app.add_option("--snaplen", options.snaplen, "bytes kept per frame (0: the binding's)")
      ->check(CLI::Range(0, 262144));
  app.add_option("--queue", options.queue_frames,
                 "this stream's queue in the daemon, frames (default: the receive pool bounds it)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  const bool filter_given = app.count("--extcap-capture-filter") > 0;
  if (!app.remaining().empty()) {
    std::fprintf(stderr, "pktpool-extcap: ignoring unknown arguments: %s\n",
                 absl::StrJoin(app.remaining(), " ").c_str());
  }

  if (list_interfaces) {
    return ListInterfaces(endpoint, PKTPOOL_EXTCAP_VERSION, kListDeadlineMs);
  }
  if (!list_dlts && !list_config && !capture && !filter_given) {
    std::fputs(app.help().c_str(), stderr);
    std::fprintf(stderr,
                 "pktpool-extcap: nothing to do: give --extcap-interfaces, "
                 "--extcap-dlts, --extcap-config or --capture\n");
    return kExitUsage;
  }
  const auto binding = BindingOfInterface(interface);
  if (!binding) {
    const std::string what =
        interface.empty() ? "no interface given" : "unknown interface '" + interface + "'";
    std::fprintf(stderr, "pktpool-extcap: %s: expected --extcap-interface pktpool:<binding>\n",
                 what.c_str());
    return kExitUsage;
  }
  if (list_dlts) {
    std::fputs(DltLines().c_str(), stdout);
    return kExitOk;
  }
  if (list_config) {
    // No option has values to reload: a reload gets no lines.
    if (reload_option.empty()) std::fputs(ConfigLines(defaults).c_str(), stdout);
    return kExitOk;
  }
  if (!capture) {  // Wireshark's capture-filter check: the reason, or nothing when valid
    const std::string error = FilterError(filter);
    if (!error.empty()) std::printf("%s\n", error.c_str());
    return kExitOk;
  }
  if (fifo.empty()) {
    std::fprintf(stderr, "pktpool-extcap: --capture needs --fifo PATH\n");
    return kExitUsage;
  }
  options.binding = *binding;
  options.filter = filter;
  return RunCapture(endpoint, options, fifo);
}
