#include "client/pktpoolctl/frame_text.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pktpool::ctl {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Mac(const std::string& frame, size_t offset) {
  const auto* b = reinterpret_cast<const unsigned char*>(frame.data()) + offset;
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

const char* ProtocolName(uint16_t ethertype) {
  switch (ethertype) {
    case 0x0800: return "IPv4";
    case 0x0806: return "ARP";
    case 0x86dd: return "IPv6";
    case 0x8100: return "802.1Q";
    case 0x88a8: return "802.1ad";
    case 0x88cc: return "LLDP";
    case 0x8847: return "MPLS";
    case 0x88b5: return "local experimental";
    default: return "";
  }
}

}  // namespace

absl::StatusOr<std::string> ParseHex(const std::string& hex) {
  std::string bytes;
  int high = -1;
  for (size_t i = 0; i < hex.size(); ++i) {
    const char c = hex[i];
    if (c == ':' || c == '-' || c == ' ') {
      if (high >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("hex frame has a lone digit before position ", i));
      }
      continue;
    }
    const int digit = HexDigit(c);
    if (digit < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "hex frame has '", std::string(1, c), "' at position ", i, "; use 0-9 and a-f"));
    }
    if (high < 0) {
      high = digit;
    } else {
      bytes.push_back(static_cast<char>(high * 16 + digit));
      high = -1;
    }
  }
  if (high >= 0) return absl::InvalidArgumentError("hex frame has an odd number of digits");
  if (bytes.empty()) return absl::InvalidArgumentError("hex frame is empty");
  return bytes;
}

EthernetSummary SummarizeEthernet(const std::string& frame) {
  EthernetSummary summary;
  if (frame.size() < 14) return summary;
  summary.destination = Mac(frame, 0);
  summary.source = Mac(frame, 6);
  const auto* b = reinterpret_cast<const unsigned char*>(frame.data());
  summary.ethertype = static_cast<uint16_t>(b[12] << 8 | b[13]);
  if (summary.ethertype == 0x8100 && frame.size() >= 18) {
    summary.ethertype = static_cast<uint16_t>(b[16] << 8 | b[17]);
  }
  summary.protocol = ProtocolName(summary.ethertype);
  return summary;
}

std::string FormatTime(int64_t timestamp_ns) {
  const time_t seconds = static_cast<time_t>(timestamp_ns / 1'000'000'000);
  struct tm local {};
  localtime_r(&seconds, &local);
  return absl::StrFormat("%02d:%02d:%02d.%09d", local.tm_hour, local.tm_min, local.tm_sec,
                         static_cast<int>(timestamp_ns % 1'000'000'000));
}

}  // namespace pktpool::ctl
