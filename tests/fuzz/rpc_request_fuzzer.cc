// rpc_request_fuzzer: the request checks of every RPC (daemon/rpc/request_validation.h),
// in the order the service runs them, on fuzzed bytes decoded as each request type, with
// fuzzed limits. Lookups run against an empty BindingTable (no interface is touched).
//
// Input: 4 bytes max_frames_per_batch, 4 bytes snaplen (little-endian), then the bytes
// every request type is parsed from (ParseFromArray; a type that does not parse is
// skipped, as gRPC would refuse it before the service).
//
// Checked: a refusal is a canonical error (INVALID_ARGUMENT, or NOT_FOUND from a lookup)
// with a message, mapped by ToGrpcStatus to the same code (never OK, UNKNOWN or INTERNAL)
// and message, small enough for gRPC's trailers; an acceptance agrees with the API's
// rules computed here independently (exact durations, frame sizes, filter bytes).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/rpc/binding_table.h"
#include "daemon/rpc/proto_convert.h"
#include "daemon/rpc/request_validation.h"
#include "daemon/rpc/stats_snapshot.h"
#include "daemon/rpc/status_mapping.h"
#include "google/protobuf/stubs/logging.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::rpc {
namespace {

// gRPC's default limit on received metadata is 8 KiB; the status message travels
// percent-encoded in the trailers, with room left for the other headers.
constexpr size_t kMaxEncodedMessageBytes = 7 * 1024;

[[noreturn]] void Fail(const char* rpc, const std::string& what) {
  std::fprintf(stderr, "rpc_request_fuzzer: %s: %s\n", rpc, what.c_str());
  std::abort();
}

// The size of `message` as grpc-message carries it (percent-encoding).
size_t EncodedSize(absl::string_view message) {
  size_t size = 0;
  for (char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    size += (byte < 0x20 || byte > 0x7E || byte == '%') ? 3 : 1;
  }
  return size;
}

// Checks a refusal: a canonical code among `allowed`, a message, and its gRPC mapping.
void CheckRefusal(const char* rpc, const absl::Status& status,
                  std::initializer_list<absl::StatusCode> allowed) {
  if (status.ok()) Fail(rpc, "CheckRefusal of OK");
  bool expected_code = false;
  for (absl::StatusCode code : allowed) expected_code |= status.code() == code;
  if (!expected_code) Fail(rpc, "unexpected code: " + status.ToString());
  if (status.message().empty()) Fail(rpc, "a refusal without a message");
  if (EncodedSize(status.message()) > kMaxEncodedMessageBytes) {
    Fail(rpc, "a message of " + std::to_string(EncodedSize(status.message())) +
                  " bytes (encoded) does not fit gRPC's trailers");
  }
  const grpc::Status mapped = ToGrpcStatus(status);
  if (mapped.ok() || mapped.error_code() == grpc::StatusCode::UNKNOWN ||
      mapped.error_code() == grpc::StatusCode::INTERNAL) {
    Fail(rpc, "maps to gRPC code " + std::to_string(mapped.error_code()));
  }
  if (static_cast<int>(mapped.error_code()) != static_cast<int>(status.code()) ||
      mapped.error_message() != status.message()) {
    Fail(rpc, "ToGrpcStatus changed the code or the message: " + status.ToString());
  }
}

// An interface lookup on the empty table: NOT_FOUND for a name, OK for "" where it means
// every binding.
void CheckLookup(const char* rpc, const BindingTable& table, const std::string& interface,
                 bool empty_means_all) {
  const absl::Status selector = ValidateInterfaceSelector(interface);
  if (!selector.ok()) {
    CheckRefusal(rpc, selector, {absl::StatusCode::kInvalidArgument});
    if (interface.size() <= kMaxInterfaceNameLength) Fail(rpc, "refused a short name");
    return;
  }
  if (interface.size() > kMaxInterfaceNameLength) Fail(rpc, "accepted a name over 15 bytes");
  const absl::Status found = empty_means_all ? table.Select(interface).status()
                                             : table.Get(interface).status();
  if (interface.empty() && empty_means_all) {
    if (!found.ok()) Fail(rpc, "an empty selector on an empty table: " + found.ToString());
    return;
  }
  if (found.ok()) Fail(rpc, "found a binding in an empty table");
  CheckRefusal(rpc, found, {absl::StatusCode::kNotFound});
}

// The exact value of a google.protobuf.Duration, without any overflow.
absl::int128 ExactNanos(const google::protobuf::Duration& d) {
  return absl::int128(d.seconds()) * 1000000000 + d.nanos();
}

// DurationFromProto must be exact (saturating only beyond absl's range).
void CheckDuration(const char* rpc, const google::protobuf::Duration& d) {
  const absl::Duration got = DurationFromProto(d);
  const absl::Duration expected = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (got != expected) {
    Fail(rpc, "DurationFromProto({" + std::to_string(d.seconds()) + "s, " +
                  std::to_string(d.nanos()) + "ns}) is " + absl::FormatDuration(got) +
                  ", not " + absl::FormatDuration(expected));
  }
}

bool IsLinuxInterfaceName(const std::string& name) {
  if (name.empty() || name.size() > kMaxInterfaceNameLength || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    if (c == '/' || c == ':' || c == '\0' || c == ' ' || (c >= '\t' && c <= '\r')) return false;
  }
  return true;
}

void CheckBind(const v1::BindRequest& request) {
  const absl::Status valid = ValidateBind(request);
  const v1::BindingOptions& options = request.options();
  if (!valid.ok()) {
    CheckRefusal("Bind", valid, {absl::StatusCode::kInvalidArgument});
    return;
  }
  if (!IsLinuxInterfaceName(request.interface())) Fail("Bind", "accepted a bad interface name");
  if (options.has_pcap_timeout()) {
    CheckDuration("Bind", options.pcap_timeout());
    const absl::int128 nanos = ExactNanos(options.pcap_timeout());
    if (nanos < 0 || nanos > absl::int128(10) * 1000000000) {
      Fail("Bind", "accepted a pcap_timeout outside 0 to 10 s");
    }
    // What the binding is opened with is what was asked.
    const capture::BindingOptions converted = ToBindingOptions(options);
    if (absl::ToInt64Nanoseconds(converted.pcap_timeout) != static_cast<int64_t>(nanos)) {
      Fail("Bind", "ToBindingOptions changed pcap_timeout to " +
                       absl::FormatDuration(converted.pcap_timeout));
    }
  }
}

void CheckWatchStats(const BindingTable& table, const v1::WatchStatsRequest& request) {
  const absl::StatusOr<absl::Duration> interval = ValidateWatchStats(request);
  absl::int128 nanos = 1000000000;  // the default, 1 s
  if (request.has_interval()) {
    CheckDuration("WatchStats", request.interval());
    nanos = ExactNanos(request.interval());
  }
  const bool allowed = nanos >= 10000000;
  if (!interval.ok()) {
    CheckRefusal("WatchStats", interval.status(), {absl::StatusCode::kInvalidArgument});
    if (allowed && request.interface().size() <= kMaxInterfaceNameLength) {
      Fail("WatchStats", "refused an interval of at least 10 ms: " + interval.status().ToString());
    }
    return;
  }
  if (!allowed) Fail("WatchStats", "accepted an interval under 10 ms");
  if (request.interface().size() > kMaxInterfaceNameLength) {
    Fail("WatchStats", "accepted a name over 15 bytes");
  }
  const absl::Duration expected = request.has_interval()
                                      ? absl::Seconds(request.interval().seconds()) +
                                            absl::Nanoseconds(request.interval().nanos())
                                      : kDefaultWatchInterval;
  if (*interval != expected) Fail("WatchStats", "the interval is not the one asked for");
  CheckLookup("WatchStats", table, request.interface(), /*empty_means_all=*/true);
}

void CheckTunePool(const BindingTable& table, const v1::TunePoolRequest& request) {
  const absl::Status valid = ValidateTunePool(request);
  const bool named = request.pool() >= v1::POOL_NAME_RX_PACKETS &&
                     request.pool() <= v1::POOL_NAME_TX_BUFFERS;
  if (!valid.ok()) {
    CheckRefusal("TunePool", valid, {absl::StatusCode::kInvalidArgument});
    if (named && request.interface().size() <= kMaxInterfaceNameLength) {
      Fail("TunePool", "refused a named pool: " + valid.ToString());
    }
    return;
  }
  if (!named) Fail("TunePool", "accepted an unnamed pool");
  CheckLookup("TunePool", table, request.interface(), /*empty_means_all=*/false);
}

void CheckSendFrames(const BindingTable& table, const v1::SendFramesRequest& request,
                     uint32_t max_frames_per_batch, uint32_t snaplen) {
  CheckLookup("SendFrames", table, request.interface(), /*empty_means_all=*/false);
  if (request.has_wait_for_resources()) {
    CheckDuration("SendFrames", request.wait_for_resources());
  }
  if (request.has_duration()) CheckDuration("SendFrames", request.duration());
  // The body as if the binding were found with this snaplen.
  std::vector<std::span<const uint8_t>> views;
  const absl::Status valid = ValidateSendFrames(request, max_frames_per_batch, snaplen, &views);
  // The frames' sizes, from `frames` or from a walk of pcap_records of the oracle's own:
  // 16-byte little-endian headers, ts_frac < 1e9, caplen <= orig_len, whole records.
  std::vector<size_t> sizes;
  bool allowed = request.frames_size() == 0 || request.pcap_records().empty();
  for (const std::string& frame : request.frames()) sizes.push_back(frame.size());
  const std::string& blob = request.pcap_records();
  for (size_t at = 0; allowed && at < blob.size();) {
    auto le32 = [&](size_t offset) {
      uint32_t value = 0;
      for (int b = 3; b >= 0; --b) value = value << 8 | static_cast<uint8_t>(blob[offset + b]);
      return value;
    };
    if (blob.size() - at < 16) {
      allowed = false;
      break;
    }
    const uint32_t caplen = le32(at + 8);
    allowed &= le32(at + 4) < 1'000'000'000 && caplen <= le32(at + 12) &&
               caplen <= blob.size() - at - 16;
    sizes.push_back(caplen);
    at += 16 + static_cast<size_t>(caplen);
  }
  allowed &= sizes.size() <= max_frames_per_batch;
  for (size_t size : sizes) allowed &= size > 0 && size <= snaplen;
  // Timing: offsets one per frame and not negative; at most one of a frame rate, a bit
  // rate and offsets, each (and the multiplier) finite and in range; a multiplier other
  // than 1 only with offsets, max_burst only when timed; no negative duration.
  const bool recorded = request.offsets_ns_size() > 0;
  allowed &= !recorded || static_cast<size_t>(request.offsets_ns_size()) == sizes.size();
  for (int64_t offset : request.offsets_ns()) allowed &= offset >= 0;
  auto rate_ok = [](double rate, double low, double high) {
    return std::isfinite(rate) && (rate == 0 || (rate >= low && rate <= high));
  };
  const double fps = request.frames_per_second(), mbps = request.megabits_per_second();
  const double multiplier = request.multiplier() == 0 ? 1 : request.multiplier();
  allowed &= rate_ok(fps, capture::kMinFramesPerSecond, capture::kMaxFramesPerSecond) &&
             rate_ok(mbps, capture::kMinMegabitsPerSecond, capture::kMaxMegabitsPerSecond);
  allowed &= (fps > 0) + (mbps > 0) + recorded <= 1;
  allowed &= std::isfinite(multiplier) && multiplier >= capture::kMinMultiplier &&
             multiplier <= capture::kMaxMultiplier && (multiplier == 1 || recorded);
  allowed &= request.max_burst() == 0 || fps > 0 || mbps > 0 || recorded;
  allowed &= !request.has_duration() ||
             absl::int128(request.duration().seconds()) * 1'000'000'000 +
                     request.duration().nanos() >= 0;
  if (!valid.ok()) {
    CheckRefusal("SendFrames", valid, {absl::StatusCode::kInvalidArgument});
    if (allowed) Fail("SendFrames", "refused a valid batch: " + valid.ToString());
    return;
  }
  if (!allowed) Fail("SendFrames", "accepted an invalid batch");
  if (views.size() != sizes.size()) Fail("SendFrames", "gave a different number of frames");
  for (size_t i = 0; i < views.size() && i < sizes.size(); ++i) {
    if (views[i].size() != sizes[i]) Fail("SendFrames", "gave a frame of a different size");
  }
}

void CheckCapture(const BindingTable& table, const v1::CaptureRequest& request) {
  CheckLookup("Capture", table, request.interface(), /*empty_means_all=*/false);
  // The body as if the binding were found.
  auto filter = ValidateCapture(request);
  if (!filter.ok()) {
    CheckRefusal("Capture", filter.status(), {absl::StatusCode::kInvalidArgument});
    if (request.filter().empty() && v1::CaptureFormat_IsValid(request.format())) {
      Fail("Capture", "refused a request without a filter and with a known format");
    }
    return;
  }
  if (!v1::CaptureFormat_IsValid(request.format())) Fail("Capture", "accepted an unknown format");
  const std::string& text = request.filter();
  if (text.empty() != (*filter == nullptr)) Fail("Capture", "a filter without a program");
  // What is compiled is what was asked: no NUL cuts it short.
  if (text.find('\0') != std::string::npos) Fail("Capture", "accepted a filter with a NUL");
  if (text.size() > kMaxFilterLength) Fail("Capture", "accepted a filter over the limit");
}

// Decodes the same bytes as each request type and checks it.
void CheckAll(const uint8_t* data, size_t size, uint32_t max_frames_per_batch,
              uint32_t snaplen) {
  const BindingTable table;
  const int length = static_cast<int>(size);
  if (v1::BindRequest request; request.ParseFromArray(data, length)) CheckBind(request);
  if (v1::UnbindRequest request; request.ParseFromArray(data, length)) {
    CheckLookup("Unbind", table, request.interface(), /*empty_means_all=*/false);
    if (ValidateInterfaceSelector(request.interface()).ok()) {
      BindingTable empty;
      const absl::Status unbound = empty.Unbind(request.interface());
      if (unbound.ok()) Fail("Unbind", "unbound a binding of an empty table");
      CheckRefusal("Unbind", unbound, {absl::StatusCode::kNotFound});
    }
  }
  if (v1::GetStatsRequest request; request.ParseFromArray(data, length)) {
    CheckLookup("GetStats", table, request.interface(), /*empty_means_all=*/true);
    if (ValidateInterfaceSelector(request.interface()).ok()) {
      auto stats = SnapshotStats(table, request.interface());
      if (request.interface().empty()) {
        if (!stats.ok() || stats->bindings_size() != 0) Fail("GetStats", "empty table stats");
      } else if (stats.ok()) {
        Fail("GetStats", "stats of a binding of an empty table");
      } else {
        CheckRefusal("GetStats", stats.status(), {absl::StatusCode::kNotFound});
      }
    }
  }
  if (v1::ListPoolsRequest request; request.ParseFromArray(data, length)) {
    CheckLookup("ListPools", table, request.interface(), /*empty_means_all=*/true);
  }
  if (v1::WatchStatsRequest request; request.ParseFromArray(data, length)) {
    CheckWatchStats(table, request);
  }
  if (v1::TunePoolRequest request; request.ParseFromArray(data, length)) {
    CheckTunePool(table, request);
  }
  if (v1::SendFramesRequest request; request.ParseFromArray(data, length)) {
    CheckSendFrames(table, request, max_frames_per_batch, snaplen);
  }
  if (v1::CaptureRequest request; request.ParseFromArray(data, length)) {
    CheckCapture(table, request);
  }
}

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace
}  // namespace pktpool::rpc

// Quiet: protobuf logs every string field with invalid UTF-8 (such a request is skipped).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  pktpool::rpc::CheckAll(data + 8, size - 8, pktpool::rpc::Le32(data),
                         pktpool::rpc::Le32(data + 4));
  return 0;
}
