// Options of a binding and their defaults: the one place the capture layer's limits live.
#ifndef PKTPOOL_DAEMON_CAPTURE_BINDING_OPTIONS_H_
#define PKTPOOL_DAEMON_CAPTURE_BINDING_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace pktpool::capture {

// Which frames the capture handle sees (pcap_setdirection).
enum class Direction : uint8_t { kIn, kOut, kInOut };

// Precision libpcap gives captured timestamps. kNano costs the whole host a timestamp on
// every received frame (SO_TIMESTAMPNS); kMicro, tcpdump's default, does not.
enum class TimestampPrecision : uint8_t { kNano, kMicro };

// Sizes of one pair of pools (packet descriptors + buffer descriptors and their memory).
struct PoolSizes {
  uint32_t packet_descriptors = 1024;
  uint32_t packet_overflow = 0;
  uint32_t buffer_count = 2048;  // buffer descriptors, each mapping buffer_size bytes
  uint32_t buffer_size = 2048;   // bytes of tagged memory per buffer
};

// Link header room on top of the MTU for preallocated receive chains (Ethernet + VLAN).
inline constexpr uint32_t kLinkHeaderRoomBytes = 18;
inline constexpr uint32_t kDefaultSnaplen = 65535;
inline constexpr uint32_t kMinBufferSize = 64;
inline constexpr uint32_t kMaxBufferSize = 65536;
// The kernel ring: with hold mode, a 1,000,000-frame burst of 64-byte frames at line rate
// waits there while captures catch up (tcpdump users' -B 65536).
inline constexpr uint32_t kDefaultPcapBufferBytes = 64u << 20;
// A subscriber's queue when the caller sets none: as many frames as a receive pool can
// have packets (0xFFFF), so the pool, not the queue, bounds what waits, and in hold mode a
// reader that falls behind makes frames wait in the ring instead of losing them.
inline constexpr uint32_t kDefaultSubscriberQueue = 65535;
// The receive pools' default: 4096 packets and 8192 buffers of 2 KiB (16 MiB), enough for
// four capture streams on one binding to keep a line-rate burst of small frames moving.
inline constexpr PoolSizes kDefaultRxPools = {.packet_descriptors = 4096,
                                              .packet_overflow = 0,
                                              .buffer_count = 8192,
                                              .buffer_size = 2048};
// Largest frame Send accepts (an IPv4 datagram's maximum plus the link header).
inline constexpr uint32_t kMaxFrameBytes = 65535 + kLinkHeaderRoomBytes;
inline constexpr absl::Duration kDefaultPcapTimeout = absl::Milliseconds(2);
// A subscriber holding queued frames that has not popped for this long has stopped
// reading: when every receive packet is out and another subscriber starves, it loses its
// oldest frames (see Binding). A client blocked for less is left alone.
inline constexpr absl::Duration kStalledSubscriberIdle = absl::Milliseconds(100);
// At most one log line per binding per this interval about such drops.
inline constexpr absl::Duration kStalledSubscriberLogInterval = absl::Seconds(5);
// How often a DOWN binding looks for its interface again.
inline constexpr absl::Duration kInterfacePollInterval = absl::Milliseconds(100);
// A frame of a timed send (a rate or recorded offsets) that leaves more than this after
// its due time counts as late: in the send's report and the binding's tx_late_frames.
inline constexpr absl::Duration kSendLateThreshold = absl::Microseconds(100);

// How to open a binding.
struct BindingOptions {
  uint32_t snaplen = kDefaultSnaplen;               // bytes kept per captured frame
  uint32_t pcap_buffer_bytes = kDefaultPcapBufferBytes;  // TPACKET_V3 ring size
  std::string filter;                               // BPF expression; empty: everything
  Direction direction = Direction::kIn;             // kIn: never re-capture our own sends
  bool promiscuous = true;
  bool immediate_mode = false;                      // off: block delivery, fewer losses
  absl::Duration pcap_timeout = kDefaultPcapTimeout;  // block timeout when not immediate
  PoolSizes rx = kDefaultRxPools;
  PoolSizes tx;
  uint32_t rx_preallocate = 256;  // receive packets built with their buffers at bind time
  // On (the default): the receive thread stops reading the kernel ring while no receive
  // packet is free, so a burst waits in the ring (pcap_buffer_bytes) and only a full ring
  // loses frames (counted by libpcap as ps_drop), as with tcpdump. Off: a frame that
  // finds no free receive packet is dropped and counted as an rx RESOURCES drop.
  bool rx_hold_when_exhausted = true;
  TimestampPrecision timestamp_precision = TimestampPrecision::kNano;
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_BINDING_OPTIONS_H_
