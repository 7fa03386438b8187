// pktpoolctl's commands. Each Add*Command registers subcommands (options, --help text
// with examples) on the app; the one the user picked sets *run, which main calls.
#ifndef PKTPOOL_CLIENT_PKTPOOLCTL_COMMANDS_H_
#define PKTPOOL_CLIENT_PKTPOOLCTL_COMMANDS_H_

#include <functional>
#include <memory>

#include <CLI/CLI.hpp>

#include "client/pktpoolctl/pktpool_client.h"

namespace pktpool::ctl {

// Options given before the subcommand.
struct GlobalOptions {
  Endpoint endpoint;
  bool json = false;  // -o json
};

// Runs a parsed command; returns the process exit code (output.h).
using CommandRun = std::function<int(const GlobalOptions&)>;

// health, version, bindings, bind, unbind, stats, pools, tune.
void AddQueryCommands(CLI::App& app, CommandRun* run);
// send IFACE (--hex | --file | --pcap) [--loop] [--pps | --topspeed].
void AddSendCommand(CLI::App& app, CommandRun* run);
// capture IFACE [-c N] [-w FILE] [--snaplen N] [FILTER...].
void AddCaptureCommand(CLI::App& app, CommandRun* run);
// watch [IFACE] [--interval S] [--count N].
void AddWatchCommand(CLI::App& app, CommandRun* run);

// A connected client, or nullptr after printing why (then *exit_code is set).
std::unique_ptr<PktPoolClient> ConnectOrReport(const GlobalOptions& options, int* exit_code);

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_COMMANDS_H_
