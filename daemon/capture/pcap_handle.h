// PcapHandle: one libpcap handle (pcap_t) with RAII, opened either to capture from an
// interface or only to inject into it.
#ifndef PKTPOOL_DAEMON_CAPTURE_PCAP_HANDLE_H_
#define PKTPOOL_DAEMON_CAPTURE_PCAP_HANDLE_H_

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/capture/binding_options.h"

namespace pktpool::capture {

// libpcap's counters (pcap_stats).
struct PcapCounters {
  uint64_t received = 0;           // ps_recv
  uint64_t dropped = 0;            // ps_drop: the ring was full
  uint64_t interface_dropped = 0;  // ps_ifdrop
};

// Owns a pcap_t. Not thread-safe: one thread uses a handle at a time.
class PcapHandle {
 public:
  // A non-blocking capture handle on `interface` (TPACKET_V3 ring of
  // options.pcap_buffer_bytes, snaplen, promiscuous, immediate mode, direction, filter).
  // NotFound for an unknown interface, InvalidArgument for a filter that does not
  // compile (the message has libpcap's reason), PermissionDenied without CAP_NET_RAW.
  static absl::StatusOr<PcapHandle> OpenCapture(const std::string& interface,
                                               const BindingOptions& options);

  // A handle for pcap_inject only: a small ring and a filter that accepts nothing, so
  // the kernel copies no received frame into it.
  static absl::StatusOr<PcapHandle> OpenInject(const std::string& interface);

  PcapHandle(PcapHandle&& other) noexcept : pcap_(other.pcap_) { other.pcap_ = nullptr; }
  PcapHandle& operator=(PcapHandle&& other) noexcept;
  PcapHandle(const PcapHandle&) = delete;
  PcapHandle& operator=(const PcapHandle&) = delete;
  ~PcapHandle();

  // The fd to wait on (pcap_get_selectable_fd).
  int selectable_fd() const;
  // pcap_dispatch: calls `callback(user, header, data)` for up to `max` frames already
  // in the ring (-1: all). Returns the count, or -1 on error (see error()).
  int Dispatch(int max, pcap_handler callback, u_char* user);
  // pcap_inject; returns bytes sent, or -1 (see error()).
  int Inject(std::span<const uint8_t> frame);
  // Sends messages[0..n) (one frame each, its iovecs the buffer chain) with sendmmsg on
  // the handle's socket: one system call for many frames. Returns how many went, or
  // -1 with errno set when the first one failed.
  int InjectBatch(struct mmsghdr* messages, unsigned n);
  PcapCounters Counters() const;
  std::string error() const;

 private:
  explicit PcapHandle(pcap_t* pcap) : pcap_(pcap) {}
  pcap_t* pcap_ = nullptr;
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_PCAP_HANDLE_H_
