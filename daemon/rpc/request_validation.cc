#include "daemon/rpc/request_validation.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/pcap_records.h"

namespace pktpool::rpc {

absl::Duration DurationFromProto(const google::protobuf::Duration& duration) {
  // Not TimeUtil::DurationToNanoseconds: seconds * 1e9 overflows int64 past 292 years.
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

absl::Status ValidateInterfaceSelector(const std::string& interface) {
  if (interface.size() <= kMaxInterfaceNameLength) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "interface name of ", interface.size(), " bytes is longer than ", kMaxInterfaceNameLength,
      ", so no binding has it; use the name `ip link` shows"));
}

absl::Status ValidateBind(const v1::BindRequest& request) {
  const std::string& name = request.interface();
  if (name.empty()) {
    return absl::InvalidArgumentError("interface is missing; name the interface to bind");
  }
  if (absl::Status selector = ValidateInterfaceSelector(name); !selector.ok()) return selector;
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" is not an interface name; use the name `ip link` shows"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '/' || c == ':' || c == '\0' || absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("interface name \"", absl::CHexEscape(name), "\" has '",
                       absl::CHexEscape(name.substr(i, 1)), "' at position ", i,
                       "; interface names have no '/', ':', whitespace or NUL"));
    }
  }
  const v1::BindingOptions& options = request.options();
  if (options.has_pcap_timeout()) {
    const absl::Duration timeout = DurationFromProto(options.pcap_timeout());
    if (timeout < absl::ZeroDuration() || timeout > absl::Seconds(10)) {
      return absl::InvalidArgumentError("pcap_timeout must be 0 to 10 s");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ValidateWatchStats(const v1::WatchStatsRequest& request) {
  if (absl::Status selector = ValidateInterfaceSelector(request.interface()); !selector.ok()) {
    return selector;
  }
  absl::Duration interval = kDefaultWatchInterval;
  if (request.has_interval()) interval = DurationFromProto(request.interval());
  if (interval < kMinWatchInterval) {
    return absl::InvalidArgumentError("interval must be at least 10 ms");
  }
  return interval;
}

absl::Status ValidateTunePool(const v1::TunePoolRequest& request) {
  if (absl::Status selector = ValidateInterfaceSelector(request.interface()); !selector.ok()) {
    return selector;
  }
  switch (request.pool()) {
    case v1::POOL_NAME_RX_PACKETS:
    case v1::POOL_NAME_RX_BUFFERS:
    case v1::POOL_NAME_TX_PACKETS:
    case v1::POOL_NAME_TX_BUFFERS:
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          "pool must be POOL_NAME_RX_PACKETS, POOL_NAME_RX_BUFFERS, "
          "POOL_NAME_TX_PACKETS or POOL_NAME_TX_BUFFERS");
  }
}

capture::SendPacing SendPacingOf(const v1::SendFramesRequest& request) {
  return {.frames_per_second = request.frames_per_second(),
          .megabits_per_second = request.megabits_per_second(),
          .recorded = request.offsets_ns_size() > 0,
          .multiplier = request.multiplier() == 0 ? 1 : request.multiplier(),
          .max_burst = request.max_burst()};
}

absl::Status ValidateSendFrames(const v1::SendFramesRequest& request,
                                uint32_t max_frames_per_batch, uint32_t snaplen,
                                std::vector<std::span<const uint8_t>>* frames) {
  std::vector<std::span<const uint8_t>> views;
  const std::string& records = request.pcap_records();
  if (!records.empty() && request.frames_size() > 0) {
    return absl::InvalidArgumentError(
        "a message carries its frames in frames or in pcap_records, not both; send them in "
        "separate messages");
  }
  if (!records.empty()) {
    // One walk per message: it checks every header and collects the views.
    absl::Status walked = records::ForEachRecord(records, [&](const records::RecordView& record) {
      views.emplace_back(reinterpret_cast<const uint8_t*>(record.data.data()),
                         record.data.size());
    });
    if (!walked.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pcap_records: ", walked.message(), "; nothing was sent"));
    }
    if (views.size() > max_frames_per_batch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pcap_records holds ", views.size(), " frames, over the limit of ",
          max_frames_per_batch, " (limits.max_frames_per_batch); split it"));
    }
  } else {
    if (static_cast<uint32_t>(request.frames_size()) > max_frames_per_batch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "batch of ", request.frames_size(), " frames exceeds the limit of ",
          max_frames_per_batch, " (limits.max_frames_per_batch); split it"));
    }
    views.reserve(static_cast<size_t>(request.frames_size()));
    for (const std::string& frame : request.frames()) {
      views.emplace_back(reinterpret_cast<const uint8_t*>(frame.data()), frame.size());
    }
  }
  if (request.offsets_ns_size() != 0 &&
      static_cast<size_t>(request.offsets_ns_size()) != views.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("offsets_ns has ", request.offsets_ns_size(), " values for ",
                     views.size(), " frames; give one per frame, or none"));
  }
  for (int i = 0; i < request.offsets_ns_size(); ++i) {
    if (request.offsets_ns(i) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("offsets_ns[", i, "] is ", request.offsets_ns(i),
                       "; offsets count from the timeline's start and cannot be negative"));
    }
  }
  if (absl::Status pacing = capture::ValidatePacing(SendPacingOf(request)); !pacing.ok()) {
    return pacing;
  }
  if (request.has_duration() && DurationFromProto(request.duration()) < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration is negative; use a positive duration, or none");
  }
  for (size_t i = 0; i < views.size(); ++i) {
    if (views[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("frame ", i, " is empty; nothing was sent"));
    }
    if (views[i].size() > snaplen) {
      return absl::InvalidArgumentError(absl::StrCat("frame ", i, " is ", views[i].size(),
                                                     " bytes, over the binding's snaplen of ",
                                                     snaplen, "; nothing was sent"));
    }
  }
  if (frames != nullptr) *frames = std::move(views);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<capture::FrameFilter>> ValidateCapture(
    const v1::CaptureRequest& request) {
  if (!v1::CaptureFormat_IsValid(request.format())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "format ", request.format(),
        " is not a CaptureFormat; use CAPTURE_FORMAT_FRAMES or CAPTURE_FORMAT_PCAP_RECORDS"));
  }
  const std::string& filter = request.filter();
  if (filter.empty()) return std::unique_ptr<capture::FrameFilter>();
  if (filter.size() > kMaxFilterLength) {
    return absl::InvalidArgumentError(absl::StrCat("filter of ", filter.size(),
                                                   " bytes is longer than ", kMaxFilterLength,
                                                   "; use a shorter BPF expression"));
  }
  // libpcap reads a C string: a NUL would cut the expression short, and other control
  // bytes have no place in tcpdump syntax (and would be echoed in the error).
  for (size_t i = 0; i < filter.size(); ++i) {
    const auto byte = static_cast<unsigned char>(filter[i]);
    if ((byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') || byte == 0x7F) {
      return absl::InvalidArgumentError(absl::StrCat(
          "filter has the control byte 0x", absl::Hex(byte, absl::kZeroPad2), " at position ", i,
          "; write the BPF expression in tcpdump syntax"));
    }
  }
  return capture::FrameFilter::Compile(filter);
}

}  // namespace pktpool::rpc
