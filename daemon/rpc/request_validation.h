// The checks on the API's requests that need no binding: the one place the service looks
// at what a client asks before it touches a binding or a pool. Pure functions (no gRPC
// server types, no I/O; thread-safe): every refusal is InvalidArgument with a message that
// says what to change, and no message echoes more than a bounded part of the request
// (gRPC carries it in trailers of at most 8 KiB).
#ifndef PKTPOOL_DAEMON_RPC_REQUEST_VALIDATION_H_
#define PKTPOOL_DAEMON_RPC_REQUEST_VALIDATION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/capture/frame_filter.h"
#include "daemon/capture/send_schedule.h"
#include "google/protobuf/duration.pb.h"
#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::rpc {

// A Linux interface name has at most IFNAMSIZ - 1 bytes.
inline constexpr size_t kMaxInterfaceNameLength = 15;
// Longest Capture filter accepted (tcpdump expressions are far shorter).
inline constexpr size_t kMaxFilterLength = 2048;
// WatchStats: the interval when none is given, and the shortest allowed.
inline constexpr absl::Duration kDefaultWatchInterval = absl::Seconds(1);
inline constexpr absl::Duration kMinWatchInterval = absl::Milliseconds(10);

// google.protobuf.Duration as absl::Duration, exact; saturates at +-infinity (no overflow).
absl::Duration DurationFromProto(const google::protobuf::Duration& duration);

// The interface a lookup names (Unbind, GetStats, ListPools, SendFrames, Capture): at
// most 15 bytes, since no longer name can be bound (and NOT_FOUND would echo it whole).
// Empty passes: it means every binding, or finds none.
absl::Status ValidateInterfaceSelector(const std::string& interface);

// Bind: the interface is a Linux interface name (1 to 15 bytes; no '/', ':', whitespace
// or NUL; not "." or ".."), and options.pcap_timeout, when set, is 0 to 10 s. The other
// options are Binding::Open's to check.
absl::Status ValidateBind(const v1::BindRequest& request);

// WatchStats: the interface selector, and the update interval (default 1 s), at least
// 10 ms. Returns the interval.
absl::StatusOr<absl::Duration> ValidateWatchStats(const v1::WatchStatsRequest& request);

// TunePool: the interface selector, and a named pool (one of the four POOL_NAME_ values).
// The sizes are the pools' to judge (Binding::TunePool; over 0xFFFF: RESOURCE_EXHAUSTED).
absl::Status ValidateTunePool(const v1::TunePoolRequest& request);

// The timing a SendFrames request asks for (multiplier 0 means 1). Not validated.
capture::SendPacing SendPacingOf(const v1::SendFramesRequest& request);

// SendFrames and each StreamSendFrames message, once the binding (its snaplen) is known:
// `frames` or `pcap_records` (whole records, caplen <= orig_len), not both; at most
// `max_frames_per_batch` frames, each 1 to `snaplen` bytes; offsets_ns empty or one per
// frame, none negative; the timing valid (capture::ValidatePacing: one of
// frames_per_second, megabits_per_second and offsets_ns, each in range); duration not
// negative. When valid and `frames` is not null, sets *frames to views of the frames
// into `request` (valid while it lives). The caller checks the selector before the lookup.
absl::Status ValidateSendFrames(const v1::SendFramesRequest& request,
                                uint32_t max_frames_per_batch, uint32_t snaplen,
                                std::vector<std::span<const uint8_t>>* frames = nullptr);

// Capture, once the binding is known: a known CaptureFormat, and the filter, at most 2048
// bytes of tcpdump syntax (no NUL or other control bytes but tab and newlines), compiled. Returns the compiled filter,
// or null when the request has none. The caller checks the selector before the lookup.
absl::StatusOr<std::unique_ptr<capture::FrameFilter>> ValidateCapture(
    const v1::CaptureRequest& request);

}  // namespace pktpool::rpc

#endif  // PKTPOOL_DAEMON_RPC_REQUEST_VALIDATION_H_
