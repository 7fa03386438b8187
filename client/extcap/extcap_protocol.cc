#include "client/extcap/extcap_protocol.h"

#include <pcap/pcap.h>

#include "absl/strings/str_cat.h"

namespace pktpool::extcap {
namespace {

// Wireshark splits an extcap line at braces and lines at newlines: a value holding either
// (or another control byte) cannot be written.
bool Printable(absl::string_view value) {
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '{' || c == '}' || byte < 0x20 || byte == 0x7F) return false;
  }
  return true;
}

// "{default=VALUE}" when there is a value that fits in a line, else nothing.
std::string DefaultField(absl::string_view value) {
  if (value.empty() || !Printable(value)) return "";
  return absl::StrCat("{default=", value, "}");
}

}  // namespace

std::optional<std::string> BindingOfInterface(absl::string_view interface) {
  if (interface.substr(0, kInterfacePrefix.size()) != kInterfacePrefix) return std::nullopt;
  absl::string_view binding = interface.substr(kInterfacePrefix.size());
  if (binding.empty() || !Printable(binding)) return std::nullopt;
  return std::string(binding);
}

std::string InterfaceOfBinding(absl::string_view binding) {
  return absl::StrCat(kInterfacePrefix, binding);
}

std::string ExtcapLine(absl::string_view version) {
  return absl::StrCat("extcap {version=", version,
                      "}{help=file:///usr/share/doc/pktpool/README.md}"
                      "{display=pktpoold bindings}\n");
}

std::string InterfaceLines(const std::vector<std::string>& bindings) {
  std::string lines;
  for (const std::string& binding : bindings) {
    if (!Printable(binding) || binding.empty()) continue;
    absl::StrAppend(&lines, "interface {value=", InterfaceOfBinding(binding), "}{display=pktpool ",
                    binding, " (through pktpoold)}\n");
  }
  return lines;
}

std::string DltLines() { return "dlt {number=1}{name=EN10MB}{display=Ethernet}\n"; }

std::string ConfigLines(const ConfigDefaults& defaults) {
  return absl::StrCat(
      "arg {number=0}{call=--socket}{display=Daemon socket}{type=fileselect}{mustexist=false}",
      DefaultField(defaults.socket),
      "{tooltip=pktpoold's Unix socket (default: PKTPOOL_SOCKET, else the system socket "
      "when it exists, else this user's). Not used when a TCP target is set}"
      "{group=Daemon}\n",
      "arg {number=1}{call=--target}{display=TCP target}{type=string}",
      DefaultField(defaults.target),
      "{tooltip=host:port of pktpoold's TCP listener, used instead of the socket "
      "(default: PKTPOOL_TARGET)}{group=Daemon}\n",
      "arg {number=2}{call=--tls}{display=Use TLS}{type=boolflag}{default=false}"
      "{tooltip=TLS on the TCP target, verified with the system roots unless a CA file is "
      "given (a CA, certificate or key file implies it)}{group=TLS}\n",
      "arg {number=3}{call=--ca}{display=CA file}{type=fileselect}{mustexist=true}"
      "{tooltip=PEM CA bundle that signed pktpoold's certificate (TLS)}{group=TLS}\n",
      "arg {number=4}{call=--cert}{display=Client certificate}{type=fileselect}"
      "{mustexist=true}{tooltip=PEM client certificate for mutual TLS (with the key)}"
      "{group=TLS}\n",
      "arg {number=5}{call=--key}{display=Client key}{type=fileselect}{mustexist=true}"
      "{tooltip=PEM client key for mutual TLS (with the certificate)}{group=TLS}\n",
      "arg {number=6}{call=--server-name}{display=Server name}{type=string}"
      "{tooltip=Name expected in pktpoold's certificate (default: the target's host)}"
      "{group=TLS}\n",
      "arg {number=7}{call=--snaplen}{display=Snapshot length}{type=integer}{range=0,262144}"
      "{default=0}{tooltip=Bytes kept per frame; 0 keeps what the binding captures (its "
      "snaplen)}{group=Capture}\n");
}

std::string FilterError(const std::string& filter) {
  if (filter.empty()) return "";
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  if (dead == nullptr) return "libpcap could not open a handle to compile the filter";
  bpf_program program{};
  std::string error;
  if (pcap_compile(dead, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    error = pcap_geterr(dead);
    if (error.empty()) error = "libpcap cannot compile it";
  } else {
    pcap_freecode(&program);
  }
  pcap_close(dead);
  return error;
}

}  // namespace pktpool::extcap
