// One test per request check of daemon/rpc/request_validation.h, named after the rule;
// the ones marked "fuzz" are the regressions of what rpc_request_fuzzer found.
#include "daemon/rpc/request_validation.h"

#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "daemon/rpc/binding_table.h"
#include "daemon/rpc/proto_convert.h"
#include "daemon/rpc/status_mapping.h"
#include "proto/pcap_records.h"

namespace pktpool::rpc {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Duration ProtoDuration(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Duration duration;
  duration.set_seconds(seconds);
  duration.set_nanos(nanos);
  return duration;
}

void ExpectInvalid(const absl::Status& status, const std::string& says) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(says));
  EXPECT_EQ(ToGrpcStatus(status).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// ---- durations ----------------------------------------------------------------------

TEST(DurationFromProto, IsExactWithinRange) {
  EXPECT_EQ(DurationFromProto(ProtoDuration(2, 500000000)), absl::Milliseconds(2500));
  EXPECT_EQ(DurationFromProto(ProtoDuration(-1, -5)), -absl::Seconds(1) - absl::Nanoseconds(5));
}

// fuzz: TimeUtil::DurationToNanoseconds wrapped seconds * 1e9 past 292 years.
TEST(DurationFromProto, DoesNotWrapPast292Years) {
  const absl::Duration long_ago = DurationFromProto(ProtoDuration(545357767376895));
  EXPECT_EQ(long_ago, absl::Seconds(545357767376895));
  EXPECT_GT(long_ago, absl::ZeroDuration());
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(DurationFromProto(ProtoDuration(kMax, 999999999)),
            absl::Seconds(kMax) + absl::Nanoseconds(999999999));
  EXPECT_LT(DurationFromProto(ProtoDuration(std::numeric_limits<int64_t>::min(), -999999999)),
            absl::ZeroDuration());
}

// ---- interface names ----------------------------------------------------------------

TEST(ValidateInterfaceSelector, AcceptsEmptyAndNamesUpTo15Bytes) {
  EXPECT_TRUE(ValidateInterfaceSelector("").ok());
  EXPECT_TRUE(ValidateInterfaceSelector("veth0").ok());
  EXPECT_TRUE(ValidateInterfaceSelector(std::string(15, 'a')).ok());
}

// fuzz: NOT_FOUND echoed any name whole, up to the 16 MiB message limit.
TEST(ValidateInterfaceSelector, RefusesLongerNamesWithoutEchoingThem) {
  const std::string name(100000, 'x');
  const absl::Status status = ValidateInterfaceSelector(name);
  ExpectInvalid(status, "100000 bytes is longer than 15");
  EXPECT_LT(status.message().size(), 200u);
}

TEST(ValidateBind, AcceptsAnInterfaceName) {
  v1::BindRequest request;
  request.set_interface("veth-a.10");
  EXPECT_TRUE(ValidateBind(request).ok());
}

TEST(ValidateBind, RefusesAMissingInterface) {
  ExpectInvalid(ValidateBind(v1::BindRequest()), "interface is missing");
}

TEST(ValidateBind, RefusesWhatLinuxRefusesInInterfaceNames) {
  for (const std::string& name :
       {std::string("a/b"), std::string("veth0:1"), std::string("a b"), std::string("a\nb"),
        std::string("veth0\0x", 7), std::string("."), std::string(".."), std::string(16, 'a')}) {
    v1::BindRequest request;
    request.set_interface(name);
    const absl::Status status = ValidateBind(request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
    // Printable: the name is escaped in the message.
    for (char c : status.message()) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << status;
  }
}

// fuzz: a pcap_timeout of 18446744074 s wrapped to 0.29 s in the conversion and was
// accepted; the client asked for 584 years.
TEST(ValidateBind, RefusesAPcapTimeoutOutside0To10Seconds) {
  v1::BindRequest request;
  request.set_interface("veth0");
  *request.mutable_options()->mutable_pcap_timeout() = ProtoDuration(18446744074);
  ExpectInvalid(ValidateBind(request), "pcap_timeout must be 0 to 10 s");
  *request.mutable_options()->mutable_pcap_timeout() = ProtoDuration(0, -1);
  ExpectInvalid(ValidateBind(request), "pcap_timeout must be 0 to 10 s");
  *request.mutable_options()->mutable_pcap_timeout() = ProtoDuration(10);
  EXPECT_TRUE(ValidateBind(request).ok());
  EXPECT_EQ(ToBindingOptions(request.options()).pcap_timeout, absl::Seconds(10));
}

// ---- WatchStats ----------------------------------------------------------------------

TEST(ValidateWatchStats, DefaultsToOneSecond) {
  EXPECT_EQ(*ValidateWatchStats(v1::WatchStatsRequest()), absl::Seconds(1));
}

TEST(ValidateWatchStats, RefusesIntervalsUnder10Milliseconds) {
  v1::WatchStatsRequest request;
  *request.mutable_interval() = ProtoDuration(0, 9999999);
  ExpectInvalid(ValidateWatchStats(request).status(), "interval must be at least 10 ms");
  *request.mutable_interval() = ProtoDuration(0, 10000000);
  EXPECT_EQ(*ValidateWatchStats(request), absl::Milliseconds(10));
}

// fuzz: an interval of 545357767376895 s wrapped negative and was refused as under 10 ms.
TEST(ValidateWatchStats, AcceptsAnIntervalOfMillionsOfYears) {
  v1::WatchStatsRequest request;
  *request.mutable_interval() = ProtoDuration(545357767376895);
  absl::StatusOr<absl::Duration> interval = ValidateWatchStats(request);
  ASSERT_TRUE(interval.ok()) << interval.status();
  EXPECT_EQ(*interval, absl::Seconds(545357767376895));
}

// ---- TunePool ------------------------------------------------------------------------

TEST(ValidateTunePool, RefusesAnUnnamedPool) {
  v1::TunePoolRequest request;
  request.set_interface("veth0");
  ExpectInvalid(ValidateTunePool(request), "pool must be POOL_NAME_RX_PACKETS");
  request.set_pool(static_cast<v1::PoolName>(9));
  ExpectInvalid(ValidateTunePool(request), "pool must be");
  request.set_pool(v1::POOL_NAME_TX_BUFFERS);
  EXPECT_TRUE(ValidateTunePool(request).ok());
}

// ---- SendFrames ----------------------------------------------------------------------

v1::SendFramesRequest Frames(std::initializer_list<size_t> sizes) {
  v1::SendFramesRequest request;
  request.set_interface("veth0");
  for (size_t size : sizes) request.add_frames(std::string(size, 'f'));
  return request;
}

// The same frames as pcap records (proto/pcap_records.h): byte i of frame k is 'a' + k.
v1::SendFramesRequest Records(std::initializer_list<size_t> sizes) {
  v1::SendFramesRequest request;
  request.set_interface("veth0");
  char fill = 'a';
  for (size_t size : sizes) {
    records::AppendRecord(request.mutable_pcap_records(), 0, static_cast<uint32_t>(size),
                          std::string(size, fill++));
  }
  return request;
}

TEST(ValidateSendFrames, PcapRecordsGiveViewsOfEachFrameInOrder) {
  const v1::SendFramesRequest request = Records({60, 1, 2048});
  std::vector<std::span<const uint8_t>> frames;
  ASSERT_TRUE(ValidateSendFrames(request, 3, 2048, &frames).ok());
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].size(), 60u);
  EXPECT_EQ(frames[1].size(), 1u);
  EXPECT_EQ(frames[2].size(), 2048u);
  EXPECT_EQ(frames[1][0], 'b');
  EXPECT_EQ(frames[2][2047], 'c');
  // The views point into the request: no copy.
  EXPECT_GE(reinterpret_cast<const char*>(frames[0].data()), request.pcap_records().data());
}

