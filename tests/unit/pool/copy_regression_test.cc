// Copies across buffers that map no memory: regressions of what pool_ops_fuzzer found
// (tests/fuzz/corpus/pool_ops_fuzzer/crash-*). The undefined behaviour itself shows in
// the address build (scripts/test.sh --sanitize address: UBSan's nonnull check).
#include <array>
#include <cstdint>

#include <gtest/gtest.h>

#include "daemon/pool/buffer_pool.h"
#include "daemon/pool/packet_pool.h"

namespace pktpool::pool {
namespace {

// fuzz (crash-copy-through-null-empty-buffer): CopyFromPacketToPacket called memmove with
// the null address of a zero-length buffer (Allocate(nullptr, 0) is allowed).
TEST(CopyFromPacketToPacket, SkipsEmptyBuffersThatMapNoMemory) {
  auto packets = std::move(PacketPool::Create({.descriptors = 2})).value();
  auto buffers = std::move(BufferPool::Create({.descriptors = 8})).value();
  std::array<uint8_t, 8> from_memory = {1, 2, 3, 4, 5, 6, 7, 8};
  std::array<uint8_t, 8> to_memory{};
  Packet* source = nullptr;
  Packet* destination = nullptr;
  ASSERT_EQ(packets->Allocate(&source), Status::kSuccess);
  ASSERT_EQ(packets->Allocate(&destination), Status::kSuccess);
  Buffer* empty_from = nullptr;
  Buffer* empty_to = nullptr;
  Buffer* from = nullptr;
  Buffer* to = nullptr;
  ASSERT_EQ(buffers->Allocate(&empty_from, nullptr, 0), Status::kSuccess);
  ASSERT_EQ(buffers->Allocate(&empty_to, nullptr, 0), Status::kSuccess);
  ASSERT_EQ(buffers->Allocate(&from, from_memory.data(), 8), Status::kSuccess);
  ASSERT_EQ(buffers->Allocate(&to, to_memory.data(), 8), Status::kSuccess);
  // Each chain: an empty buffer between two halves of the data.
  ASSERT_EQ(ChainBufferAtBack(source, from), Status::kSuccess);
  ASSERT_EQ(ChainBufferAtBack(source, empty_from), Status::kSuccess);
  ASSERT_EQ(ChainBufferAtFront(destination, empty_to), Status::kSuccess);
  ASSERT_EQ(ChainBufferAtBack(destination, to), Status::kSuccess);

  EXPECT_EQ(CopyFromPacketToPacket(destination, 0, 100, *source, 2), 6u);
  EXPECT_EQ(to_memory, (std::array<uint8_t, 8>{3, 4, 5, 6, 7, 8, 0, 0}));
  // Only empty buffers: nothing to copy, and nothing touched.
  EXPECT_EQ(CopyFromPacketToPacket(destination, 8, 4, *source, 8), 0u);

  ASSERT_EQ(UnchainBufferAtFront(destination), empty_to);
  ASSERT_EQ(UnchainBufferAtBack(source), empty_from);
  for (Buffer* b : {empty_from, empty_to}) EXPECT_EQ(FreeBuffer(b), Status::kSuccess);
  EXPECT_EQ(packets->Free(source), Status::kSuccess);  // unlinks `from`
  EXPECT_EQ(packets->Free(destination), Status::kSuccess);
  for (Buffer* b : {from, to}) EXPECT_EQ(FreeBuffer(b), Status::kSuccess);
}

}  // namespace
}  // namespace pktpool::pool
