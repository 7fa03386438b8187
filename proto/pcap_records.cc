#include "proto/pcap_records.h"

#include <endian.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace pktpool::records {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kMaxTimestampNs = int64_t{0xFFFFFFFF} * kNanosPerSecond + 999'999'999;

uint32_t LoadLe32(const char* p) {
  uint32_t value;
  std::memcpy(&value, p, sizeof(value));
  return le32toh(value);
}

void StoreLe32(char* p, uint32_t value) {
  value = htole32(value);
  std::memcpy(p, &value, sizeof(value));
}

// Debian's Abseil is built without std::string_view as absl::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status RecordError(size_t offset, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad pcap record at byte offset ", offset, ": ", Sv(why)));
}

// Walks the headers of `records`, calling on_record(offset, ts_sec, ts_nsec, caplen,
// wire_length) for each valid one; shared by ForEachRecord and CountRecords so the
// checks are one piece of code and the counting path pays for no callback.
template <typename OnRecord>
absl::Status Walk(std::string_view records, OnRecord on_record) {
  size_t offset = 0;
  const size_t size = records.size();
  while (offset < size) {
    const size_t left = size - offset;
    if (left < kRecordHeaderSize) {
      return RecordError(offset, absl::StrCat("header truncated (", left, " of ",
                                              kRecordHeaderSize, " bytes)"));
    }
    const char* header = records.data() + offset;
    const uint32_t ts_sec = LoadLe32(header);
    const uint32_t ts_nsec = LoadLe32(header + 4);
    const uint32_t caplen = LoadLe32(header + 8);
    const uint32_t wire_length = LoadLe32(header + 12);
    if (ts_nsec >= kNanosPerSecond) {
      return RecordError(offset, absl::StrCat("ts_nsec ", ts_nsec, " is not below 1e9"));
    }
    if (caplen > wire_length) {
      return RecordError(offset, absl::StrCat("caplen ", caplen, " exceeds wire_length ",
                                              wire_length));
    }
    if (caplen > left - kRecordHeaderSize) {
      return RecordError(offset, absl::StrCat("data truncated (caplen ", caplen, ", ",
                                              left - kRecordHeaderSize, " bytes left)"));
    }
    on_record(offset, ts_sec, ts_nsec, caplen, wire_length);
    offset += kRecordHeaderSize + caplen;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ForEachRecord(std::string_view records,
                           absl::FunctionRef<void(const RecordView&)> fn) {
  return Walk(records, [&](size_t offset, uint32_t ts_sec, uint32_t ts_nsec, uint32_t caplen,
                           uint32_t wire_length) {
    RecordView view;
    view.timestamp_ns = int64_t{ts_sec} * kNanosPerSecond + ts_nsec;
    view.wire_length = wire_length;
    view.data = records.substr(offset + kRecordHeaderSize, caplen);
    fn(view);
  });
}

absl::StatusOr<size_t> CountRecords(std::string_view records) {
  size_t count = 0;
  absl::Status status =
      Walk(records, [&](size_t, uint32_t, uint32_t, uint32_t, uint32_t) { ++count; });
  if (!status.ok()) return status;
  return count;
}

void WriteRecordHeader(uint8_t* out, int64_t timestamp_ns, uint32_t caplen,
                       uint32_t wire_length) {
  if (timestamp_ns < 0) timestamp_ns = 0;
  if (timestamp_ns > kMaxTimestampNs) timestamp_ns = kMaxTimestampNs;
  char* header = reinterpret_cast<char*>(out);
  StoreLe32(header, static_cast<uint32_t>(timestamp_ns / kNanosPerSecond));
  StoreLe32(header + 4, static_cast<uint32_t>(timestamp_ns % kNanosPerSecond));
  StoreLe32(header + 8, caplen);
  StoreLe32(header + 12, wire_length);
}

void AppendRecord(std::string* out, int64_t timestamp_ns, uint32_t wire_length,
                  std::string_view data) {
  uint8_t header[kRecordHeaderSize];
  WriteRecordHeader(header, timestamp_ns, static_cast<uint32_t>(data.size()), wire_length);
  out->append(reinterpret_cast<const char*>(header), sizeof(header));
  out->append(data);
}

}  // namespace pktpool::records
