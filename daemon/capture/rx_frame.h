// RxFrame: a received frame as subscribers see it: read-only, reference counted, and
// back in the binding's receive pool when the last reference goes.
#ifndef PKTPOOL_DAEMON_CAPTURE_RX_FRAME_H_
#define PKTPOOL_DAEMON_CAPTURE_RX_FRAME_H_

#include <atomic>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "daemon/pool/packet.h"

namespace pktpool::capture {

class RxPath;

// Lives in each receive packet's ProtocolReserved area (the protocol's per-packet space).
struct RxContext {
  std::atomic<int32_t> references{0};
  RxPath* path = nullptr;
  pool::Packet* next_returned = nullptr;  // link in the path's stack of returned packets
};

// A counted reference to a received packet. Copying adds a reference; the packet goes
// back to its receive path when the last copy is destroyed. Safe to copy and destroy on
// any thread; the frame's data must not be changed. Every RxFrame must be released
// before its Binding is closed (Close waits for them).
class RxFrame {
 public:
  RxFrame() = default;
  // Takes the first reference of a packet just filled by the receive path.
  static RxFrame Adopt(pool::Packet* packet);
  RxFrame(const RxFrame& other);
  RxFrame& operator=(const RxFrame& other);
  RxFrame(RxFrame&& other) noexcept : packet_(std::exchange(other.packet_, nullptr)) {}
  RxFrame& operator=(RxFrame&& other) noexcept;
  ~RxFrame() { Release(); }

  explicit operator bool() const { return packet_ != nullptr; }
  const pool::Packet& packet() const { return *packet_; }
  absl::Time timestamp() const { return packet_->oob().timestamp; }
  uint32_t wire_length() const { return packet_->oob().original_length; }
  int32_t interface_index() const { return packet_->oob().interface_index; }
  // Bytes captured (at most the snaplen): the chain's data length.
  uint32_t captured_length() const;
  // The captured bytes, joined from the buffer chain.
  std::vector<uint8_t> Bytes() const;

 private:
  explicit RxFrame(pool::Packet* packet) : packet_(packet) {}
  void Release();
  pool::Packet* packet_ = nullptr;
};

// The RxContext inside a receive packet.
inline RxContext* ContextOf(const pool::Packet& packet) {
  return reinterpret_cast<RxContext*>(packet.protocol_reserved().data());
}

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_RX_FRAME_H_
