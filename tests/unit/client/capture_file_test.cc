// capture_file.h: pcap and pcapng files read back with libpcap, a pcapng block walker of
// our own, and tshark/capinfos when they are installed; ChooseFormat; file descriptors.
#include "client/capture_file/capture_file.h"

#include <pcap/pcap.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/pcap_records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pktpool::capture_file {

using records::AppendRecord;
using records::CountRecords;
using records::ForEachRecord;
using records::kRecordHeaderSize;
using records::RecordView;
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Frame {
  int64_t timestamp_ns;
  uint32_t wire_length;
  std::string data;
  bool operator==(const Frame&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Frame& f) {
  return os << "{" << f.timestamp_ns << ", " << f.wire_length << ", " << f.data.size() << " B}";
}

// N frames of varied sizes and content; every 7th is cut (caplen < wire_length).
std::vector<Frame> MakeFrames(int n, size_t max_size = 1514) {
  std::vector<Frame> frames;
  for (int i = 0; i < n; ++i) {
    const size_t size = 14 + (static_cast<size_t>(i) * 37) % (max_size - 13);
    std::string data(size, '\0');
    for (size_t j = 0; j < size; ++j) data[j] = static_cast<char>((i * 31 + j * 7) & 0xFF);
    const uint32_t wire = static_cast<uint32_t>(i % 7 == 3 ? size + 100 : size);
    frames.push_back({1'700'000'000'000'000'000 + int64_t{i} * 1'000'003'457, wire, data});
  }
  return frames;
}

std::string Blob(const std::vector<Frame>& frames) {
  std::string blob;
  for (const Frame& f : frames) AppendRecord(&blob, f.timestamp_ns, f.wire_length, f.data);
  return blob;
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/capture_file_test_", getpid(), "_", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

InterfaceInfo TestInterface() {
  InterfaceInfo info;
  info.name = "vethB";
  info.description = "vethB through pktpoold at /run/pktpoold/pktpoold.sock";
  info.filter = "udp port 4789";
  info.snaplen = 9000;
  info.os = "Linux 6.1.0";
  info.application = "pktpoolctl 0.1.0";
  return info;
}

// Reads every frame with libpcap at nanosecond precision; fails the test on an error.
std::vector<Frame> ReadWithLibpcap(const std::string& path, int* link_type = nullptr) {
  char error[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                       error);
  EXPECT_NE(p, nullptr) << error;
  if (p == nullptr) return {};
  if (link_type != nullptr) *link_type = pcap_datalink(p);
  std::vector<Frame> frames;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int result = 0;
  while ((result = pcap_next_ex(p, &header, &data)) == 1) {
    frames.push_back({int64_t{header->ts.tv_sec} * 1'000'000'000 + header->ts.tv_usec,
                      header->len,
                      std::string(reinterpret_cast<const char*>(data), header->caplen)});
  }
  EXPECT_EQ(result, PCAP_ERROR_BREAK) << pcap_geterr(p);
  pcap_close(p);
  return frames;
}

uint16_t Le16(std::string_view s, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) | static_cast<uint8_t>(s[at + 1]) << 8);
}
uint32_t Le32(std::string_view s, size_t at) {
  return uint32_t{Le16(s, at)} | uint32_t{Le16(s, at + 2)} << 16;
}
uint64_t Le64(std::string_view s, size_t at) {
  return uint64_t{Le32(s, at)} | uint64_t{Le32(s, at + 4)} << 32;
}
// A pcapng timestamp: high 32 bits then low 32 bits.
uint64_t Timestamp(std::string_view s, size_t at) {
  return uint64_t{Le32(s, at)} << 32 | Le32(s, at + 4);
}

// One pcapng block as the walker found it.
struct Block {
  uint32_t type = 0;
  std::string body;                                   // between the two length fields
  std::multimap<uint16_t, std::string> options;       // code -> value (unpadded)
  bool end_of_options = false;
};

// Walks a little-endian pcapng file: checks block lengths (both ends, multiple of 4), the
// byte-order magic, option padding and opt_endofopt; EXPECT failures on anything else.
std::vector<Block> WalkPcapng(std::string_view file) {
  std::vector<Block> blocks;
  size_t at = 0;
  while (at < file.size()) {
    if (file.size() - at < 12) {
      ADD_FAILURE() << "truncated block at " << at;
      break;
    }
    Block block;
    block.type = Le32(file, at);
    const uint32_t length = Le32(file, at + 4);
    if (length % 4 != 0 || length < 12 || length > file.size() - at) {
      ADD_FAILURE() << "bad block length " << length << " at " << at;
      break;
    }
    EXPECT_EQ(Le32(file, at + length - 4), length) << "trailing length at " << at;
    block.body = std::string(file.substr(at + 8, length - 12));
    size_t options_at = 0;
    switch (block.type) {
      case 0x0A0D0D0A:
        EXPECT_EQ(Le32(block.body, 0), 0x1A2B3C4Du);
        options_at = 16;
        break;
      case 1: options_at = 8; break;
      case 5: options_at = 12; break;
      case 6: {
        const uint32_t caplen = Le32(block.body, 12);
        options_at = 20 + caplen + (4 - caplen % 4) % 4;
        EXPECT_EQ(block.body.substr(20 + caplen, options_at - 20 - caplen),
                  std::string(options_at - 20 - caplen, '\0'))
            << "EPB padding at " << at;
        break;
      }
      default: ADD_FAILURE() << "unexpected block type " << block.type;
    }
    while (options_at + 4 <= block.body.size()) {
      const uint16_t code = Le16(block.body, options_at);
      const uint16_t option_length = Le16(block.body, options_at + 2);
      if (code == 0) {
        EXPECT_EQ(option_length, 0);
        EXPECT_EQ(options_at + 4, block.body.size()) << "data after opt_endofopt";
        block.end_of_options = true;
        break;
      }
      block.options.emplace(code, block.body.substr(options_at + 4, option_length));
      const size_t padding = (4 - option_length % 4) % 4;
      EXPECT_EQ(block.body.substr(options_at + 4 + option_length, padding),
                std::string(padding, '\0'))
          << "option padding at " << at;
      options_at += 4 + option_length + padding;
    }
    if (!block.options.empty()) {
      EXPECT_TRUE(block.end_of_options) << "type " << block.type;
    }
    blocks.push_back(std::move(block));
    at += length;
  }
  return blocks;
}

std::string Option(const Block& block, uint16_t code) {
  auto it = block.options.find(code);
  return it == block.options.end() ? "<absent>" : it->second;
}

bool OnPath(const char* tool) {
  return std::system(absl::StrCat("command -v ", tool, " >/dev/null 2>&1").c_str()) == 0;
}

// Runs `command` and returns its standard output; *exit_status gets its exit status.
std::string RunCommand(const std::string& command, int* exit_status) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *exit_status = -1;
    return output;
  }
  char chunk[4096];
  size_t n = 0;
  while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0) output.append(chunk, n);
  *exit_status = pclose(pipe);
  return output;
}

