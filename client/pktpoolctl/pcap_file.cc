#include "client/pktpoolctl/pcap_file.h"

#include "absl/strings/str_cat.h"

namespace pktpool::ctl {

absl::StatusOr<std::vector<FileFrame>> ReadPcapFile(const std::string& path) {
  char error[PCAP_ERRBUF_SIZE] = {};
  pcap_t* raw = pcap_open_offline_with_tstamp_precision(path.c_str(),
                                                         PCAP_TSTAMP_PRECISION_NANO, error);
  if (raw == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read pcap file ", path, ": ", error));
  }
  std::unique_ptr<pcap_t, decltype(&pcap_close)> file(raw, &pcap_close);
  if (pcap_datalink(raw) != DLT_EN10MB) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds ", pcap_datalink_val_to_name(pcap_datalink(raw)),
                     " frames; only Ethernet (EN10MB) can be sent"));
  }
  std::vector<FileFrame> frames;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int result = 0;
  while ((result = pcap_next_ex(raw, &header, &data)) == 1) {
    FileFrame frame;
    frame.data.assign(reinterpret_cast<const char*>(data), header->caplen);
    frame.timestamp_ns = static_cast<int64_t>(header->ts.tv_sec) * 1'000'000'000 +
                         static_cast<int64_t>(header->ts.tv_usec);  // ns: nano precision
    frames.push_back(std::move(frame));
  }
  if (result == PCAP_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat("pcap file ", path, " is damaged after ", frames.size(),
                     " frames: ", pcap_geterr(raw)));
  }
  return frames;
}

}  // namespace pktpool::ctl
