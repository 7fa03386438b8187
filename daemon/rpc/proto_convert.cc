#include "daemon/rpc/proto_convert.h"

#include <string>

#include "daemon/rpc/request_validation.h"
#include "google/protobuf/util/time_util.h"

namespace pktpool::rpc {
namespace {

using google::protobuf::util::TimeUtil;

capture::PoolSizes ToPoolSizes(const v1::PoolSizes& in, const capture::PoolSizes& defaults) {
  capture::PoolSizes out = defaults;
  if (in.packet_descriptors() != 0) out.packet_descriptors = in.packet_descriptors();
  out.packet_overflow = in.packet_overflow();
  if (in.buffer_count() != 0) out.buffer_count = in.buffer_count();
  if (in.buffer_size() != 0) out.buffer_size = in.buffer_size();
  return out;
}

void FromPoolSizes(const capture::PoolSizes& in, v1::PoolSizes* out) {
  out->set_packet_descriptors(in.packet_descriptors);
  out->set_packet_overflow(in.packet_overflow);
  out->set_buffer_count(in.buffer_count);
  out->set_buffer_size(in.buffer_size);
}

v1::BindingState ToState(capture::BindingState state) {
  switch (state) {
    case capture::BindingState::kBinding: return v1::BINDING_STATE_BINDING;
    case capture::BindingState::kUp: return v1::BINDING_STATE_UP;
    case capture::BindingState::kDown: return v1::BINDING_STATE_DOWN;
    case capture::BindingState::kUnbinding: return v1::BINDING_STATE_UNBINDING;
  }
  return v1::BINDING_STATE_UNSPECIFIED;
}

void ToPoolStats(const pool::PoolStats& in, v1::PoolName name, uint32_t buffer_size,
                 v1::PoolStats* out) {
  out->set_name(name);
  out->set_tag(in.tag);
  out->set_kind(in.kind == pool::PoolKind::kPacket ? v1::POOL_KIND_PACKET : v1::POOL_KIND_BUFFER);
  out->set_generation(in.generation);
  out->set_draining(in.draining);
  out->set_descriptors(in.descriptors);
  out->set_overflow_limit(in.overflow_limit);
  out->set_in_use(in.in_use);
  out->set_overflow_in_use(in.overflow_in_use);
  out->set_free(in.free);
  out->set_high_watermark(in.high_watermark);
  out->set_allocations(in.allocations);
  out->set_resource_failures(in.resource_failures);
  out->set_frees(in.frees);
  out->set_overflow_allocations(in.overflow_allocations);
  out->set_reinitialize_reuses(in.reinitialize_reuses);
  out->set_memory_bytes(in.memory_bytes);
  out->set_buffer_size(buffer_size);
}

}  // namespace

v1::PoolName PoolNameOfTag(const std::string& tag) {
  if (tag == "RXPK") return v1::POOL_NAME_RX_PACKETS;
  if (tag == "RXBD") return v1::POOL_NAME_RX_BUFFERS;
  if (tag == "TXPK") return v1::POOL_NAME_TX_PACKETS;
  if (tag == "TXBD") return v1::POOL_NAME_TX_BUFFERS;
  return v1::POOL_NAME_UNSPECIFIED;
}

v1::PoolStats ToPoolStatsMessage(const pool::PoolStats& in, v1::PoolName name,
                                 uint32_t buffer_size) {
  v1::PoolStats out;
  ToPoolStats(in, name, buffer_size, &out);
  return out;
}

capture::BindingOptions ToBindingOptions(const v1::BindingOptions& in) {
  capture::BindingOptions out;
  if (in.snaplen() != 0) out.snaplen = in.snaplen();
  if (in.pcap_buffer_bytes() != 0) out.pcap_buffer_bytes = in.pcap_buffer_bytes();
  out.filter = in.filter();
  switch (in.direction()) {
    case v1::DIRECTION_OUT: out.direction = capture::Direction::kOut; break;
    case v1::DIRECTION_INOUT: out.direction = capture::Direction::kInOut; break;
    default: out.direction = capture::Direction::kIn; break;
  }
  if (in.has_promiscuous()) out.promiscuous = in.promiscuous();
  out.immediate_mode = in.immediate_mode();
  if (in.has_pcap_timeout()) {
    out.pcap_timeout = DurationFromProto(in.pcap_timeout());  // exact, no ns overflow
  }
  out.rx = ToPoolSizes(in.rx(), out.rx);
  out.tx = ToPoolSizes(in.tx(), out.tx);
  if (in.rx_preallocate() != 0) out.rx_preallocate = in.rx_preallocate();
  if (in.has_rx_hold_when_exhausted()) out.rx_hold_when_exhausted = in.rx_hold_when_exhausted();
  if (in.timestamp_precision() == v1::TIMESTAMP_PRECISION_MICRO) {
    out.timestamp_precision = capture::TimestampPrecision::kMicro;
  }
  return out;
}

v1::BindingOptions FromBindingOptions(const capture::BindingOptions& in) {
  v1::BindingOptions out;
  out.set_snaplen(in.snaplen);
  out.set_pcap_buffer_bytes(in.pcap_buffer_bytes);
  out.set_filter(in.filter);
  out.set_direction(in.direction == capture::Direction::kIn    ? v1::DIRECTION_IN
                    : in.direction == capture::Direction::kOut ? v1::DIRECTION_OUT
                                                               : v1::DIRECTION_INOUT);
  out.set_promiscuous(in.promiscuous);
  out.set_immediate_mode(in.immediate_mode);
  *out.mutable_pcap_timeout() =
      TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(in.pcap_timeout));
  FromPoolSizes(in.rx, out.mutable_rx());
  FromPoolSizes(in.tx, out.mutable_tx());
  out.set_rx_preallocate(in.rx_preallocate);
  out.set_rx_hold_when_exhausted(in.rx_hold_when_exhausted);
  out.set_timestamp_precision(in.timestamp_precision == capture::TimestampPrecision::kMicro
                                  ? v1::TIMESTAMP_PRECISION_MICRO
                                  : v1::TIMESTAMP_PRECISION_NANO);
  return out;
}

