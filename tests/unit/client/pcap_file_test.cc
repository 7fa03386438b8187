// pcap_file.h: PcapRecordReader against libpcap's own reading of the same files (direct
// little-endian pcap, nanosecond pcap, big-endian through libpcap), its bounds, Rewind,
// and damaged or unsendable files.
#include "client/pktpoolctl/pcap_file.h"

#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/pcap_records.h"

namespace pktpool::ctl {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/pcap_file_test_" + std::to_string(getpid()) + "_" + name;
}

// `n` Ethernet frames of varied sizes and contents.
std::vector<std::string> MakeFrames(int n) {
  std::vector<std::string> frames;
  for (int i = 0; i < n; ++i) {
    std::string frame(60 + (static_cast<size_t>(i) * 97) % 1455, '\0');
    for (size_t j = 0; j < frame.size(); ++j) frame[j] = static_cast<char>((i * 13 + j) & 0xFF);
    frames.push_back(frame);
  }
  return frames;
}

// Writes `frames` with libpcap (host byte order: little-endian here).
void WriteWithLibpcap(const std::string& path, const std::vector<std::string>& frames,
                      u_int precision) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, precision);
  ASSERT_NE(dead, nullptr);
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  ASSERT_NE(dumper, nullptr) << pcap_geterr(dead);
  for (size_t i = 0; i < frames.size(); ++i) {
    pcap_pkthdr header{};
    header.ts.tv_sec = 1700000000 + static_cast<time_t>(i);
    header.ts.tv_usec = static_cast<suseconds_t>(i * 7);
    header.caplen = static_cast<bpf_u_int32>(frames[i].size());
    header.len = header.caplen;
    pcap_dump(reinterpret_cast<u_char*>(dumper), &header,
              reinterpret_cast<const u_char*>(frames[i].data()));
  }
  pcap_dump_close(dumper);
  pcap_close(dead);
}

void StoreBe32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}
void StoreLe32(std::string* out, uint32_t v) {
  for (int shift = 0; shift <= 24; shift += 8) out->push_back(static_cast<char>(v >> shift));
}
void StoreLe16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v));
  out->push_back(static_cast<char>(v >> 8));
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A little-endian classic pcap file header (microseconds) with `linktype`.
std::string LeFileHeader(uint32_t linktype) {
  std::string out;
  StoreLe32(&out, 0xa1b2c3d4);
  StoreLe16(&out, 2);
  StoreLe16(&out, 4);
  StoreLe32(&out, 0);
  StoreLe32(&out, 0);
  StoreLe32(&out, 65535);
  StoreLe32(&out, linktype);
  return out;
}

// Reads the whole file in pieces of at most `max_frames` / `max_bytes`; checks each piece.
std::string ReadAll(PcapRecordReader& reader, size_t max_frames, size_t max_bytes,
                    size_t* pieces = nullptr) {
  std::string all;
  for (int guard = 0; guard < 100000; ++guard) {
    std::string piece;
    absl::StatusOr<size_t> count = reader.Next(&piece, max_frames, max_bytes);
    EXPECT_TRUE(count.ok()) << count.status();
    if (!count.ok() || *count == 0) break;
    EXPECT_LE(*count, max_frames);
    EXPECT_EQ(records::CountRecords(piece).value_or(0), *count);
    if (*count > 1) {
      EXPECT_LE(piece.size(), max_bytes);
    }
    if (pieces != nullptr) ++*pieces;
    all += piece;
  }
  return all;
}

std::vector<std::string> FramesOf(const std::string& blob) {
  std::vector<std::string> frames;
  absl::Status walked = records::ForEachRecord(blob, [&](const records::RecordView& record) {
    EXPECT_GE(record.wire_length, record.data.size());
    frames.emplace_back(record.data);
  });
  EXPECT_TRUE(walked.ok()) << walked;
  return frames;
}

TEST(PcapRecordReader, LittleEndianPcapIsReadDirectlyAndMatchesLibpcap) {
  const std::string path = TempPath("le.pcap");
  const std::vector<std::string> frames = MakeFrames(300);
  WriteWithLibpcap(path, frames, PCAP_TSTAMP_PRECISION_MICRO);
  absl::StatusOr<PcapRecordReader> reader = PcapRecordReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE(reader->direct());
  size_t pieces = 0;
  EXPECT_EQ(FramesOf(ReadAll(*reader, 7, 1 << 20, &pieces)), frames);
  EXPECT_EQ(pieces, (300 + 6) / 7);
  std::remove(path.c_str());
}

TEST(PcapRecordReader, NanosecondPcapIsReadDirectly) {
  const std::string path = TempPath("ns.pcap");
  const std::vector<std::string> frames = MakeFrames(50);
  WriteWithLibpcap(path, frames, PCAP_TSTAMP_PRECISION_NANO);
  absl::StatusOr<PcapRecordReader> reader = PcapRecordReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE(reader->direct());
  EXPECT_EQ(FramesOf(ReadAll(*reader, 1024, 1 << 20)), frames);
  std::remove(path.c_str());
}

TEST(PcapRecordReader, PiecesStayWithinTheByteBoundButHoldAtLeastOneRecord) {
  const std::string path = TempPath("bytes.pcap");
  const std::vector<std::string> frames = MakeFrames(200);
  WriteWithLibpcap(path, frames, PCAP_TSTAMP_PRECISION_MICRO);
  absl::StatusOr<PcapRecordReader> reader = PcapRecordReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  size_t pieces = 0;
  // 1000 bytes: one or two records per piece, never none (a record can exceed the bound).
  EXPECT_EQ(FramesOf(ReadAll(*reader, 1024, 1000, &pieces)), frames);
  EXPECT_GT(pieces, 100u);
  std::remove(path.c_str());
}

