// The two operations of pktpool-extcap that talk to pktpoold: listing its bindings as
// Wireshark interfaces, and capturing one binding into Wireshark's FIFO.
#ifndef PKTPOOL_CLIENT_EXTCAP_COMMANDS_H_
#define PKTPOOL_CLIENT_EXTCAP_COMMANDS_H_

#include <cstdint>
#include <string>

#include "client/pktpoolctl/pktpool_client.h"
#include "grpcpp/support/status.h"

namespace pktpool::extcap {

using ctl::Endpoint;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // refused by the daemon, unreachable, bad filter
inline constexpr int kExitUsage = 2;

// "unix:/run/pktpoold/pktpoold.sock" or "HOST:PORT": where the messages say we looked.
std::string Describe(const Endpoint& endpoint);
// One line, for stderr (which Wireshark shows in its error dialog): the gRPC code name
// and message, plus a hint when the daemon could not be reached.
std::string StatusLine(const grpc::Status& status, const Endpoint& endpoint);

// --extcap-interfaces: prints the extcap line, then one interface per binding. When the
// daemon does not answer within `deadline_ms`, or refuses, it prints only the extcap line
// (and a note on stderr): Wireshark must start without pktpoold. Always kExitOk.
int ListInterfaces(const Endpoint& endpoint, const std::string& version, int deadline_ms);

struct CaptureOptions {
  std::string binding;        // the bound interface (Wireshark's "pktpool:<binding>")
  std::string filter;         // BPF expression for this stream; empty: every frame
  uint32_t snaplen = 0;       // bytes kept per frame; 0: the binding's snaplen
  uint32_t queue_frames = 0;  // this stream's queue in the daemon; 0: its default
};

// --capture: opens `fifo` (waiting for its reader), checks the binding and the filter,
// subscribes, then writes pcapng: the section and interface blocks once subscribed, then
// each response's frames, flushed; at the end an interface statistics block with the
// stream's counts. Ends at SIGINT/SIGTERM (StopCapture: the final counts) or when the
// FIFO's reader goes away (kExitOk),
// or when the daemon ends the stream or refuses it (a line on stderr, kExitFailed). A
// refusal found before subscribing leaves the FIFO without a header, so Wireshark reports
// the capture as failed.
int RunCapture(const Endpoint& endpoint, const CaptureOptions& options, const std::string& fifo);

}  // namespace pktpool::extcap

#endif  // PKTPOOL_CLIENT_EXTCAP_COMMANDS_H_
