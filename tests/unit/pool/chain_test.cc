// Buffer chains on packets: chain/unchain at both ends, QueryPacket, iteration and copies.
#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/pool/buffer_pool.h"
#include "daemon/pool/packet_pool.h"

namespace pktpool::pool {
namespace {

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    packets_ = std::move(PacketPool::Create({.descriptors = 4})).value();
    buffers_ = std::move(BufferPool::Create({.descriptors = 16})).value();
    for (size_t i = 0; i < memory_.size(); ++i) memory_[i] = static_cast<uint8_t>(i);
    ASSERT_EQ(packets_->Allocate(&packet_), Status::kSuccess);
  }
  void TearDown() override {
    for (Buffer* b = UnchainBufferAtFront(packet_); b != nullptr; b = UnchainBufferAtFront(packet_)) {
      FreeBuffer(b);
    }
    for (Buffer* b : loose_) FreeBuffer(b);
    packets_->Free(packet_);
    EXPECT_EQ(buffers_->Stats().in_use, 0u);
  }
  // A buffer mapping `length` bytes of memory_ from `offset`.
  Buffer* Map(uint32_t offset, uint32_t length) {
    Buffer* b = nullptr;
    EXPECT_EQ(buffers_->Allocate(&b, memory_.data() + offset, length), Status::kSuccess);
    return b;
  }
  std::vector<Buffer*> Chain(const Packet& p) {
    std::vector<Buffer*> out;
    for (Buffer* b = p.first_buffer(); b != nullptr; b = b->next()) out.push_back(b);
    return out;
  }

  PacketPool::Handle packets_;
  BufferPool::Handle buffers_;
  std::array<uint8_t, 256> memory_{};
  Packet* packet_ = nullptr;
  std::vector<Buffer*> loose_;
};

TEST_F(ChainTest, ChainAtBackAppendsInOrder) {
  Buffer* a = Map(0, 10);
  Buffer* b = Map(10, 20);
  Buffer* c = Map(30, 5);
  EXPECT_EQ(ChainBufferAtBack(packet_, a), Status::kSuccess);
  EXPECT_EQ(ChainBufferAtBack(packet_, b), Status::kSuccess);
  EXPECT_EQ(ChainBufferAtBack(packet_, c), Status::kSuccess);
  EXPECT_EQ(Chain(*packet_), (std::vector<Buffer*>{a, b, c}));
}

TEST_F(ChainTest, ChainAtFrontPrepends) {
  Buffer* a = Map(0, 10);
  Buffer* b = Map(10, 20);
  Buffer* c = Map(30, 5);
  ChainBufferAtFront(packet_, a);
  ChainBufferAtFront(packet_, b);
  ChainBufferAtBack(packet_, c);  // the tail is still tracked after front inserts
  EXPECT_EQ(Chain(*packet_), (std::vector<Buffer*>{b, a, c}));
}

TEST_F(ChainTest, UnchainAtFrontAndBackFromEveryPosition) {
  Buffer* a = Map(0, 1);
  Buffer* b = Map(1, 2);
  Buffer* c = Map(3, 3);
  ChainBufferAtBack(packet_, a);
  ChainBufferAtBack(packet_, b);
  ChainBufferAtBack(packet_, c);
  EXPECT_EQ(UnchainBufferAtBack(packet_), c);
  EXPECT_EQ(Chain(*packet_), (std::vector<Buffer*>{a, b}));
  EXPECT_EQ(UnchainBufferAtFront(packet_), a);
  EXPECT_EQ(Chain(*packet_), (std::vector<Buffer*>{b}));
  EXPECT_EQ(UnchainBufferAtBack(packet_), b);  // the only buffer: head and tail
  EXPECT_EQ(packet_->first_buffer(), nullptr);
  // Unlinked buffers carry no stale links.
  EXPECT_EQ(a->next(), nullptr);
  EXPECT_EQ(b->next(), nullptr);
  // The chain works again after being emptied (head and tail were both reset).
  ChainBufferAtBack(packet_, c);
  ChainBufferAtFront(packet_, a);
  EXPECT_EQ(Chain(*packet_), (std::vector<Buffer*>{a, c}));
  loose_ = {b};
}

TEST_F(ChainTest, UnchainOnEmptyChainReturnsNull) {
  EXPECT_EQ(UnchainBufferAtFront(packet_), nullptr);
  EXPECT_EQ(UnchainBufferAtBack(packet_), nullptr);
  EXPECT_EQ(QueryPacket(*packet_).buffer_count, 0u);
  EXPECT_EQ(UnchainBufferAtFront(nullptr), nullptr);
}