TEST(PcapRecordReader, BigEndianPcapGoesThroughLibpcapWithNanosecondTimestamps) {
  const std::string path = TempPath("be.pcap");
  std::string bytes;
  StoreBe32(&bytes, 0xa1b2c3d4);
  bytes += std::string("\x00\x02\x00\x04", 4);
  StoreBe32(&bytes, 0);
  StoreBe32(&bytes, 0);
  StoreBe32(&bytes, 65535);
  StoreBe32(&bytes, 1);
  const std::vector<std::string> frames = MakeFrames(3);
  for (size_t i = 0; i < frames.size(); ++i) {
    StoreBe32(&bytes, 100);
    StoreBe32(&bytes, static_cast<uint32_t>(i + 1));  // microseconds
    StoreBe32(&bytes, static_cast<uint32_t>(frames[i].size()));
    StoreBe32(&bytes, static_cast<uint32_t>(frames[i].size()));
    bytes += frames[i];
  }
  WriteBytes(path, bytes);
  absl::StatusOr<PcapRecordReader> reader = PcapRecordReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_FALSE(reader->direct());
  const std::string blob = ReadAll(*reader, 1024, 1 << 20);
  EXPECT_EQ(FramesOf(blob), frames);
  std::vector<int64_t> stamps;
  (void)records::ForEachRecord(blob, [&](const records::RecordView& r) {
    stamps.push_back(r.timestamp_ns);
  });
  EXPECT_EQ(stamps, (std::vector<int64_t>{100'000'001'000, 100'000'002'000, 100'000'003'000}));
  std::remove(path.c_str());
}

TEST(PcapRecordReader, RewindStartsAgainAtTheFirstFrame) {
  const std::string path = TempPath("rewind.pcap");
  const std::vector<std::string> frames = MakeFrames(20);
  WriteWithLibpcap(path, frames, PCAP_TSTAMP_PRECISION_MICRO);
  absl::StatusOr<PcapRecordReader> reader = PcapRecordReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string part;
  ASSERT_EQ(reader->Next(&part, 5, 1 << 20).value_or(0), 5u);
  ASSERT_TRUE(reader->Rewind().ok());
  EXPECT_EQ(FramesOf(ReadAll(*reader, 1024, 1 << 20)), frames);
  std::remove(path.c_str());
}

TEST(PcapRecordReader, ACutOffLastRecordIsDamageAfterTheFramesBeforeIt) {
  const std::string path = TempPath("cut.pcap");
  WriteWithLibpcap(path, MakeFrames(10), PCAP_TSTAMP_PRECISION_MICRO);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  WriteBytes(path, bytes.substr(0, bytes.size() - 10));
  absl::StatusOr<PcapRecordReader> reader = PcapRecordReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string blob;
  absl::StatusOr<size_t> count = reader->Next(&blob, 1024, 1 << 20);
  // The nine whole records come first; the damage is reported by the next call.
  if (count.ok()) {
    EXPECT_EQ(*count, 9u);
    count = reader->Next(&blob, 1024, 1 << 20);
  }
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(count.status().message(), HasSubstr("is damaged after 9 frames"));
  std::remove(path.c_str());
}

TEST(PcapRecordReader, AWireLengthBelowCaplenIsRaisedToCaplen) {
  const std::string path = TempPath("short-wire.pcap");
  std::string bytes = LeFileHeader(1);
  const std::string frame(64, 'x');
  StoreLe32(&bytes, 1);
  StoreLe32(&bytes, 0);
  StoreLe32(&bytes, 64);
  StoreLe32(&bytes, 60);  // orig_len < caplen: libpcap passes it; the API does not
  bytes += frame;
  WriteBytes(path, bytes);
  absl::StatusOr<PcapRecordReader> reader = PcapRecordReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const std::string blob = ReadAll(*reader, 1024, 1 << 20);
  uint32_t wire = 0;
  ASSERT_TRUE(records::ForEachRecord(blob, [&](const records::RecordView& r) {
                wire = r.wire_length;
              }).ok());
  EXPECT_EQ(wire, 64u);
  std::remove(path.c_str());
}

TEST(PcapRecordReader, RefusesFilesThatAreNotEthernetOrNotCaptures) {
  const std::string raw_ip = TempPath("raw.pcap");
  WriteBytes(raw_ip, LeFileHeader(101));  // LINKTYPE_RAW
  absl::StatusOr<PcapRecordReader> reader = PcapRecordReader::Open(raw_ip);
  ASSERT_FALSE(reader.ok());
  EXPECT_THAT(reader.status().message(), HasSubstr("only Ethernet"));
  const std::string text = TempPath("text.pcap");
  WriteBytes(text, "not a capture file at all, just text");
  reader = PcapRecordReader::Open(text);
  ASSERT_FALSE(reader.ok());
  EXPECT_THAT(reader.status().message(), HasSubstr("cannot read pcap file"));
  EXPECT_FALSE(PcapRecordReader::Open(TempPath("missing.pcap")).ok());
  std::remove(raw_ip.c_str());
  std::remove(text.c_str());
}

}  // namespace
}  // namespace pktpool::ctl
