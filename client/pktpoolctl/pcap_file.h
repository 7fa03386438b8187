// Pcap files for pktpoolctl: reading frames to replay (pcap or pcapng, through libpcap)
// and writing captured frames as a classic pcap file that tcpdump -r reads.
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

// Writes a nanosecond-resolution pcap file (DLT_EN10MB). Not thread-safe; closes the file
// (flushing it) when destroyed. "-" writes to standard output.
class PcapWriter {
 public:
  // INVALID_ARGUMENT when the file cannot be created.
  static absl::StatusOr<std::unique_ptr<PcapWriter>> Create(const std::string& path,
                                                            uint32_t snaplen);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // Appends one frame; `wire_length` is its length on the wire (>= data's).
  void Write(int64_t timestamp_ns, uint32_t wire_length, const std::string& data);
  // Pushes buffered frames to the file (so a reader sees them now).
  void Flush();

 private:
  PcapWriter(pcap_t* dead, pcap_dumper_t* dumper) : dead_(dead), dumper_(dumper) {}
  pcap_t* dead_;
  pcap_dumper_t* dumper_;
};

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_PCAP_FILE_H_
