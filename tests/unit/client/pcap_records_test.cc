// pcap_records.h: the daemon's record blob, one test per rule.
#include "proto/pcap_records.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pktpool::records {
namespace {

using ::testing::HasSubstr;

struct Record {
  int64_t timestamp_ns;
  uint32_t wire_length;
  std::string data;
  bool operator==(const Record&) const = default;
};

std::vector<Record> Collect(std::string_view blob, absl::Status* status) {
  std::vector<Record> records;
  *status = ForEachRecord(blob, [&](const RecordView& view) {
    records.push_back({view.timestamp_ns, view.wire_length, std::string(view.data)});
  });
  return records;
}

// A 16-byte header written byte by byte, little-endian, independent of the code under test.
std::string RawHeader(uint32_t sec, uint32_t nsec, uint32_t caplen, uint32_t wire_length) {
  std::string out;
  for (uint32_t value : {sec, nsec, caplen, wire_length}) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  }
  return out;
}

TEST(PcapRecords, RoundTripKeepsEveryRecordInOrder) {
  const std::vector<Record> written = {
      {1'700'000'000'123'456'789, 60, std::string(60, 'a')},
      {1'700'000'001'000'000'000, 1514, std::string(100, 'b')},  // caplen < wire_length
      {0, 0, ""},
      {999'999'999, 3, std::string("\0\xff\x01", 3)},
  };
  std::string blob;
  for (const Record& r : written) AppendRecord(&blob, r.timestamp_ns, r.wire_length, r.data);
  absl::Status status;
  EXPECT_EQ(Collect(blob, &status), written);
  EXPECT_TRUE(status.ok()) << status;
  absl::StatusOr<size_t> count = CountRecords(blob);
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, written.size());
}

TEST(PcapRecords, AppendRecordWritesLittleEndianHeaderThenData) {
  std::string blob;
  AppendRecord(&blob, 0x01020304LL * 1'000'000'000 + 0x05060708, 0x0D0E0F10, "xyz");
  EXPECT_EQ(blob, RawHeader(0x01020304, 0x05060708, 3, 0x0D0E0F10) + "xyz");
}

TEST(PcapRecords, AppendRecordClampsTimestampsToPcapRange) {
  std::string blob;
  AppendRecord(&blob, -5, 1, "a");
  AppendRecord(&blob, INT64_MAX, 1, "b");
  EXPECT_EQ(blob, RawHeader(0, 0, 1, 1) + "a" + RawHeader(0xFFFFFFFF, 999'999'999, 1, 1) + "b");
}

TEST(PcapRecords, EmptyBlobHasZeroRecords) {
  absl::Status status;
  EXPECT_TRUE(Collect("", &status).empty());
  EXPECT_TRUE(status.ok()) << status;
  absl::StatusOr<size_t> count = CountRecords("");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 0u);
}

// Each bad blob is one good record (21 bytes) followed by the bad part, so the error must
// name offset 21, and only the good record is delivered.
void ExpectBadAtOffset21(const std::string& bad_tail, std::string_view why) {
  std::string blob;
  AppendRecord(&blob, 1'000'000'000, 5, "hello");
  ASSERT_EQ(blob.size(), 21u);
  blob += bad_tail;
  absl::Status status;
  std::vector<Record> records = Collect(blob, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("offset 21"));
  EXPECT_THAT(status.message(), HasSubstr(why));
  EXPECT_EQ(records.size(), 1u);
  absl::StatusOr<size_t> count = CountRecords(blob);
  EXPECT_EQ(count.status(), status);
}

TEST(PcapRecords, TruncatedHeaderIsInvalidWithOffset) {
  ExpectBadAtOffset21(RawHeader(1, 0, 0, 0).substr(0, 10), "header truncated");
}

TEST(PcapRecords, TruncatedDataIsInvalidWithOffset) {
  ExpectBadAtOffset21(RawHeader(1, 0, 10, 10) + "12345", "data truncated");
}

TEST(PcapRecords, CaplenAboveWireLengthIsInvalidWithOffset) {
  ExpectBadAtOffset21(RawHeader(1, 0, 5, 4) + "12345", "exceeds wire_length");
}

TEST(PcapRecords, NanosecondsOfOneSecondOrMoreAreInvalidWithOffset) {
  ExpectBadAtOffset21(RawHeader(1, 1'000'000'000, 1, 1) + "x", "ts_nsec");
}

TEST(PcapRecords, NothingIsCalledForRecordsAfterABadOne) {
  std::string blob;
  AppendRecord(&blob, 1, 1, "a");
  blob += RawHeader(1, 0, 2, 1) + "bb";  // caplen > wire_length
  AppendRecord(&blob, 2, 1, "c");
  absl::Status status;
  std::vector<Record> records = Collect(blob, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("offset 17"));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].data, "a");
}

}  // namespace
}  // namespace pktpool::records