TEST(ValidateSendFrames, PcapRecordsFollowTheFrameRules) {
  ExpectInvalid(ValidateSendFrames(Records({60, 60, 60}), 2, 2048),
                "pcap_records holds 3 frames, over the limit of 2");
  ExpectInvalid(ValidateSendFrames(Records({60, 0}), 10, 2048), "frame 1 is empty");
  ExpectInvalid(ValidateSendFrames(Records({2049}), 10, 2048), "over the binding's snaplen");
  v1::SendFramesRequest offsets = Records({60, 60});
  offsets.add_offsets_ns(0);
  ExpectInvalid(ValidateSendFrames(offsets, 10, 2048), "offsets_ns has 1 values for 2 frames");
  offsets.add_offsets_ns(10);
  EXPECT_TRUE(ValidateSendFrames(offsets, 10, 2048).ok());
}

TEST(ValidateSendFrames, RefusesCutRecordsAndBothFramesAndRecords) {
  v1::SendFramesRequest cut = Records({60, 60});
  cut.mutable_pcap_records()->resize(cut.pcap_records().size() - 1);
  ExpectInvalid(ValidateSendFrames(cut, 10, 2048), "pcap_records: bad pcap record at byte");
  v1::SendFramesRequest both = Records({60});
  both.add_frames(std::string(60, 'f'));
  ExpectInvalid(ValidateSendFrames(both, 10, 2048), "in frames or in pcap_records, not both");
  std::vector<std::span<const uint8_t>> frames = {{}};
  EXPECT_FALSE(ValidateSendFrames(both, 10, 2048, &frames).ok());
  EXPECT_EQ(frames.size(), 1u) << "an invalid request leaves the output alone";
}

