#include "client/capture_file/capture_file.h"

#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/pcap_records.h"

namespace pktpool::capture_file {

using records::AppendRecord;
using records::CountRecords;
using records::ForEachRecord;
using records::kRecordHeaderSize;
using records::RecordView;
namespace {

constexpr size_t kBufferSize = size_t{1} << 20;

// Classic pcap file header: nanosecond magic, version 2.4.
constexpr uint32_t kPcapNanoMagic = 0xa1b23c4d;
constexpr size_t kPcapFileHeaderSize = 24;

// pcapng block types and option codes (draft-ietf-opsawg-pcapng).
constexpr uint32_t kSectionHeaderBlock = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescriptionBlock = 0x00000001;
constexpr uint32_t kInterfaceStatisticsBlock = 0x00000005;
constexpr uint32_t kEnhancedPacketBlock = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEndOfOpt = 0;
constexpr uint16_t kOptComment = 1;
constexpr uint16_t kShbOs = 3;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfDescription = 3;
constexpr uint16_t kIfTsresol = 9;
constexpr uint16_t kIfFilter = 11;
constexpr uint16_t kIsbStartTime = 2;
constexpr uint16_t kIsbEndTime = 3;
constexpr uint16_t kIsbIfRecv = 4;
constexpr uint16_t kIsbIfDrop = 5;
constexpr uint16_t kIsbOsDrop = 7;
constexpr uint16_t kIsbUsrDeliv = 8;
constexpr size_t kEpbFixedSize = 32;  // type, length, interface, ts x2, caplen, len, length
constexpr size_t kMaxOptionLength = 0xFFFF;

// Debian's Abseil is built without std::string_view as absl::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

size_t Pad4(size_t n) { return (4 - n % 4) % 4; }

void PutLe16(std::string* out, uint16_t value) {
  value = htole16(value);
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

void PutLe32(std::string* out, uint32_t value) {
  value = htole32(value);
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

void PutLe64(std::string* out, uint64_t value) {
  value = htole64(value);
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

// A pcapng timestamp in if_tsresol = 9 units (ns); before the epoch is clamped to it.
uint64_t PcapngTimestamp(int64_t timestamp_ns) {
  return static_cast<uint64_t>(std::max<int64_t>(timestamp_ns, 0));
}

// Timestamps are stored as the high then the low 32 bits (EPB, ISB and isb_*time).
void PutTimestamp(std::string* out, uint64_t timestamp) {
  PutLe32(out, static_cast<uint32_t>(timestamp >> 32));
  PutLe32(out, static_cast<uint32_t>(timestamp));
}

// Builds one pcapng block: Begin, body and options, Finish (which fills in both lengths).
class Block {
 public:
  explicit Block(uint32_t type) {
    PutLe32(&bytes_, type);
    PutLe32(&bytes_, 0);  // total length, filled in by Finish
  }
  std::string* body() { return &bytes_; }
  // An option whose value is `value`, cut to 65535 bytes, padded to 32 bits.
  void Option(uint16_t code, std::string_view value) {
    value = value.substr(0, kMaxOptionLength);
    PutLe16(&bytes_, code);
    PutLe16(&bytes_, static_cast<uint16_t>(value.size()));
    bytes_.append(value);
    bytes_.append(Pad4(value.size()), '\0');
    has_options_ = true;
  }
  // A string option, left out when empty.
  void StringOption(uint16_t code, std::string_view value) {
    if (!value.empty()) Option(code, value);
  }
  void U64Option(uint16_t code, uint64_t value) {
    std::string encoded;
    PutLe64(&encoded, value);
    Option(code, encoded);
  }
  void TimestampOption(uint16_t code, uint64_t timestamp) {
    std::string encoded;
    PutTimestamp(&encoded, timestamp);
    Option(code, encoded);
  }
  std::string Finish() && {
    if (has_options_) {
      PutLe16(&bytes_, kOptEndOfOpt);
      PutLe16(&bytes_, 0);
    }
    const uint32_t total = static_cast<uint32_t>(bytes_.size() + 4);
    PutLe32(&bytes_, total);
    const uint32_t le_total = htole32(total);
    std::memcpy(bytes_.data() + 4, &le_total, sizeof(le_total));
    return std::move(bytes_);
  }

 private:
  std::string bytes_;
  bool has_options_ = false;
};

std::string SectionHeader(const InterfaceInfo& interface) {
  Block block(kSectionHeaderBlock);
  PutLe32(block.body(), kByteOrderMagic);
  PutLe16(block.body(), 1);  // major version
  PutLe16(block.body(), 0);  // minor version
  PutLe64(block.body(), ~uint64_t{0});  // section length -1: unknown
  block.StringOption(kShbOs, interface.os);
  block.StringOption(kShbUserAppl, interface.application);
  return std::move(block).Finish();
}

std::string InterfaceDescription(const InterfaceInfo& interface) {
  Block block(kInterfaceDescriptionBlock);
  PutLe16(block.body(), interface.link_type);
  PutLe16(block.body(), 0);  // reserved
  PutLe32(block.body(), interface.snaplen);
  block.StringOption(kIfName, interface.name);
  block.StringOption(kIfDescription, interface.description);
  if (!interface.filter.empty()) {
    block.Option(kIfFilter, absl::StrCat(absl::string_view("\0", 1), interface.filter));
  }
  block.Option(kIfTsresol, std::string_view("\x09", 1));  // 10^-9 s
  return std::move(block).Finish();
}

std::string InterfaceStatistics(const Statistics& statistics) {
  Block block(kInterfaceStatisticsBlock);
  PutLe32(block.body(), 0);  // interface id
  PutTimestamp(block.body(), PcapngTimestamp(statistics.end_ns));
  block.TimestampOption(kIsbStartTime, PcapngTimestamp(statistics.start_ns));
  block.TimestampOption(kIsbEndTime, PcapngTimestamp(statistics.end_ns));
  block.U64Option(kIsbIfRecv, statistics.received);
  block.U64Option(kIsbIfDrop, statistics.interface_dropped);
  block.U64Option(kIsbOsDrop, statistics.os_dropped);
  block.U64Option(kIsbUsrDeliv, statistics.delivered);
  block.StringOption(kOptComment, statistics.comment);
  return std::move(block).Finish();
}

// Appends one Enhanced Packet Block for interface 0, without options.
void AppendEpb(std::string* out, int64_t timestamp_ns, uint32_t wire_length,
               std::string_view data) {
  const size_t padding = Pad4(data.size());
  const uint32_t total = static_cast<uint32_t>(kEpbFixedSize + data.size() + padding);
  PutLe32(out, kEnhancedPacketBlock);
  PutLe32(out, total);
  PutLe32(out, 0);  // interface id
  PutTimestamp(out, PcapngTimestamp(timestamp_ns));
  PutLe32(out, static_cast<uint32_t>(data.size()));
  PutLe32(out, wire_length);
  out->append(data);
  out->append(padding, '\0');
  PutLe32(out, total);
}

size_t EpbSize(size_t caplen) { return kEpbFixedSize + caplen + Pad4(caplen); }

}  // namespace

absl::StatusOr<Format> ChooseFormat(std::string_view path, std::string_view flag) {
  if (flag == "pcap") return Format::kPcap;
  if (flag == "pcapng") return Format::kPcapng;
  if (!flag.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown capture file format '", Sv(flag), "': use pcap or pcapng"));
  }
  if (absl::EndsWithIgnoreCase(Sv(path), ".pcapng")) return Format::kPcapng;
  return Format::kPcap;
}

Writer::Writer(int fd, bool owns_fd, std::string name, Format format)
    : fd_(fd), owns_fd_(owns_fd), name_(std::move(name)), format_(format) {
  buffer_.reserve(kBufferSize);
}

absl::StatusOr<std::unique_ptr<Writer>> Writer::Create(const std::string& path,
                                                       Format format,
                                                       const InterfaceInfo& interface) {
  std::unique_ptr<Writer> writer;
  if (path == "-") {
    writer.reset(new Writer(STDOUT_FILENO, /*owns_fd=*/false, "standard output", format));
  } else {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot create capture file ", path, ": ", std::strerror(errno)));
    }
    writer.reset(new Writer(fd, /*owns_fd=*/true, path, format));
  }
  if (absl::Status status = writer->WriteHeader(interface); !status.ok()) return status;
  return writer;
}

absl::StatusOr<std::unique_ptr<Writer>> Writer::FromFd(int fd, std::string name_for_errors,
                                                       Format format,
                                                       const InterfaceInfo& interface) {
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("no file descriptor for ", name_for_errors, " (", fd, ")"));
  }
  std::unique_ptr<Writer> writer(
      new Writer(fd, /*owns_fd=*/true, std::move(name_for_errors), format));
  if (absl::Status status = writer->WriteHeader(interface); !status.ok()) return status;
  return writer;
}

Writer::~Writer() {
  if (closed_) return;
  if (error_.ok() && !buffer_.empty()) (void)WriteAll(buffer_);
  CloseFd();
}

absl::Status Writer::WriteHeader(const InterfaceInfo& interface) {
  if (format_ == Format::kPcap) {
    std::string header;
    header.reserve(kPcapFileHeaderSize);
    PutLe32(&header, kPcapNanoMagic);
    PutLe16(&header, 2);  // major version
    PutLe16(&header, 4);  // minor version
    PutLe32(&header, 0);  // thiszone
    PutLe32(&header, 0);  // sigfigs
    PutLe32(&header, interface.snaplen);
    PutLe32(&header, interface.link_type);
    return Append(header);
  }
  if (absl::Status status = Append(SectionHeader(interface)); !status.ok()) return status;
  return Append(InterfaceDescription(interface));
}

absl::StatusOr<size_t> Writer::WriteRecords(std::string_view records) {
  if (absl::Status status = CheckOpen(); !status.ok()) return status;
  absl::StatusOr<size_t> count = CountRecords(records);
  if (!count.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not written to ", name_, ": ", count.status().message()));
  }
  if (format_ == Format::kPcap) {
    if (absl::Status status = Append(records); !status.ok()) return status;
    return *count;
  }
  absl::Status status;
  // CountRecords accepted the blob, so ForEachRecord visits every record.
  (void)ForEachRecord(records, [&](const RecordView& record) {
    if (status.ok()) status = Write(record.timestamp_ns, record.wire_length, record.data);
  });
  if (!status.ok()) return status;
  return *count;
}

absl::Status Writer::Write(int64_t timestamp_ns, uint32_t wire_length,
                           std::string_view data) {
  if (absl::Status status = CheckOpen(); !status.ok()) return status;
  if (data.size() > wire_length) {
    return absl::InvalidArgumentError(absl::StrCat("frame for ", name_, " has ", data.size(),
                                                   " bytes, more than its wire length ",
                                                   wire_length));
  }
  const size_t size =
      format_ == Format::kPcap ? kRecordHeaderSize + data.size() : EpbSize(data.size());
  if (buffer_.size() + size > kBufferSize && !buffer_.empty()) {
    if (absl::Status status = Flush(); !status.ok()) return status;
  }
  std::string large;  // only for a frame bigger than the whole buffer
  std::string* out = size <= kBufferSize ? &buffer_ : &large;
  if (format_ == Format::kPcap) {
    AppendRecord(out, timestamp_ns, wire_length, data);
  } else {
    AppendEpb(out, timestamp_ns, wire_length, data);
  }
  if (out == &large) return WriteAll(large);
  return absl::OkStatus();
}

absl::Status Writer::Flush() {
  if (absl::Status status = CheckOpen(); !status.ok()) return status;
  if (buffer_.empty()) return absl::OkStatus();
  absl::Status status = WriteAll(buffer_);
  buffer_.clear();
  return status;
}

absl::Status Writer::Close(const Statistics& statistics) {
  if (closed_) return close_status_;
  absl::Status status;
  if (format_ == Format::kPcapng) status = Append(InterfaceStatistics(statistics));
  if (status.ok()) status = Flush();
  if (status.ok() && owns_fd_ && close(fd_) != 0) {
    status = absl::InternalError(
        absl::StrCat("closing ", name_, " failed: ", std::strerror(errno)));
    owns_fd_ = false;  // closed anyway: close(2) is not retried
  }
  CloseFd();
  closed_ = true;
  close_status_ = status;
  return status;
}

absl::Status Writer::Append(std::string_view bytes) {
  if (!error_.ok()) return error_;
  if (buffer_.size() + bytes.size() > kBufferSize && !buffer_.empty()) {
    absl::Status status = WriteAll(buffer_);
    buffer_.clear();
    if (!status.ok()) return status;
  }
  if (bytes.size() >= kBufferSize) return WriteAll(bytes);
  buffer_.append(bytes);
  return absl::OkStatus();
}

absl::Status Writer::WriteAll(std::string_view bytes) {
  if (!error_.ok()) return error_;
  while (!bytes.empty()) {
    const ssize_t written = write(fd_, bytes.data(), bytes.size());
    if (written >= 0) {
      bytes.remove_prefix(static_cast<size_t>(written));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {  // a non-blocking FIFO: wait for room
      pollfd ready{.fd = fd_, .events = POLLOUT, .revents = 0};
      (void)poll(&ready, 1, -1);
      continue;
    }
    const int error = errno;
    if (error == EPIPE) {
      error_ = absl::UnavailableError(
          absl::StrCat("writing ", name_, ": the reader went away (", std::strerror(error), ")"));
    } else {
      error_ = absl::InternalError(absl::StrCat("writing ", name_, ": ", std::strerror(error)));
    }
    return error_;
  }
  return absl::OkStatus();
}

absl::Status Writer::CheckOpen() const {
  if (closed_) {
    return absl::FailedPreconditionError(absl::StrCat(name_, " is already closed"));
  }
  return error_;
}

void Writer::CloseFd() {
  if (owns_fd_) close(fd_);
  owns_fd_ = false;
  fd_ = -1;
}

}  // namespace pktpool::capture_file
