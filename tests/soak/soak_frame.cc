#include "tests/soak/soak_frame.h"

#include <algorithm>
#include <cstring>

namespace pktpool::soak {
namespace {

constexpr uint8_t kHeader[14] = {0x02, 0x53, 0x4f, 0x41, 0x4b, 0x02,  // destination
                                 0x02, 0x53, 0x4f, 0x41, 0x4b, 0x01,  // source
                                 0x88, 0xB5};                         // local experimental
constexpr char kMagic[4] = {'S', 'O', 'A', 'K'};
constexpr size_t kIdBytes = 14 + 4 + 2 + 4 + 2;  // header, magic, sender, sequence, size

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Seed(uint16_t sender, uint32_t sequence) {
  return (static_cast<uint64_t>(sender) << 32) | sequence;
}

void PutBigEndian(std::string* out, size_t at, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) {
    (*out)[at + i] = static_cast<char>((value >> (8 * (bytes - 1 - i))) & 0xFF);
  }
}

uint64_t GetBigEndian(std::string_view in, size_t at, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) value = (value << 8) | static_cast<uint8_t>(in[at + i]);
  return value;
}

}  // namespace

size_t SoakFrameSize(uint16_t sender, uint32_t sequence) {
  uint64_t state = Seed(sender, sequence) ^ 0x5A5A5A5A5A5A5A5Aull;
  return kMinFrameBytes + SplitMix64(&state) % (kMaxFrameBytes - kMinFrameBytes + 1);
}

std::string SoakFrame(uint16_t sender, uint32_t sequence) {
  const size_t size = SoakFrameSize(sender, sequence);
  std::string frame(size, '\0');
  std::memcpy(frame.data(), kHeader, sizeof(kHeader));
  std::memcpy(frame.data() + 14, kMagic, sizeof(kMagic));
  PutBigEndian(&frame, 18, sender, 2);
  PutBigEndian(&frame, 20, sequence, 4);
  PutBigEndian(&frame, 24, size, 2);
  uint64_t state = Seed(sender, sequence);
  for (size_t at = kIdBytes; at < size; at += 8) {
    const uint64_t random = SplitMix64(&state);
    const size_t n = std::min<size_t>(8, size - at);
    std::memcpy(frame.data() + at, &random, n);
  }
  return frame;
}

std::optional<FrameId> ParseSoakFrame(std::string_view frame) {
  if (frame.size() < kIdBytes || std::memcmp(frame.data() + 14, kMagic, sizeof(kMagic)) != 0) {
    return std::nullopt;
  }
  return FrameId{static_cast<uint16_t>(GetBigEndian(frame, 18, 2)),
                 static_cast<uint32_t>(GetBigEndian(frame, 20, 4))};
}

uint64_t FrameHash(std::string_view frame) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : frame) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ull;
  }
  // FNV's low bits are weak for sums; mix once more.
  return SplitMix64(&hash);
}

}  // namespace pktpool::soak
