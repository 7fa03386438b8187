// The API's record blobs (CaptureResponse.pcap_records, SendFramesRequest.pcap_records):
// frames as back-to-back classic pcap records (little-endian headers), which is also the
// body of a little-endian pcap file. One place for the format: the daemon and the
// clients both read and write it through this header.
#ifndef PKTPOOL_PROTO_PCAP_RECORDS_H_
#define PKTPOOL_PROTO_PCAP_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pktpool::records {

// Bytes of one record header: {uint32 ts_sec, uint32 ts_nsec, uint32 caplen,
// uint32 wire_length}, little-endian; caplen bytes of frame data follow it, no padding.
inline constexpr size_t kRecordHeaderSize = 16;

// One record of a blob. `data` points into the blob and lives as long as it does.
struct RecordView {
  int64_t timestamp_ns = 0;  // ns since the epoch
  uint32_t wire_length = 0;  // length on the wire (>= data.size())
  std::string_view data;     // the captured bytes (caplen of them)
};

// Calls `fn` for each record in `records`, in order. INVALID_ARGUMENT (saying at which
// byte offset and why) when a header or its data is truncated, ts_nsec >= 1e9, or
// caplen > wire_length; `fn` is not called for that record nor for any after it.
absl::Status ForEachRecord(std::string_view records,
                           absl::FunctionRef<void(const RecordView&)> fn);

// Number of records in `records` (headers are checked, data is not read), or the same
// error as ForEachRecord.
absl::StatusOr<size_t> CountRecords(std::string_view records);

// Appends one record to *out with caplen = data.size(), exactly as given (the caller keeps
// data.size() <= wire_length; ForEachRecord rejects records that do not). Timestamps
// outside classic pcap's range [0, 2^32 s) are clamped to it.
void AppendRecord(std::string* out, int64_t timestamp_ns, uint32_t wire_length,
                  std::string_view data);

// Writes one record header at `out` (kRecordHeaderSize bytes), for a writer that copies
// the caplen data bytes after it itself; timestamps clamped as by AppendRecord.
void WriteRecordHeader(uint8_t* out, int64_t timestamp_ns, uint32_t caplen,
                       uint32_t wire_length);

}  // namespace pktpool::records

#endif  // PKTPOOL_PROTO_PCAP_RECORDS_H_
