// pktpoolctl: the command line for pktpoold. Global options, then one subcommand;
// main only wires the parser to the commands (commands.h).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "client/pktpoolctl/commands.h"
#include "client/pktpoolctl/output.h"
#include "daemon/config/config.h"

int main(int argc, char** argv) {
  using namespace pktpool::ctl;
  CLI::App app{"pktpoolctl: control pktpoold: bindings, pool statistics and tuning, "
               "sending and capturing frames"};
  app.footer(
      "Global options go before the command: pktpoolctl [--socket PATH | --target HOST:PORT "
      "[TLS options]] [-o table|json] COMMAND ...\n"
      "Exit codes: 0 success; 1 the daemon refused (its gRPC code and message are printed),\n"
      "is unreachable, or frames failed; 2 usage error or unreadable local input.\n"
      "`pktpoolctl COMMAND --help` shows each command's options and examples.");
  app.require_subcommand(1);
  GlobalOptions options;
  options.endpoint.socket = DefaultSocket();  // pktpool_client.h
  std::string output = "table";
  app.add_option("--socket", options.endpoint.socket, "the daemon's Unix socket")
      ->envname("PKTPOOL_SOCKET")
      ->capture_default_str();
  app.add_option("--target", options.endpoint.target,
                 "host:port of the daemon's TCP listener, instead of the socket")
      ->envname("PKTPOOL_TARGET");
  app.add_flag("--tls", options.endpoint.tls, "use TLS on --target (system roots unless --ca)");
  app.add_option("--ca", options.endpoint.ca_file, "PEM CA bundle that signed the daemon (TLS)");
  app.add_option("--cert", options.endpoint.cert_file, "PEM client certificate (mTLS)");
  app.add_option("--key", options.endpoint.key_file, "PEM client key (mTLS)");
  app.add_option("--server-name", options.endpoint.server_name,
                 "name expected in the daemon's certificate (default: the target host)");
  app.add_option("-o,--output", output, "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  CommandRun run;
  AddQueryCommands(app, &run);
  AddWatchCommand(app, &run);
  AddSendCommand(app, &run);
  AddCaptureCommand(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (app.get_subcommands().empty() && app.remaining_size() > 0) {
      std::fprintf(stderr, "pktpoolctl: unknown command '%s' (see pktpoolctl --help)\n",
                   app.remaining().front().c_str());
      return kExitUsage;
    }
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  options.json = output == "json";
  return run(options);
}
