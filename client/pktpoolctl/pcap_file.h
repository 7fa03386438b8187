// Pcap files for pktpoolctl send: reading frames to replay (pcap or pcapng), as frames
// (ReadPcapFile) or as record blobs (PcapRecordReader). Captures are written by
// client/capture_file.
#ifndef PKTPOOL_CLIENT_PKTPOOLCTL_PCAP_FILE_H_
#define PKTPOOL_CLIENT_PKTPOOLCTL_PCAP_FILE_H_

#include <pcap/pcap.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
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

// A pcap or pcapng file of Ethernet frames read as record blobs (proto/pcap_records.h),
// a bounded piece at a time, for sending at top speed without a copy per frame: the body
// of a little-endian classic pcap file already is that format and is copied as it is;
// any other file (pcapng, big-endian) goes through libpcap. Not thread-safe.
class PcapRecordReader {
 public:
  // INVALID_ARGUMENT (with the path and the reason) when the file cannot be opened, is
  // not a capture file, or does not hold Ethernet frames.
  static absl::StatusOr<PcapRecordReader> Open(const std::string& path);
  PcapRecordReader(PcapRecordReader&&) noexcept;
  PcapRecordReader& operator=(PcapRecordReader&&) noexcept;
  ~PcapRecordReader();

  // Appends the next records to *records: at most `max_frames`, and no more than
  // `max_bytes` bytes unless the first record alone is larger. Returns how many it
  // appended, 0 at the end of the file; INVALID_ARGUMENT (saying after how many frames)
  // when the file is damaged there (after the whole records before the damage were
  // handed out: records read before it in the same call come first, the error next).
  absl::StatusOr<size_t> Next(std::string* records, size_t max_frames, size_t max_bytes);

  // Starts again at the first frame (for --loop). INVALID_ARGUMENT if the file is gone.
  absl::Status Rewind();

  // True when the file is read directly (a little-endian classic pcap), not by libpcap.
  bool direct() const;

 private:
  struct State;
  explicit PcapRecordReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pktpool::ctl

#endif  // PKTPOOL_CLIENT_PKTPOOLCTL_PCAP_FILE_H_
