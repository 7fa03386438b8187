// Text forms of frames for pktpoolctl: hex parsing and the one-line summary `capture`
// prints (as tcpdump -e does).
#ifndef PKTPOOL_CLIENT_PKTPOOLCTL_FRAME_TEXT_H_
#define PKTPOOL_CLIENT_PKTPOOLCTL_FRAME_TEXT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace pktpool::ctl {

// Bytes of a hex string ("0200..."; ':', '-' and spaces between bytes allowed).
// INVALID_ARGUMENT naming the offending character or an odd digit count.
absl::StatusOr<std::string> ParseHex(const std::string& hex);

// The fields of an Ethernet header, as text.
struct EthernetSummary {
  std::string source;        // "02:00:00:00:00:01", or "" for a runt frame
  std::string destination;
  uint16_t ethertype = 0;    // after one 802.1Q tag, if present
  std::string protocol;      // "IPv4", "ARP", "IPv6", "802.1Q", ... or "" when unknown
};
EthernetSummary SummarizeEthernet(const std::string& frame);

// "13:45:01.123456789" in local time.
std::string FormatTime(int64_t timestamp_ns);

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_FRAME_TEXT_H_
