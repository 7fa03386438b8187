// FrameFilter: a compiled BPF expression applied to received frames after capture (per
// subscriber), so one binding can serve streams with different filters.
#ifndef PKTPOOL_DAEMON_CAPTURE_FRAME_FILTER_H_
#define PKTPOOL_DAEMON_CAPTURE_FRAME_FILTER_H_

#include <pcap/pcap.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/capture/rx_frame.h"

namespace pktpool::capture {

// Immutable after Compile; Matches is thread-compatible (one caller at a time).
class FrameFilter {
 public:
  // Compiles `expression` (tcpdump syntax) for Ethernet frames. InvalidArgument with
  // libpcap's reason when it does not compile.
  static absl::StatusOr<std::unique_ptr<FrameFilter>> Compile(const std::string& expression);
  ~FrameFilter();
  FrameFilter(const FrameFilter&) = delete;
  FrameFilter& operator=(const FrameFilter&) = delete;

  // True when the frame passes the filter.
  bool Matches(const RxFrame& frame);

 private:
  FrameFilter() = default;
  bpf_program program_{};
  std::vector<uint8_t> joined_;  // a chained frame made contiguous for the filter
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_FRAME_FILTER_H_