v1::BindingInfo ToBindingInfo(const capture::Binding& binding) {
  v1::BindingInfo info;
  info.set_interface(binding.interface());
  info.set_state(ToState(binding.state()));
  *info.mutable_options() = FromBindingOptions(binding.options());
  return info;
}

v1::BindingStats ToBindingStats(const capture::Binding& binding) {
  return ToBindingStats(binding, binding.Stats());
}

v1::BindingStats ToBindingStats(const capture::Binding& binding,
                                const capture::BindingStats& in) {
  v1::BindingStats out;
  *out.mutable_binding() = ToBindingInfo(binding);
  out.mutable_binding()->set_interface_index(in.interface_index);
  out.set_rx_frames(in.rx_frames);
  out.set_rx_bytes(in.rx_bytes);
  out.set_rx_resource_drops(in.rx_resource_drops);
  out.set_tx_frames(in.tx_frames);
  out.set_tx_bytes(in.tx_bytes);
  for (int i = 1; i < capture::kSendErrorCount; ++i) {
    (*out.mutable_tx_failures())[std::string(
        capture::SendErrorName(static_cast<capture::SendError>(i)))] = in.tx_failures[i];
  }
  out.set_tx_queue_depth(in.tx_queue_depth);
  out.set_tx_late_frames(in.tx_late_frames);
  out.set_down_events(in.down_events);
  out.set_pcap_received(in.pcap.received);
  out.set_pcap_dropped(in.pcap.dropped);
  out.set_pcap_if_dropped(in.pcap.interface_dropped);
  for (const auto& s : in.subscribers) {
    v1::SubscriberStats* sub = out.add_subscribers();
    sub->set_name(s.name);
    sub->set_delivered(s.delivered);
    sub->set_dropped(s.dropped);
    sub->set_queued(s.queued);
    sub->set_capacity(s.capacity);
  }
  const auto& options = binding.options();
  ToPoolStats(in.rx_packets, v1::POOL_NAME_RX_PACKETS, 0, out.add_pools());
  ToPoolStats(in.rx_buffers, v1::POOL_NAME_RX_BUFFERS, options.rx.buffer_size, out.add_pools());
  ToPoolStats(in.tx_packets, v1::POOL_NAME_TX_PACKETS, 0, out.add_pools());
  ToPoolStats(in.tx_buffers, v1::POOL_NAME_TX_BUFFERS, options.tx.buffer_size, out.add_pools());
  for (const pool::PoolStats& old : in.draining) {
    v1::PoolStats* draining = out.add_pools();
    ToPoolStats(old, PoolNameOfTag(old.tag), 0, draining);
    draining->set_draining(true);
  }
  for (const auto& usage : in.memory) {
    v1::TagUsage* tag = out.add_memory();
    tag->set_tag(usage.tag.ToString());
    tag->set_bytes_outstanding(usage.bytes_outstanding);
    tag->set_blocks_outstanding(usage.blocks_outstanding);
    tag->set_peak_bytes(usage.peak_bytes);
    tag->set_allocations(usage.allocations);
    tag->set_frees(usage.frees);
  }
  return out;
}

