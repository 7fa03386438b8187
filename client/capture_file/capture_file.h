// Capture files for `pktpoolctl capture -w FILE` and the Wireshark extcap: classic pcap
// (nanosecond) or pcapng, written from the daemon's record blobs (pcap_records.h).
#ifndef PKTPOOL_CLIENT_CAPTURE_FILE_CAPTURE_FILE_H_
#define PKTPOOL_CLIENT_CAPTURE_FILE_CAPTURE_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pktpool::capture_file {

// The file formats a Writer writes.
enum class Format { kPcap, kPcapng };

// The format for `path`: `flag` "pcap" or "pcapng" when given; else by extension
// (".pcapng", any case -> pcapng; anything else, "-" included -> pcap). INVALID_ARGUMENT
// naming the accepted values for another flag.
absl::StatusOr<Format> ChooseFormat(std::string_view path, std::string_view flag);

// What the file says about the interface the frames came from. Empty strings are omitted.
struct InterfaceInfo {
  std::string name;         // the bound interface, e.g. "vethB" (pcapng if_name)
  std::string description;  // e.g. "vethB through pktpoold at ..." (if_description)
  std::string filter;       // BPF expression of the stream (if_filter, libpcap string)
  uint32_t snaplen = 262144;
  uint16_t link_type = 1;   // LINKTYPE_ETHERNET
  std::string os;           // SHB shb_os, e.g. uname -sr
  std::string application;  // SHB shb_userappl, e.g. "pktpoolctl 0.1.0"
};

// What the stream counted, written at Close (pcapng: one Interface Statistics Block).
struct Statistics {
  int64_t start_ns = 0;            // isb_starttime (ns since the epoch)
  int64_t end_ns = 0;              // isb_endtime, and the ISB's timestamp
  uint64_t received = 0;           // isb_ifrecv: frames received while the capture ran
  uint64_t interface_dropped = 0;  // isb_ifdrop
  uint64_t os_dropped = 0;         // isb_osdrop: dropped by the kernel ring and pktpoold
  uint64_t delivered = 0;          // isb_usrdeliv: frames written to this file
  std::string comment;             // opt_comment, e.g. the per-reason breakdown
};

// Writes one capture file: classic pcap (magic 0xa1b23c4d, nanoseconds) or pcapng
// (little-endian; SHB, one IDB with if_tsresol 9, an EPB per frame, an ISB at Close).
// Buffered in its own 1 MiB buffer; not thread-safe. After a write error every later call
// returns that error. Writing to a pipe whose reader went away gives UNAVAILABLE (EPIPE)
// only when the process ignores SIGPIPE, as pktpoolctl does.
class Writer {
 public:
  // Opens (creates or truncates) `path`, "-" being standard output (flushed, never closed),
  // and writes the file header (pcap) or SHB + IDB (pcapng). INVALID_ARGUMENT naming the
  // path and strerror when it cannot be created; UNAVAILABLE/INTERNAL when writing fails.
  static absl::StatusOr<std::unique_ptr<Writer>> Create(const std::string& path,
                                                        Format format,
                                                        const InterfaceInfo& interface);
  // The same on an open descriptor (a FIFO from Wireshark, a pipe), which the Writer owns
  // and closes, even when this fails. `name_for_errors` names it in messages.
  static absl::StatusOr<std::unique_ptr<Writer>> FromFd(int fd, std::string name_for_errors,
                                                        Format format,
                                                        const InterfaceInfo& interface);
  // Flushes (ignoring errors) and closes, without statistics, unless Close was called.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends every record of a daemon blob; returns how many frames it wrote. The blob is
  // checked whole first: INVALID_ARGUMENT (nothing written) when it is bad. pcap: the blob
  // is written as is, in one buffered write; pcapng: one EPB per record.
  absl::StatusOr<size_t> WriteRecords(std::string_view records);
  // Appends one frame. INVALID_ARGUMENT when data is longer than `wire_length`.
  absl::Status Write(int64_t timestamp_ns, uint32_t wire_length, std::string_view data);
  // Pushes everything buffered to the file, so a reader sees it now.
  absl::Status Flush();
  // pcapng: writes the ISB from `statistics`; then flushes and closes (classic pcap has
  // nowhere to put statistics). Idempotent: later calls return the first call's status.
  // Write/WriteRecords/Flush after Close: FAILED_PRECONDITION.
  absl::Status Close(const Statistics& statistics);

 private:
  Writer(int fd, bool owns_fd, std::string name, Format format);
  absl::Status WriteHeader(const InterfaceInfo& interface);
  absl::Status Append(std::string_view bytes);
  absl::Status WriteAll(std::string_view bytes);
  absl::Status CheckOpen() const;
  void CloseFd();

  int fd_;
  bool owns_fd_;
  std::string name_;
  Format format_;
  std::string buffer_;
  absl::Status error_;  // the first write error; sticky
  bool closed_ = false;
  absl::Status close_status_;
};

}  // namespace pktpool::capture_file

#endif  // PKTPOOL_CLIENT_CAPTURE_FILE_CAPTURE_FILE_H_
