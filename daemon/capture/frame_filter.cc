#include "daemon/capture/frame_filter.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "daemon/capture/binding_options.h"

namespace pktpool::capture {

absl::StatusOr<std::unique_ptr<FrameFilter>> FrameFilter::Compile(const std::string& expression) {
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, static_cast<int>(kDefaultSnaplen));
  if (dead == nullptr) return absl::InternalError("pcap_open_dead failed");
  std::unique_ptr<FrameFilter> filter(new FrameFilter());
  const int compiled =
      pcap_compile(dead, &filter->program_, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN);
  std::string reason = compiled != 0 ? pcap_geterr(dead) : "";
  pcap_close(dead);
  if (compiled != 0) {
    filter->program_ = {};
    return absl::InvalidArgumentError(
        absl::StrCat("BPF filter '", expression, "' does not compile: ", reason));
  }
  return filter;
}

FrameFilter::~FrameFilter() {
  if (program_.bf_insns != nullptr) pcap_freecode(&program_);
}

bool FrameFilter::Matches(const RxFrame& frame) {
  const pool::Buffer* first = frame.packet().first_buffer();
  const uint32_t length = frame.captured_length();
  const uint8_t* data = nullptr;
  if (first != nullptr && first->length() == length) {
    data = first->address();
  } else {
    joined_ = frame.Bytes();
    data = joined_.data();
  }
  pcap_pkthdr header{};
  header.caplen = length;
  header.len = frame.wire_length();
  return pcap_offline_filter(&program_, &header, data) != 0;
}

}  // namespace pktpool::capture
