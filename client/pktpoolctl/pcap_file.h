// Pcap files for pktpoolctl send: reading frames to replay (pcap or pcapng, through
// libpcap). Captures are written by client/capture_file.
#ifndef PKTPOOL_CLIENT_PKTPOOLCTL_PCAP_FILE_H_
#define PKTPOOL_CLIENT_PKTPOOLCTL_PCAP_FILE_H_

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pktpool::ctl {

// One frame of a file: its bytes and when it was captured (ns since the epoch).
struct FileFrame {
  std::string data;
  int64_t timestamp_ns = 0;
};

// Reads every frame of a pcap/pcapng file of Ethernet frames. INVALID_ARGUMENT (with the
// path and libpcap's reason) when it cannot be opened, is not Ethernet, or is truncated.
absl::StatusOr<std::vector<FileFrame>> ReadPcapFile(const std::string& path);

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_PCAP_FILE_H_