TEST(ValidateSendFrames, AcceptsFramesOf1ToSnaplenBytes) {
  EXPECT_TRUE(ValidateSendFrames(Frames({1, 64, 2048}), 3, 2048).ok());
  EXPECT_TRUE(ValidateSendFrames(Frames({}), 0, 64).ok());
}

TEST(ValidateSendFrames, RefusesBatchesOverTheLimit) {
  ExpectInvalid(ValidateSendFrames(Frames({60, 60, 60}), 2, 2048),
                "batch of 3 frames exceeds the limit of 2 (limits.max_frames_per_batch)");
}

TEST(ValidateSendFrames, RefusesEmptyAndOversizedFrames) {
  ExpectInvalid(ValidateSendFrames(Frames({60, 0}), 10, 2048), "frame 1 is empty");
  ExpectInvalid(ValidateSendFrames(Frames({2049}), 10, 2048),
                "frame 0 is 2049 bytes, over the binding's snaplen of 2048");
}

// fuzz: NaN, infinite and negative rates were taken as "as fast as possible".
TEST(ValidateSendFrames, RefusesRatesThatAreNotFiniteAndAtLeastZero) {
  for (double rate : {std::nan(""), -1.0, -std::numeric_limits<double>::infinity(),
                      std::numeric_limits<double>::infinity()}) {
    v1::SendFramesRequest request = Frames({60});
    request.set_frames_per_second(rate);
    ExpectInvalid(ValidateSendFrames(request, 10, 2048), "frames_per_second");
  }
  v1::SendFramesRequest paced = Frames({60});
  paced.set_frames_per_second(0.5);
  EXPECT_TRUE(ValidateSendFrames(paced, 10, 2048).ok());
}

TEST(ValidateSendFrames, OffsetsAreOnePerFrameAndNotNegative) {
  v1::SendFramesRequest recorded = Frames({60, 60, 60});
  for (int64_t offset : {0, 1000, 1000}) recorded.add_offsets_ns(offset);
  recorded.set_multiplier(2);
  EXPECT_TRUE(ValidateSendFrames(recorded, 10, 2048).ok());
  v1::SendFramesRequest short_of_one = Frames({60, 60, 60});
  short_of_one.add_offsets_ns(0);
  short_of_one.add_offsets_ns(5);
  ExpectInvalid(ValidateSendFrames(short_of_one, 10, 2048),
                "offsets_ns has 2 values for 3 frames; give one per frame, or none");
  v1::SendFramesRequest negative = Frames({60, 60});
  negative.add_offsets_ns(0);
  negative.add_offsets_ns(-1);
  ExpectInvalid(ValidateSendFrames(negative, 10, 2048), "offsets_ns[1] is -1");
}

