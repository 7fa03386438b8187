#include "client/pktpoolctl/pcap_file.h"

#include <endian.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/pcap_records.h"

namespace pktpool::ctl {
namespace {

constexpr size_t kFileHeaderSize = 24;
constexpr uint32_t kMagicMicroseconds = 0xa1b2c3d4;
constexpr uint32_t kMagicNanoseconds = 0xa1b23c4d;
constexpr uint32_t kLinkTypeEthernet = 1;  // LINKTYPE_ETHERNET (DLT_EN10MB)
// libpcap refuses records larger than this (MAXIMUM_SNAPLEN); so does the direct reader.
constexpr uint32_t kMaxRecordData = 262144;
constexpr size_t kReadSize = 4 << 20;  // one read() of the direct reader

uint32_t LoadLe32(const char* p) {
  uint32_t value;
  std::memcpy(&value, p, sizeof(value));
  return le32toh(value);
}

absl::StatusOr<pcap_t*> OpenWithLibpcap(const std::string& path) {
  char error[PCAP_ERRBUF_SIZE] = {};
  pcap_t* raw = pcap_open_offline_with_tstamp_precision(path.c_str(),
                                                         PCAP_TSTAMP_PRECISION_NANO, error);
  if (raw == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read pcap file ", path, ": ", error));
  }
  if (pcap_datalink(raw) != DLT_EN10MB) {
    absl::Status status = absl::InvalidArgumentError(
        absl::StrCat(path, " holds ", pcap_datalink_val_to_name(pcap_datalink(raw)),
                     " frames; only Ethernet (EN10MB) can be sent"));
    pcap_close(raw);
    return status;
  }
  return raw;
}

}  // namespace

absl::StatusOr<std::vector<FileFrame>> ReadPcapFile(const std::string& path) {
  absl::StatusOr<pcap_t*> opened = OpenWithLibpcap(path);
  if (!opened.ok()) return opened.status();
  pcap_t* raw = *opened;
  std::unique_ptr<pcap_t, decltype(&pcap_close)> file(raw, &pcap_close);
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

struct PcapRecordReader::State {
  std::string path;
  pcap_t* pcap = nullptr;  // libpcap reads the file; else it is read directly from fd
  int fd = -1;
  // Direct: bytes read and not yet handed out are buffer[at, end). Not a std::string:
  // growing one zero-fills what read() then overwrites.
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;
  size_t at = 0;
  size_t end = 0;
  bool end_of_file = false;
  uint64_t frames = 0;     // handed out since the start (or Rewind)
  absl::Status damage;     // found after records that were handed out: the next answer

  ~State() {
    if (pcap != nullptr) pcap_close(pcap);
    if (fd >= 0) close(fd);
  }
  absl::Status Damaged(const std::string& why) const {
    return absl::InvalidArgumentError(absl::StrCat("pcap file ", path, " is damaged after ",
                                                   frames, " frames: ", why));
  }
  size_t available() const { return end - at; }
  // Direct: makes at least `want` bytes available from `at`, unless the file ends first.
  absl::Status Fill(size_t want) {
    while (available() < want && !end_of_file) {
      // The bytes not handed out yet move to the front (none before the first read:
      // then there is no buffer, and memcpy must not see its null pointer).
      if (capacity < want + kReadSize) {
        auto bigger = std::make_unique_for_overwrite<char[]>(want + kReadSize);
        if (available() > 0) std::memcpy(bigger.get(), buffer.get() + at, available());
        buffer = std::move(bigger);
        capacity = want + kReadSize;
      } else if (available() > 0) {
        std::memmove(buffer.get(), buffer.get() + at, available());
      }
      end = available();
      at = 0;
      const ssize_t got = read(fd, buffer.get() + end, capacity - end);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot read pcap file ", path, ": ", std::strerror(errno)));
      }
      if (got == 0) end_of_file = true;
      end += static_cast<size_t>(got);
    }
    return absl::OkStatus();
  }
};

PcapRecordReader::PcapRecordReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
PcapRecordReader::PcapRecordReader(PcapRecordReader&&) noexcept = default;
PcapRecordReader& PcapRecordReader::operator=(PcapRecordReader&&) noexcept = default;
PcapRecordReader::~PcapRecordReader() = default;

absl::StatusOr<PcapRecordReader> PcapRecordReader::Open(const std::string& path) {
  auto state = std::make_unique<State>();
  state->path = path;
  state->fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (state->fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read pcap file ", path, ": ", std::strerror(errno)));
  }
  char header[kFileHeaderSize];
  const ssize_t got = pread(state->fd, header, sizeof(header), 0);
  const bool direct = got == static_cast<ssize_t>(sizeof(header)) &&
                      (LoadLe32(header) == kMagicMicroseconds ||
                       LoadLe32(header) == kMagicNanoseconds) &&
                      (LoadLe32(header + 20) & 0x0FFFFFFF) == kLinkTypeEthernet;
  if (direct) {
    if (lseek(state->fd, kFileHeaderSize, SEEK_SET) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read pcap file ", path, ": ", std::strerror(errno)));
    }
    posix_fadvise(state->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  } else {
    close(state->fd);
    state->fd = -1;
    absl::StatusOr<pcap_t*> pcap = OpenWithLibpcap(path);
    if (!pcap.ok()) return pcap.status();
    state->pcap = *pcap;
  }
  return PcapRecordReader(std::move(state));
}

bool PcapRecordReader::direct() const { return state_->pcap == nullptr; }

absl::StatusOr<size_t> PcapRecordReader::Next(std::string* records, size_t max_frames,
                                              size_t max_bytes) {
  State& s = *state_;
  if (!s.damage.ok()) return s.damage;
  size_t count = 0;
  // Damage after some records: they are handed out now, the damage with the next call.
  auto damaged = [&](absl::Status status) -> absl::StatusOr<size_t> {
    if (count == 0) return status;
    s.damage = std::move(status);
    return count;
  };
  size_t bytes = 0;
  if (s.pcap != nullptr) {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    while (count < max_frames) {
      // libpcap hands out one record at a time: the byte bound is checked before the next.
      if (count > 0 && bytes >= max_bytes) break;
      const int result = pcap_next_ex(s.pcap, &header, &data);
      if (result == PCAP_ERROR_BREAK) break;  // end of file
      if (result != 1) return damaged(s.Damaged(pcap_geterr(s.pcap)));
      const int64_t ns = static_cast<int64_t>(header->ts.tv_sec) * 1'000'000'000 +
                         static_cast<int64_t>(header->ts.tv_usec);  // ns: nano precision
      records::AppendRecord(records, ns, std::max(header->len, header->caplen),
                            {reinterpret_cast<const char*>(data), header->caplen});
      bytes += records::kRecordHeaderSize + header->caplen;
      ++count;
      ++s.frames;
    }
    return count;
  }
  while (count < max_frames) {
    if (absl::Status filled = s.Fill(records::kRecordHeaderSize); !filled.ok()) {
      return damaged(filled);
    }
    const size_t left = s.available();
    if (left == 0) break;  // end of file, on a record boundary
    if (left < records::kRecordHeaderSize) {
      return damaged(s.Damaged("the last record header is cut off"));
    }
    const char* header = s.buffer.get() + s.at;
    const uint32_t caplen = LoadLe32(header + 8);
    const uint32_t wire_length = LoadLe32(header + 12);
    if (caplen > kMaxRecordData) {
      return damaged(
          s.Damaged(absl::StrCat("a record of ", caplen, " bytes, over ", kMaxRecordData)));
    }
    const size_t size = records::kRecordHeaderSize + caplen;
    if (count > 0 && bytes + size > max_bytes) break;
    if (absl::Status filled = s.Fill(size); !filled.ok()) return damaged(filled);
    if (s.available() < size) return damaged(s.Damaged("the last record is cut off"));
    header = s.buffer.get() + s.at;
    const size_t out = records->size();
    records->append(header, size);
    if (wire_length < caplen) {
      // The API wants orig_len >= caplen (libpcap lets such records through as they are).
      const uint32_t fixed = htole32(caplen);
      std::memcpy(records->data() + out + 12, &fixed, sizeof(fixed));
    }
    s.at += size;
    bytes += size;
    ++count;
    ++s.frames;
  }
  return count;
}

absl::Status PcapRecordReader::Rewind() {
  State& s = *state_;
  s.frames = 0;
  s.damage = absl::OkStatus();
  if (s.pcap != nullptr) {
    absl::StatusOr<pcap_t*> pcap = OpenWithLibpcap(s.path);
    if (!pcap.ok()) return pcap.status();
    pcap_close(s.pcap);
    s.pcap = *pcap;
    return absl::OkStatus();
  }
  if (lseek(s.fd, kFileHeaderSize, SEEK_SET) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read pcap file ", s.path, ": ", std::strerror(errno)));
  }
  s.at = 0;
  s.end = 0;
  s.end_of_file = false;
  return absl::OkStatus();
}

}  // namespace pktpool::ctl
