// The text side of Wireshark's extcap protocol for pktpool-extcap: interface names, the
// lines printed for --extcap-interfaces, --extcap-dlts and --extcap-config, and the
// capture-filter check. Pure functions: no I/O, no gRPC; thread-safe.
// Protocol: https://www.wireshark.org/docs/wsdg_html_chunked/ChCaptureExtcap.html
#ifndef PKTPOOL_CLIENT_EXTCAP_EXTCAP_PROTOCOL_H_
#define PKTPOOL_CLIENT_EXTCAP_EXTCAP_PROTOCOL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace pktpool::extcap {

// Wireshark's interface for binding X is "pktpool:X" (a Linux interface name never holds
// ':', so the split is unambiguous).
inline constexpr absl::string_view kInterfacePrefix = "pktpool:";

// "pktpool:X" -> "X"; nullopt for anything else (another prefix, an empty name, a name
// with characters that would break an extcap line: braces, control bytes).
std::optional<std::string> BindingOfInterface(absl::string_view interface);
std::string InterfaceOfBinding(absl::string_view binding);

// The "extcap {version=...}{help=...}{display=...}" line, with its newline.
std::string ExtcapLine(absl::string_view version);
// One "interface {value=pktpool:X}{display=pktpool X (through pktpoold)}" line per binding,
// in the given order. Names BindingOfInterface would refuse are left out.
std::string InterfaceLines(const std::vector<std::string>& bindings);
// The one link type pktpoold captures: Ethernet (DLT_EN10MB).
std::string DltLines();

// The defaults --extcap-config shows in Wireshark's interface options.
struct ConfigDefaults {
  std::string socket;  // PKTPOOL_SOCKET, else ctl::DefaultSocket()
  std::string target;  // PKTPOOL_TARGET, else empty
};
// The "arg {...}" lines: --socket, --target, --tls, --ca, --cert, --key, --server-name,
// --snaplen, each with a tooltip, in the groups Daemon, TLS and Capture.
std::string ConfigLines(const ConfigDefaults& defaults);

// Why libpcap refuses `filter` for Ethernet (its message), or "" when it compiles (or is
// empty). The same compile pktpoold runs for a Capture stream (which stays the judge: it
// also limits the length).
std::string FilterError(const std::string& filter);

}  // namespace pktpool::extcap

#endif  // PKTPOOL_CLIENT_EXTCAP_EXTCAP_PROTOCOL_H_