v1::SendResult ToSendResult(capture::SendError error) {
  switch (error) {
    case capture::SendError::kNone: return v1::SEND_RESULT_SENT;
    case capture::SendError::kResources: return v1::SEND_RESULT_RESOURCES;
    case capture::SendError::kEmptyFrame: return v1::SEND_RESULT_EMPTY_FRAME;
    case capture::SendError::kFrameTooLarge: return v1::SEND_RESULT_FRAME_TOO_LARGE;
    case capture::SendError::kBindingDown: return v1::SEND_RESULT_BINDING_DOWN;
    case capture::SendError::kInjectFailed: return v1::SEND_RESULT_INJECT_FAILED;
    case capture::SendError::kClosed: return v1::SEND_RESULT_CLOSED;
    case capture::SendError::kCancelled: return v1::SEND_RESULT_CANCELLED;
  }
  return v1::SEND_RESULT_UNSPECIFIED;
}

v1::FrameOutcome ToFrameOutcome(const capture::FrameResult& result) {
  v1::FrameOutcome outcome;
  outcome.set_result(result.sent == 0 && result.error == capture::SendError::kNone &&
                             result.skipped > 0
                         ? v1::SEND_RESULT_SKIPPED
                         : ToSendResult(result.error));
  outcome.set_sent(result.sent);
  outcome.set_detail(result.detail);
  return outcome;
}

capture::SendOptions ToSendOptions(const v1::SendFramesRequest& request) {
  const capture::SendPacing pacing = SendPacingOf(request);
  capture::SendOptions options;
  if (request.has_wait_for_resources()) {
    options.wait_for_resources = DurationFromProto(request.wait_for_resources());
  }
  options.frames_per_second = pacing.frames_per_second;
  options.repeat = request.repeat() == 0 ? 1 : request.repeat();
  options.megabits_per_second = pacing.megabits_per_second;
  options.multiplier = pacing.multiplier;
  options.max_burst = pacing.max_burst;
  options.limit = request.limit();
  if (request.has_duration() && DurationFromProto(request.duration()) > absl::ZeroDuration()) {
    options.duration = DurationFromProto(request.duration());
  }
  return options;
}

void ToSendResponse(const capture::SendReport& report, v1::SendFramesResponse* response) {
  response->set_frames_sent(report.frames_sent);
  response->set_frames_failed(report.frames_failed);
  response->set_frames_skipped(report.frames_skipped);
  response->set_bytes_sent(report.bytes_sent);
  if (report.frames_sent > 0) {
    *response->mutable_first_sent() =
        TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(report.first_sent));
    *response->mutable_last_sent() =
        TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(report.last_sent));
  }
  response->set_frames_per_second(report.frames_per_second());
  response->set_bits_per_second(report.bits_per_second());
  response->set_timed(report.timed);
  if (!report.timed) return;
  const capture::LatenessHistogram& lateness = report.lateness;
  response->set_frames_late(lateness.late());
  *response->mutable_late_threshold() = TimeUtil::NanosecondsToDuration(lateness.threshold_ns());
  *response->mutable_lateness_p50() = TimeUtil::NanosecondsToDuration(lateness.Quantile(0.5));
  *response->mutable_lateness_p99() = TimeUtil::NanosecondsToDuration(lateness.Quantile(0.99));
  *response->mutable_lateness_max() = TimeUtil::NanosecondsToDuration(lateness.max_ns());
  *response->mutable_schedule_slip() = TimeUtil::NanosecondsToDuration(report.slip_ns);
}

}  // namespace pktpool::rpc
