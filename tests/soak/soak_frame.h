// The soak test's frames: each one names its sender and sequence number, and its size
// and payload follow from those two, so a captured frame is checked byte for byte by
// building the expected one again (nothing per frame has to be kept while the load runs).
#ifndef PKTPOOL_TESTS_SOAK_SOAK_FRAME_H_
#define PKTPOOL_TESTS_SOAK_SOAK_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pktpool::soak {

// Frames are 60 to 1514 bytes: the Ethernet minimum (no FCS) to a full 1500-byte MTU.
inline constexpr size_t kMinFrameBytes = 60;
inline constexpr size_t kMaxFrameBytes = 1514;

// Who sent a frame and its place in that sender's sequence.
struct FrameId {
  uint16_t sender = 0;
  uint32_t sequence = 0;
};

// The size of (sender, sequence)'s frame, in [kMinFrameBytes, kMaxFrameBytes].
size_t SoakFrameSize(uint16_t sender, uint32_t sequence);

// The frame of (sender, sequence): locally administered MACs, EtherType 0x88B5, the
// magic "SOAK", sender, sequence and size (big endian), then a pseudo-random payload.
std::string SoakFrame(uint16_t sender, uint32_t sequence);

// The id a frame claims, or nullopt when it is not a soak frame (no magic, too short).
// The claim is not checked against the content: compare with SoakFrame for that.
std::optional<FrameId> ParseSoakFrame(std::string_view frame);

// A 64-bit hash of the bytes (FNV-1a, then mixed); summed over frames it gives an
// order-independent digest of a multiset of frames.
uint64_t FrameHash(std::string_view frame);

}  // namespace pktpool::soak

#endif  // PKTPOOL_TESTS_SOAK_SOAK_FRAME_H_