// ---------------------------------------------------------------------------------------
// ChooseFormat and Create

TEST(ChooseFormat, FlagWinsOverExtension) {
  EXPECT_EQ(ChooseFormat("x.pcapng", "pcap").value(), Format::kPcap);
  EXPECT_EQ(ChooseFormat("x.pcap", "pcapng").value(), Format::kPcapng);
  EXPECT_EQ(ChooseFormat("-", "pcapng").value(), Format::kPcapng);
}

TEST(ChooseFormat, ExtensionDecidesWithoutFlag) {
  EXPECT_EQ(ChooseFormat("/tmp/a.pcapng", "").value(), Format::kPcapng);
  EXPECT_EQ(ChooseFormat("/tmp/A.PCAPNG", "").value(), Format::kPcapng);
  EXPECT_EQ(ChooseFormat("/tmp/a.pcap", "").value(), Format::kPcap);
  EXPECT_EQ(ChooseFormat("/tmp/a", "").value(), Format::kPcap);
  EXPECT_EQ(ChooseFormat("/tmp/a.pcapng.gz", "").value(), Format::kPcap);
  EXPECT_EQ(ChooseFormat("-", "").value(), Format::kPcap);
}

TEST(ChooseFormat, UnknownFlagNamesTheAcceptedValues) {
  absl::StatusOr<Format> format = ChooseFormat("a.pcap", "ntar");
  EXPECT_EQ(format.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(format.status().message(), HasSubstr("ntar"));
  EXPECT_THAT(format.status().message(), HasSubstr("pcap or pcapng"));
}

TEST(Writer, CreateOnUnwritablePathIsInvalidArgumentNamingIt) {
  for (Format format : {Format::kPcap, Format::kPcapng}) {
    auto writer = Writer::Create("/nonexistent-dir/x.pcap", format, TestInterface());
    EXPECT_EQ(writer.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(writer.status().message(), HasSubstr("/nonexistent-dir/x.pcap"));
    EXPECT_THAT(writer.status().message(), HasSubstr(std::strerror(ENOENT)));
  }
}

TEST(Writer, FromFdRejectsANegativeDescriptor) {
  auto writer = Writer::FromFd(-1, "nothing", Format::kPcap, TestInterface());
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------
// Classic pcap

std::string PcapFileHeader(uint32_t snaplen) {
  std::string h;
  for (uint32_t v : {0xa1b23c4du, 0x00040002u, 0u, 0u, snaplen, 1u}) {
    for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  return h;
}

TEST(PcapWriter, BlobIsWrittenAsIsAndLibpcapReadsEveryFrameBack) {
  const std::vector<Frame> frames = MakeFrames(50);
  const std::string blob = Blob(frames);
  const std::string path = TempPath("blob.pcap");
  auto writer = Writer::Create(path, Format::kPcap, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  absl::StatusOr<size_t> written = (*writer)->WriteRecords(blob);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, frames.size());
  ASSERT_TRUE((*writer)->Close(Statistics{}).ok());

  EXPECT_TRUE(ReadFile(path) == PcapFileHeader(9000) + blob) << "file is not header + blob";
  int link_type = -1;
  EXPECT_EQ(ReadWithLibpcap(path, &link_type), frames);
  EXPECT_EQ(link_type, DLT_EN10MB);
  std::remove(path.c_str());
}

TEST(PcapWriter, SingleFramesIncludingCutOnesReadBack) {
  const std::vector<Frame> frames = {
      {1'700'000'000'999'999'999, 1514, std::string(64, 'x')},  // caplen < wire_length
      {1'700'000'001'000'000'001, 60, std::string(60, 'y')},
      {1'700'000'001'000'000'002, 0, ""},
  };
  const std::string path = TempPath("single.pcap");
  auto writer = Writer::Create(path, Format::kPcap, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const Frame& f : frames) {
    ASSERT_TRUE((*writer)->Write(f.timestamp_ns, f.wire_length, f.data).ok());
  }
  ASSERT_TRUE((*writer)->Close(Statistics{}).ok());
  EXPECT_EQ(ReadWithLibpcap(path), frames);
  std::remove(path.c_str());
}

TEST(PcapWriter, BlobsLargerThanTheBufferAndSingleFramesKeepTheirOrder) {
  const std::vector<Frame> frames = MakeFrames(3000);  // ~2.3 MB: bigger than the buffer
  const std::string path = TempPath("large.pcap");
  auto writer = Writer::Create(path, Format::kPcap, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::vector<Frame> expected;
  Frame first{1, 1, "a"};
  ASSERT_TRUE((*writer)->Write(first.timestamp_ns, first.wire_length, first.data).ok());
  expected.push_back(first);
  ASSERT_EQ((*writer)->WriteRecords(Blob(frames)).value_or(0), frames.size());
  expected.insert(expected.end(), frames.begin(), frames.end());
  Frame last{2, 2, "bb"};
  ASSERT_TRUE((*writer)->Write(last.timestamp_ns, last.wire_length, last.data).ok());
  expected.push_back(last);
  ASSERT_TRUE((*writer)->Close(Statistics{}).ok());
  EXPECT_EQ(ReadWithLibpcap(path), expected);
  std::remove(path.c_str());
}

TEST(PcapWriter, BufferedUntilFlush) {
  const std::string path = TempPath("flush.pcap");
  auto writer = Writer::Create(path, Format::kPcap, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Write(5, 10, "0123456789").ok());
  EXPECT_EQ(ReadFile(path).size(), 0u) << "expected buffering before Flush";
  ASSERT_TRUE((*writer)->Flush().ok());
  EXPECT_EQ(ReadFile(path).size(), 24u + 16u + 10u);
  EXPECT_EQ(ReadWithLibpcap(path), (std::vector<Frame>{{5, 10, "0123456789"}}));
  ASSERT_TRUE((*writer)->Close(Statistics{}).ok());
  std::remove(path.c_str());
}

TEST(PcapWriter, DestroyingWithoutCloseFlushes) {
  const std::string path = TempPath("destroy.pcap");
  {
    auto writer = Writer::Create(path, Format::kPcap, TestInterface());
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Write(5, 1, "z").ok());
  }
  EXPECT_EQ(ReadWithLibpcap(path), (std::vector<Frame>{{5, 1, "z"}}));
  std::remove(path.c_str());
}

TEST(PcapWriter, BadInputWritesNothing) {
  const std::string path = TempPath("bad.pcap");
  auto writer = Writer::Create(path, Format::kPcap, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ((*writer)->Write(1, 3, "four").code(), absl::StatusCode::kInvalidArgument);
  std::string blob = Blob(MakeFrames(3));
  blob.pop_back();  // the last record's data is truncated
  absl::StatusOr<size_t> written = (*writer)->WriteRecords(blob);
  EXPECT_EQ(written.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(written.status().message(), HasSubstr("offset"));
  ASSERT_TRUE((*writer)->Close(Statistics{}).ok());
  EXPECT_EQ(ReadFile(path), PcapFileHeader(9000));
  std::remove(path.c_str());
}

TEST(PcapWriter, CloseIsIdempotentAndWritesAfterItFail) {
  const std::string path = TempPath("closed.pcap");
  auto writer = Writer::Create(path, Format::kPcap, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_TRUE((*writer)->Close(Statistics{}).ok());
  EXPECT_TRUE((*writer)->Close(Statistics{}).ok());
  EXPECT_EQ((*writer)->Write(1, 1, "a").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->WriteRecords("").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*writer)->Flush().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(path), PcapFileHeader(9000));
  std::remove(path.c_str());
}

// ---------------------------------------------------------------------------------------
// pcapng

Statistics TestStatistics() {
  Statistics s;
  s.start_ns = 1'700'000'000'000'000'001;
  s.end_ns = 1'700'000'100'123'456'789;
  s.received = 1000;
  s.interface_dropped = 3;
  s.os_dropped = 42;
  s.delivered = 955;
  s.comment = "ring_full=40 subscriber_slow=2";
  return s;
}

std::string U64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return s;
}

TEST(PcapngWriter, LibpcapReadsEveryFrameAndTheBlocksSayWhatWasGiven) {
  const std::vector<Frame> frames = MakeFrames(40);
  const std::string path = TempPath("blob.pcapng");
  auto writer = Writer::Create(path, Format::kPcapng, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_EQ((*writer)->WriteRecords(Blob(frames)).value_or(0), frames.size());
  const Statistics stats = TestStatistics();
  ASSERT_TRUE((*writer)->Close(stats).ok());

  int link_type = -1;
  EXPECT_EQ(ReadWithLibpcap(path, &link_type), frames);
  EXPECT_EQ(link_type, DLT_EN10MB);

  const std::vector<Block> blocks = WalkPcapng(ReadFile(path));
  ASSERT_EQ(blocks.size(), frames.size() + 3);
  const Block& shb = blocks[0];
  EXPECT_EQ(shb.type, 0x0A0D0D0Au);
  EXPECT_EQ(Le16(shb.body, 4), 1);                 // major
  EXPECT_EQ(Le16(shb.body, 6), 0);                 // minor
  EXPECT_EQ(Le64(shb.body, 8), ~uint64_t{0});      // section length unknown
  EXPECT_EQ(Option(shb, 3), "Linux 6.1.0");
  EXPECT_EQ(Option(shb, 4), "pktpoolctl 0.1.0");

  const Block& idb = blocks[1];
  EXPECT_EQ(idb.type, 1u);
  EXPECT_EQ(Le16(idb.body, 0), 1);                 // LINKTYPE_ETHERNET
  EXPECT_EQ(Le32(idb.body, 4), 9000u);             // snaplen
  EXPECT_EQ(Option(idb, 2), "vethB");
  EXPECT_EQ(Option(idb, 3), "vethB through pktpoold at /run/pktpoold/pktpoold.sock");
  EXPECT_EQ(Option(idb, 11), std::string("\0udp port 4789", 14));
  EXPECT_EQ(Option(idb, 9), "\x09");

  for (size_t i = 0; i < frames.size(); ++i) {
    const Block& epb = blocks[2 + i];
    ASSERT_EQ(epb.type, 6u) << i;
    EXPECT_EQ(Le32(epb.body, 0), 0u);  // interface 0
    EXPECT_EQ(Timestamp(epb.body, 4), static_cast<uint64_t>(frames[i].timestamp_ns)) << i;
    EXPECT_EQ(Le32(epb.body, 12), frames[i].data.size()) << i;
    EXPECT_EQ(Le32(epb.body, 16), frames[i].wire_length) << i;
    EXPECT_EQ(epb.body.substr(20, frames[i].data.size()), frames[i].data) << i;
  }

  const Block& isb = blocks.back();
  EXPECT_EQ(isb.type, 5u);
  EXPECT_EQ(Le32(isb.body, 0), 0u);
  EXPECT_EQ(Timestamp(isb.body, 4), static_cast<uint64_t>(stats.end_ns));
  EXPECT_EQ(Timestamp(Option(isb, 2), 0), static_cast<uint64_t>(stats.start_ns));
  EXPECT_EQ(Timestamp(Option(isb, 3), 0), static_cast<uint64_t>(stats.end_ns));
  EXPECT_EQ(Option(isb, 4), U64(1000));
  EXPECT_EQ(Option(isb, 5), U64(3));
  EXPECT_EQ(Option(isb, 7), U64(42));
  EXPECT_EQ(Option(isb, 8), U64(955));
  EXPECT_EQ(Option(isb, 1), "ring_full=40 subscriber_slow=2");
  std::remove(path.c_str());
}

TEST(PcapngWriter, EmptyStringsAreLeftOutAndSingleFramesReadBack) {
  InterfaceInfo info;  // everything empty but snaplen and link type
  const std::vector<Frame> frames = {{1'700'000'000'000'000'007, 1514, std::string(61, 'q')},
                                     {1'700'000'000'000'000'008, 3, "abc"}};
  const std::string path = TempPath("empty.pcapng");
  auto writer = Writer::Create(path, Format::kPcapng, info);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const Frame& f : frames) {
    ASSERT_TRUE((*writer)->Write(f.timestamp_ns, f.wire_length, f.data).ok());
  }
  Statistics stats;  // no comment
  ASSERT_TRUE((*writer)->Close(stats).ok());
  EXPECT_EQ(ReadWithLibpcap(path), frames);
  const std::vector<Block> blocks = WalkPcapng(ReadFile(path));
  ASSERT_EQ(blocks.size(), 5u);
  EXPECT_TRUE(blocks[0].options.empty());
  EXPECT_EQ(blocks[0].body.size(), 16u);  // no options and no opt_endofopt
  EXPECT_EQ(blocks[1].options.size(), 1u);  // if_tsresol only
  EXPECT_EQ(Option(blocks[1], 11), "<absent>");
  EXPECT_EQ(Le32(blocks[1].body, 4), 262144u);
  EXPECT_EQ(Option(blocks[4], 1), "<absent>");
  EXPECT_EQ(Option(blocks[4], 4), U64(0));
  std::remove(path.c_str());
}

TEST(PcapngWriter, DestroyingWithoutCloseWritesNoStatistics) {
  const std::string path = TempPath("destroy.pcapng");
  {
    auto writer = Writer::Create(path, Format::kPcapng, TestInterface());
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Write(5, 1, "z").ok());
  }
  std::vector<uint32_t> types;
  for (const Block& b : WalkPcapng(ReadFile(path))) types.push_back(b.type);
  EXPECT_THAT(types, ElementsAre(0x0A0D0D0Au, 1u, 6u));
  EXPECT_EQ(ReadWithLibpcap(path), (std::vector<Frame>{{5, 1, "z"}}));
  std::remove(path.c_str());
}

TEST(PcapngWriter, TsharkAndCapinfosReadTheFileWhenInstalled) {
  const std::vector<Frame> frames = MakeFrames(25);
  const std::string path = TempPath("tools.pcapng");
  auto writer = Writer::Create(path, Format::kPcapng, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_EQ((*writer)->WriteRecords(Blob(frames)).value_or(0), frames.size());
  ASSERT_TRUE((*writer)->Close(TestStatistics()).ok());

  if (OnPath("tshark")) {
    int exit_status = 0;
    const std::string out =
        RunCommand(absl::StrCat("tshark -r '", path, "' -T fields -e frame.len 2>/dev/null"),
            &exit_status);
    EXPECT_EQ(exit_status, 0) << out;
    std::vector<std::string> lengths = absl::StrSplit(out, '\n', absl::SkipEmpty());
    ASSERT_EQ(lengths.size(), frames.size()) << out;
    for (size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(lengths[i], absl::StrCat(frames[i].wire_length)) << i;
    }
  } else {
    std::cout << "[   NOTE   ] tshark is not on PATH: the tshark check was not run\n";
    RecordProperty("tshark", "not on PATH, not run");
  }
  if (OnPath("capinfos")) {
    int exit_status = 0;
    const std::string out =
        RunCommand(absl::StrCat("capinfos -M '", path, "' 2>/dev/null"), &exit_status);
    EXPECT_EQ(exit_status, 0) << out;
    EXPECT_THAT(out, ::testing::ContainsRegex(absl::StrCat("Number of packets:[ \t]*",
                                                          frames.size(), "\n")))
        << out;
    EXPECT_THAT(out, HasSubstr("Number of stat entries = 1")) << out;  // the ISB
    EXPECT_THAT(out, HasSubstr("Filter string = udp port 4789")) << out;
  } else {
    std::cout << "[   NOTE   ] capinfos is not on PATH: the capinfos check was not run\n";
    RecordProperty("capinfos", "not on PATH, not run");
  }
  std::remove(path.c_str());
}

// ---------------------------------------------------------------------------------------
// File descriptors

// Reads the read end of a pipe until EOF on another thread.
class PipeReader {
 public:
  explicit PipeReader(int fd) : thread_([this, fd] {
    char chunk[65536];
    ssize_t n = 0;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) bytes_.append(chunk, static_cast<size_t>(n));
    close(fd);
  }) {}
  std::string Join() {
    thread_.join();
    return bytes_;
  }

 private:
  std::string bytes_;
  std::thread thread_;
};

TEST(WriterFromFd, PcapThroughAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  PipeReader reader(fds[0]);
  const std::vector<Frame> frames = MakeFrames(200);  // more than a pipe buffer holds
  auto writer = Writer::FromFd(fds[1], "the pipe", Format::kPcap, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_EQ((*writer)->WriteRecords(Blob(frames)).value_or(0), frames.size());
  ASSERT_TRUE((*writer)->Close(TestStatistics()).ok());  // closes fds[1]: the reader sees EOF
  EXPECT_TRUE(reader.Join() == PcapFileHeader(9000) + Blob(frames));
}

TEST(WriterFromFd, PcapngThroughAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  PipeReader reader(fds[0]);
  const std::vector<Frame> frames = MakeFrames(10);
  auto writer = Writer::FromFd(fds[1], "the pipe", Format::kPcapng, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_EQ((*writer)->WriteRecords(Blob(frames)).value_or(0), frames.size());
  ASSERT_TRUE((*writer)->Close(TestStatistics()).ok());
  const std::vector<Block> blocks = WalkPcapng(reader.Join());
  ASSERT_EQ(blocks.size(), frames.size() + 3);
  EXPECT_EQ(blocks.back().type, 5u);
  EXPECT_EQ(Option(blocks.back(), 8), U64(955));
  EXPECT_EQ(Option(blocks[1], 2), "vethB");
}

TEST(WriterFromFd, ReaderGoneIsUnavailableWithTheReason) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGPIPE, &ignore, &previous), 0);
  auto writer = Writer::FromFd(fds[1], "the pipe", Format::kPcap, TestInterface());
  ASSERT_TRUE(writer.ok()) << writer.status();  // the header is only buffered
  ASSERT_TRUE((*writer)->Write(1, 1, "a").ok());
  absl::Status flushed = (*writer)->Flush();
  EXPECT_EQ(flushed.code(), absl::StatusCode::kUnavailable) << flushed;
  EXPECT_THAT(flushed.message(), HasSubstr("the pipe"));
  EXPECT_THAT(flushed.message(), HasSubstr(std::strerror(EPIPE)));
  EXPECT_EQ((*writer)->Write(2, 1, "b"), flushed);  // sticky
  EXPECT_EQ((*writer)->Close(Statistics{}), flushed);
  sigaction(SIGPIPE, &previous, nullptr);
}

}  // namespace
}  // namespace pktpool::capture_file
