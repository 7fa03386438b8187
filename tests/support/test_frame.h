// Test helper: the Ethernet frames the integration tests send.
#ifndef PKTPOOL_TESTS_SUPPORT_TEST_FRAME_H_
#define PKTPOOL_TESTS_SUPPORT_TEST_FRAME_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace pktpool::testing {

// A frame of `size` bytes (>= 18): locally administered MACs 02:..:01 -> 02:..:02,
// EtherType 0x88B5 (local experimental), then `sequence` (4 bytes, host order) and a
// pattern derived from it. Bytes is std::vector<uint8_t> or std::string.
template <typename Bytes = std::vector<uint8_t>>
Bytes TestFrame(uint32_t sequence, size_t size) {
  static constexpr uint8_t kHeader[14] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01,
                                          0x88, 0xB5};
  Bytes frame(size, 0);
  for (size_t i = 0; i < size; ++i) {
    frame[i] = static_cast<typename Bytes::value_type>(i < 14 ? kHeader[i] : sequence * 7 + i);
  }
  std::memcpy(frame.data() + 14, &sequence, sizeof(sequence));
  return frame;
}

}  // namespace pktpool::testing

#endif  // PKTPOOL_TESTS_SUPPORT_TEST_FRAME_H_