TEST_F(ChainTest, BufferAlreadyChainedIsRejected) {
  Buffer* a = Map(0, 4);
  ASSERT_EQ(ChainBufferAtBack(packet_, a), Status::kSuccess);
  EXPECT_EQ(ChainBufferAtBack(packet_, a), Status::kInvalidParameter);
  EXPECT_EQ(ChainBufferAtFront(packet_, a), Status::kInvalidParameter);
  EXPECT_EQ(ChainBufferAtFront(packet_, nullptr), Status::kInvalidParameter);
  EXPECT_EQ(Chain(*packet_), (std::vector<Buffer*>{a}));  // no cycle, no duplicate
}

TEST_F(ChainTest, QueryPacketReportsCountLengthAndFirstBuffer) {
  PacketInfo empty = QueryPacket(*packet_);
  EXPECT_EQ(empty.buffer_count, 0u);
  EXPECT_EQ(empty.total_length, 0u);
  EXPECT_EQ(empty.first_buffer, nullptr);
  Buffer* a = Map(0, 10);
  Buffer* b = Map(10, 20);
  ChainBufferAtBack(packet_, a);
  ChainBufferAtBack(packet_, b);
  AdjustBufferLength(b, 7);
  PacketInfo info = QueryPacket(*packet_);
  EXPECT_EQ(info.buffer_count, 2u);
  EXPECT_EQ(info.total_length, 17u);
  EXPECT_EQ(info.first_buffer, a);
}

TEST_F(ChainTest, CopyFromPacketToPacketAcrossBufferBoundaries) {
  // Source: bytes 0..29 in buffers of 10, 5, 15.
  ChainBufferAtBack(packet_, Map(0, 10));
  ChainBufferAtBack(packet_, Map(10, 5));
  ChainBufferAtBack(packet_, Map(15, 15));
  Packet* dest = nullptr;
  ASSERT_EQ(packets_->Allocate(&dest), Status::kSuccess);
  std::array<uint8_t, 40> out{};
  Buffer* d1 = nullptr;
  Buffer* d2 = nullptr;
  buffers_->Allocate(&d1, out.data(), 7);
  buffers_->Allocate(&d2, out.data() + 7, 33);
  ChainBufferAtBack(dest, d1);
  ChainBufferAtBack(dest, d2);

  // 12 bytes from source offset 8 to destination offset 3: spans all boundaries.
  EXPECT_EQ(CopyFromPacketToPacket(dest, 3, 12, *packet_, 8), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(out[3 + i], 8 + i) << i;
  EXPECT_EQ(out[2], 0);
  EXPECT_EQ(out[15], 0);

  // Asking for more than the source has copies what there is.
  out.fill(0);
  EXPECT_EQ(CopyFromPacketToPacket(dest, 0, 100, *packet_, 25), 5u);
  EXPECT_EQ(out[0], 25);
  EXPECT_EQ(out[4], 29);
  // Destination too short: limited by its space.
  EXPECT_EQ(CopyFromPacketToPacket(dest, 35, 30, *packet_, 0), 5u);
  // Offsets past the end copy nothing.
  EXPECT_EQ(CopyFromPacketToPacket(dest, 0, 10, *packet_, 30), 0u);
  EXPECT_EQ(CopyFromPacketToPacket(dest, 40, 10, *packet_, 0), 0u);

  UnlinkBuffers(dest);
  FreeBuffer(d1);
  FreeBuffer(d2);
  packets_->Free(dest);
}

TEST_F(ChainTest, CopyIntoPacketSplitsOverBuffersAndAdjustsTheLast) {
  std::array<uint8_t, 64> slab{};
  Buffer* a = nullptr;
  Buffer* b = nullptr;
  Buffer* c = nullptr;
  buffers_->Allocate(&a, slab.data(), 16);
  buffers_->Allocate(&b, slab.data() + 16, 16);
  buffers_->Allocate(&c, slab.data() + 32, 16);
  ChainBufferAtBack(packet_, a);
  ChainBufferAtBack(packet_, b);
  ChainBufferAtBack(packet_, c);
  std::vector<uint8_t> frame(20);
  std::iota(frame.begin(), frame.end(), 100);
  EXPECT_EQ(CopyIntoPacket(packet_, frame), 20u);
  EXPECT_EQ(a->length(), 16u);
  EXPECT_EQ(b->length(), 4u);
  EXPECT_EQ(c->length(), 0u);
  EXPECT_EQ(QueryPacket(*packet_).total_length, 20u);
  std::vector<uint8_t> back(20);
  EXPECT_EQ(CopyOutOfPacket(*packet_, back), 20u);
  EXPECT_EQ(back, frame);
  // Too big for the chain's mapped space: copies what fits.
  std::vector<uint8_t> big(100, 1);
  EXPECT_EQ(CopyIntoPacket(packet_, big), 48u);
}

}  // namespace
}  // namespace pktpool::pool