TEST(ValidateSendFrames, TimingFieldsThatExcludeEachOtherAreNamed) {
  v1::SendFramesRequest both_rates = Frames({60});
  both_rates.set_frames_per_second(10);
  both_rates.set_megabits_per_second(10);
  ExpectInvalid(ValidateSendFrames(both_rates, 10, 2048),
                "frames_per_second and megabits_per_second exclude each other");
  v1::SendFramesRequest rate_and_offsets = Frames({60});
  rate_and_offsets.set_megabits_per_second(10);
  rate_and_offsets.add_offsets_ns(0);
  ExpectInvalid(ValidateSendFrames(rate_and_offsets, 10, 2048),
                "offsets_ns (recorded timing) and megabits_per_second exclude each other");
  v1::SendFramesRequest multiplier_alone = Frames({60});
  multiplier_alone.set_multiplier(3);
  ExpectInvalid(ValidateSendFrames(multiplier_alone, 10, 2048),
                "multiplier scales recorded timing: it needs offsets_ns");
  v1::SendFramesRequest burst_alone = Frames({60});
  burst_alone.set_max_burst(8);
  ExpectInvalid(ValidateSendFrames(burst_alone, 10, 2048), "max_burst bounds the catch-up");
  v1::SendFramesRequest too_fast = Frames({60});
  too_fast.set_megabits_per_second(1e9);
  ExpectInvalid(ValidateSendFrames(too_fast, 10, 2048), "megabits_per_second is 1e+09");
  v1::SendFramesRequest backwards = Frames({60});
  backwards.mutable_duration()->set_seconds(-1);
  ExpectInvalid(ValidateSendFrames(backwards, 10, 2048), "duration is negative");
}

// ---- Capture -------------------------------------------------------------------------

v1::CaptureRequest Filter(const std::string& filter) {
  v1::CaptureRequest request;
  request.set_interface("veth0");
  request.set_filter(filter);
  return request;
}

TEST(ValidateCapture, NoFilterGivesNoProgram) {
  auto filter = ValidateCapture(Filter(""));
  ASSERT_TRUE(filter.ok());
  EXPECT_EQ(*filter, nullptr);
}

TEST(ValidateCapture, CompilesTcpdumpSyntax) {
  auto filter = ValidateCapture(Filter("udp and\n\tdst port 9"));
  ASSERT_TRUE(filter.ok()) << filter.status();
  EXPECT_NE(*filter, nullptr);
}

TEST(ValidateCapture, RefusesAFormatTheApiDoesNotHave) {
  v1::CaptureRequest request;
  request.set_format(v1::CAPTURE_FORMAT_PCAP_RECORDS);
  EXPECT_TRUE(ValidateCapture(request).ok());
  request.set_format(static_cast<v1::CaptureFormat>(7));
  ExpectInvalid(ValidateCapture(request).status(), "is not a CaptureFormat");
}

TEST(ValidateCapture, RefusesWhatDoesNotCompile) {
  ExpectInvalid(ValidateCapture(Filter("((")).status(), "does not compile");
}

// fuzz: "udp\0garbage" compiled as "udp": libpcap reads a C string.
TEST(ValidateCapture, RefusesANulInsteadOfCuttingTheFilterShort) {
  const absl::Status status = ValidateCapture(Filter(std::string("udp\0 or tcp", 11))).status();
  ExpectInvalid(status, "control byte 0x00 at position 3");
}

TEST(ValidateCapture, RefusesOtherControlBytes) {
  ExpectInvalid(ValidateCapture(Filter("udp\x1b[2J")).status(), "control byte 0x1b");
}

// The message echoes the filter; a long one would not fit gRPC's 8 KiB of trailers.
TEST(ValidateCapture, RefusesFiltersOver2048Bytes) {
  std::string long_filter = "udp";
  while (long_filter.size() <= kMaxFilterLength) long_filter += " or udp";
  const absl::Status status = ValidateCapture(Filter(long_filter)).status();
  ExpectInvalid(status, "longer than 2048");
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("or udp")));
}

}  // namespace
}  // namespace pktpool::rpc
