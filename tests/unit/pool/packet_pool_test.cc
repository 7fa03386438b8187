// One test per packet-pool rule of ARCHITECTURE.md section 3 (NdisAllocatePacketPoolEx).
#include "daemon/pool/packet_pool.h"

#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "daemon/pool/buffer_pool.h"

namespace pktpool::pool {
namespace {

PacketPool::Handle MakePool(uint32_t descriptors, uint32_t overflow = 0,
                            TaggedMemory* memory = nullptr, uint32_t reserved = 32) {
  PacketPoolOptions options;
  options.descriptors = descriptors;
  options.overflow_descriptors = overflow;
  options.protocol_reserved_length = reserved;
  options.memory = memory;
  auto pool = PacketPool::Create(options);
  EXPECT_TRUE(pool.ok()) << pool.status();
  return std::move(pool).value();
}

std::vector<Packet*> AllocateAll(PacketPool& pool, uint32_t n) {
  std::vector<Packet*> packets;
  for (uint32_t i = 0; i < n; ++i) {
    Packet* p = nullptr;
    EXPECT_EQ(pool.Allocate(&p), Status::kSuccess) << "packet " << i;
    packets.push_back(p);
  }
  return packets;
}

TEST(PacketPool, ZeroDescriptorsIsInvalid) {
  auto pool = PacketPool::Create({.descriptors = 0});
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PacketPool, ExactlyMaxDescriptorsIsAccepted) {
  auto pool = PacketPool::Create({.descriptors = 0xFFFF});
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ((*pool)->descriptors(), 0xFFFFu);
  EXPECT_EQ((*pool)->overflow_limit(), 0u);
}

TEST(PacketPool, OverMaxDescriptorsFailsWithResources) {
  auto pool = PacketPool::Create({.descriptors = 0x10000});
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(pool.status().message().find("NDIS_STATUS_RESOURCES"), std::string::npos);
}

TEST(PacketPool, OverflowClampedToTotal0xFFFF) {
  auto pool = MakePool(0xFF00, 0x1000);
  EXPECT_EQ(pool->overflow_limit(), 0xFFu);
  EXPECT_EQ(pool->descriptors() + pool->overflow_limit(), 0xFFFFu);
  EXPECT_EQ(pool->Stats().overflow_limit, 0xFFu);
}

TEST(PacketPool, OverflowBelowCapIsKept) {
  auto pool = MakePool(100, 50);
  EXPECT_EQ(pool->overflow_limit(), 50u);
}

TEST(PacketPool, NonExFormHasNoOverflow) {
  auto pool = MakePool(3);
  auto packets = AllocateAll(*pool, 3);
  Packet* extra = nullptr;
  EXPECT_EQ(pool->Allocate(&extra), Status::kResources);
  EXPECT_EQ(pool->Stats().overflow_allocations, 0u);
  for (Packet* p : packets) EXPECT_EQ(pool->Free(p), Status::kSuccess);
}

TEST(PacketPool, StaticStorageIsOneContiguousBlockAllocatedUpFront) {
  TaggedMemory memory;
  PacketPoolOptions options{.descriptors = 64, .tag = MemoryTag("TSPK"), .memory = &memory};
  auto pool = PacketPool::Create(options);
  ASSERT_TRUE(pool.ok());
  // One block, before any allocation.
  TagUsage usage = memory.Usage(MemoryTag("TSPK"));
  EXPECT_EQ(usage.blocks_outstanding, 1u);
  EXPECT_GE(usage.bytes_outstanding, 64 * sizeof(Packet));
  auto packets = AllocateAll(**pool, 64);
  // No further memory for static descriptors, and all inside that one block.
  EXPECT_EQ(memory.Usage(MemoryTag("TSPK")).allocations, 1u);
  auto [lo, hi] = std::minmax_element(packets.begin(), packets.end());
  EXPECT_LT(reinterpret_cast<char*>(*hi) - reinterpret_cast<char*>(*lo),
            static_cast<ptrdiff_t>(usage.bytes_outstanding));
  for (Packet* p : packets) {
    EXPECT_FALSE(p->is_overflow());
    (*pool)->Free(p);
  }
}

TEST(PacketPool, OverflowOnlyWhenAllStaticInUse) {
  TaggedMemory memory;
  auto pool = MakePool(4, 2, &memory);
  auto packets = AllocateAll(*pool, 4);
  for (Packet* p : packets) EXPECT_FALSE(p->is_overflow());
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 1u);
  Packet* overflow = nullptr;
  ASSERT_EQ(pool->Allocate(&overflow), Status::kSuccess);
  EXPECT_TRUE(overflow->is_overflow());
  // The overflow descriptor came from memory allocated now, not from the pool block.
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 2u);
  EXPECT_EQ(pool->Stats().overflow_in_use, 1u);
  EXPECT_EQ(pool->Stats().overflow_allocations, 1u);
  // Free one static one: the next allocation takes it, not an overflow one.
  EXPECT_EQ(pool->Free(packets[0]), Status::kSuccess);
  Packet* again = nullptr;
  ASSERT_EQ(pool->Allocate(&again), Status::kSuccess);
  EXPECT_FALSE(again->is_overflow());
  packets[0] = again;
  EXPECT_EQ(pool->Free(overflow), Status::kSuccess);
  for (Packet* p : packets) pool->Free(p);
}

TEST(PacketPool, ResourcesWhenStaticAndOverflowAllOut) {
  auto pool = MakePool(4, 2);
  auto packets = AllocateAll(*pool, 6);
  Packet* extra = nullptr;
  EXPECT_EQ(pool->Allocate(&extra), Status::kResources);
  EXPECT_EQ(pool->Allocate(&extra), Status::kResources);
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.resource_failures, 2u);
  EXPECT_EQ(stats.in_use, 6u);
  EXPECT_EQ(stats.overflow_in_use, 2u);
  EXPECT_EQ(stats.free, 0u);
  for (Packet* p : packets) pool->Free(p);
}

TEST(PacketPool, FreeReleasesOverflowDescriptorToSystemMemory) {
  TaggedMemory memory;
  auto pool = MakePool(2, 3, &memory);
  auto packets = AllocateAll(*pool, 5);
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 4u);  // block + 3 overflow
  for (Packet* p : packets) {
    if (p->is_overflow()) {
      EXPECT_EQ(pool->Free(p), Status::kSuccess);
    }
  }
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 1u);
  EXPECT_EQ(pool->Stats().overflow_in_use, 0u);
  EXPECT_EQ(pool->Stats().in_use, 2u);
  pool->Free(packets[0]);
  pool->Free(packets[1]);
}

TEST(PacketPool, FreeReturnsStaticDescriptorToPool) {
  auto pool = MakePool(1);
  Packet* first = nullptr;
  ASSERT_EQ(pool->Allocate(&first), Status::kSuccess);
  ASSERT_EQ(pool->Free(first), Status::kSuccess);
  Packet* second = nullptr;
  ASSERT_EQ(pool->Allocate(&second), Status::kSuccess);
  EXPECT_EQ(first, second);  // the same descriptor, back from the free list
  pool->Free(second);
}

TEST(PacketPool, DoubleFreeIsRejectedAndCorruptsNothing) {
  auto pool = MakePool(2);
  Packet* a = nullptr;
  Packet* b = nullptr;
  ASSERT_EQ(pool->Allocate(&a), Status::kSuccess);
  ASSERT_EQ(pool->Free(a), Status::kSuccess);
  EXPECT_EQ(pool->Free(a), Status::kInvalidPacket);
  EXPECT_EQ(pool->Stats().frees, 1u);
  // The free list holds each descriptor once: two allocations give two distinct ones,
  // and the third is refused.
  ASSERT_EQ(pool->Allocate(&a), Status::kSuccess);
  ASSERT_EQ(pool->Allocate(&b), Status::kSuccess);
  EXPECT_NE(a, b);
  Packet* c = nullptr;
  EXPECT_EQ(pool->Allocate(&c), Status::kResources);
  pool->Free(a);
  pool->Free(b);
}

TEST(PacketPool, DoubleFreeOfOverflowDescriptorIsRejected) {
  auto pool = MakePool(1, 1);
  auto packets = AllocateAll(*pool, 2);
  Packet* overflow = packets[1];
  ASSERT_TRUE(overflow->is_overflow());
  ASSERT_EQ(pool->Free(overflow), Status::kSuccess);
  // The descriptor's memory is gone; the pool must notice without reading it.
  EXPECT_EQ(pool->Free(overflow), Status::kInvalidPacket);
  EXPECT_EQ(pool->Stats().in_use, 1u);
  pool->Free(packets[0]);
}

TEST(PacketPool, ForeignDescriptorIsRejected) {
  auto pool = MakePool(2);
  auto other = MakePool(2);
  Packet* theirs = nullptr;
  ASSERT_EQ(other->Allocate(&theirs), Status::kSuccess);
  EXPECT_EQ(pool->Free(theirs), Status::kInvalidPacket);
  EXPECT_EQ(pool->Free(nullptr), Status::kInvalidParameter);
  Packet on_stack;
  EXPECT_EQ(pool->Free(&on_stack), Status::kInvalidPacket);
  EXPECT_EQ(other->Stats().in_use, 1u);
  EXPECT_EQ(pool->Stats().frees, 0u);
  EXPECT_EQ(FreePacket(theirs), Status::kSuccess);  // its own pool takes it
}

TEST(PacketPool, ProtocolReservedDefaultsTo32BytesAligned16) {
  auto pool = PacketPool::Create({.descriptors = 8});
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ((*pool)->protocol_reserved_length(), 32u);
  auto packets = AllocateAll(**pool, 8);
  for (Packet* p : packets) {
    EXPECT_EQ(p->protocol_reserved().size(), 32u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p->protocol_reserved().data()) % 16, 0u);
    (*pool)->Free(p);
  }
}

TEST(PacketPool, ProtocolReservedAreasDoNotOverlap) {
  auto pool = MakePool(4, 2, nullptr, /*reserved=*/40);
  auto packets = AllocateAll(*pool, 6);  // static and overflow
  for (size_t i = 0; i < packets.size(); ++i) {
    auto area = packets[i]->protocol_reserved();
    ASSERT_EQ(area.size(), 40u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(area.data()) % 16, 0u);
    std::fill(area.begin(), area.end(), static_cast<uint8_t>(i + 1));
  }
  for (size_t i = 0; i < packets.size(); ++i) {
    for (uint8_t byte : packets[i]->protocol_reserved()) ASSERT_EQ(byte, i + 1);
    // Writing the area must not have touched the descriptor itself.
    EXPECT_EQ(packets[i]->first_buffer(), nullptr);
    EXPECT_EQ(packets[i]->pool(), pool.get());
  }
  for (Packet* p : packets) pool->Free(p);
}

TEST(PacketPool, OversizedProtocolReservedIsInvalid) {
  auto pool = PacketPool::Create(
      {.descriptors = 1, .protocol_reserved_length = kMaxProtocolReservedLength + 1});
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PacketPool, AllocateGivesFreshOobAndEmptyChain) {
  auto pool = MakePool(1);
  std::vector<uint8_t> data(16);
  auto buffers = BufferPool::Create({.descriptors = 1});
  ASSERT_TRUE(buffers.ok());
  Packet* p = nullptr;
  Buffer* b = nullptr;
  ASSERT_EQ(pool->Allocate(&p), Status::kSuccess);
  ASSERT_EQ((*buffers)->Allocate(&b, data.data(), 16), Status::kSuccess);
  ChainBufferAtBack(p, b);
  p->oob().timestamp = absl::FromUnixSeconds(5);
  p->oob().original_length = 99;
  p->oob().interface_index = 7;
  p->oob().send_status = Status::kFailure;
  pool->Free(p);  // a packet free unlinks its buffers but does not free them
  EXPECT_EQ((*buffers)->Stats().in_use, 1u);
  EXPECT_EQ(b->next(), nullptr);
  Packet* q = nullptr;
  ASSERT_EQ(pool->Allocate(&q), Status::kSuccess);
  ASSERT_EQ(p, q);
  EXPECT_EQ(q->first_buffer(), nullptr);
  EXPECT_EQ(q->oob().timestamp, absl::UnixEpoch());
  EXPECT_EQ(q->oob().original_length, 0u);
  EXPECT_EQ(q->oob().interface_index, 0);
  EXPECT_EQ(q->oob().send_status, Status::kSuccess);
  pool->Free(q);
  EXPECT_EQ(FreeBuffer(b), Status::kSuccess);
}

TEST(PacketPool, ReinitializeClearsChainHeadAndKeepsBuffers) {
  auto pool = MakePool(2);
  auto buffers = BufferPool::Create({.descriptors = 2});
  ASSERT_TRUE(buffers.ok());
  uint8_t data[2][8] = {{1, 2, 3, 4, 5, 6, 7, 8}, {9, 9, 9, 9, 9, 9, 9, 9}};
  Packet* p = nullptr;
  Buffer* b0 = nullptr;
  Buffer* b1 = nullptr;
  ASSERT_EQ(pool->Allocate(&p), Status::kSuccess);
  ASSERT_EQ((*buffers)->Allocate(&b0, data[0], 8), Status::kSuccess);
  ASSERT_EQ((*buffers)->Allocate(&b1, data[1], 8), Status::kSuccess);
  ChainBufferAtBack(p, b0);
  ChainBufferAtBack(p, b1);
  AdjustBufferLength(b1, 3);
  p->oob().original_length = 11;

  ReinitializePacket(p);

  EXPECT_EQ(p->first_buffer(), nullptr);
  EXPECT_EQ(QueryPacket(*p).buffer_count, 0u);
  EXPECT_EQ(p->oob().original_length, 0u);
  // The packet is still allocated, and so are the buffers, with data and lengths intact.
  EXPECT_EQ(pool->Stats().in_use, 1u);
  EXPECT_EQ(pool->Stats().reinitialize_reuses, 1u);
  EXPECT_EQ((*buffers)->Stats().in_use, 2u);
  EXPECT_EQ(b0->address(), data[0]);
  EXPECT_EQ(b0->length(), 8u);
  EXPECT_EQ(b1->length(), 3u);
  EXPECT_EQ(data[0][7], 8);
  // The saved buffers can be chained again, and freed.
  EXPECT_EQ(ChainBufferAtBack(p, b1), Status::kSuccess);
  EXPECT_EQ(QueryPacket(*p).total_length, 3u);
  UnchainBufferAtFront(p);
  EXPECT_EQ(FreeBuffer(b0), Status::kSuccess);
  EXPECT_EQ(FreeBuffer(b1), Status::kSuccess);
  pool->Free(p);
}

TEST(PacketPool, DroppingPoolWhilePacketsOutDrainsThenFreesStorage) {
  TaggedMemory memory;
  std::vector<Packet*> packets;
  {
    auto pool = MakePool(4, 2, &memory);
    packets = AllocateAll(*pool, 6);  // 4 static + 2 overflow
    PacketPool* raw = pool.get();
    pool.reset();  // NdisFreePacketPool while packets are out
    // Still readable: the pool is draining.
    PoolStats stats = raw->Stats();
    EXPECT_TRUE(stats.draining);
    EXPECT_EQ(stats.in_use, 6u);
  }
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 3u);
  // The descriptors still work while their pool drains.
  packets[0]->oob().original_length = 60;
  for (size_t i = 0; i + 1 < packets.size(); ++i) {
    EXPECT_EQ(FreePacket(packets[i]), Status::kSuccess);
  }
  EXPECT_GE(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 1u);
  EXPECT_EQ(FreePacket(packets.back()), Status::kSuccess);  // the last one: pool goes
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 0u);
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).bytes_outstanding, 0u);
}

TEST(PacketPool, DroppingIdlePoolFreesStorageAtOnce) {
  TaggedMemory memory;
  {
    auto pool = MakePool(16, 0, &memory);
    auto packets = AllocateAll(*pool, 16);
    for (Packet* p : packets) pool->Free(p);
  }
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 0u);
}

TEST(PacketPool, DrainingPoolWithThreadCachesFreesStorageOnLastPacket) {
  // Big enough for per-thread caches: descriptors parked in caches must not keep a
  // draining pool alive.
  TaggedMemory memory;
  auto pool = MakePool(4096, 0, &memory);
  ASSERT_GT(pool->Stats().descriptors, 0u);
  auto packets = AllocateAll(*pool, 1000);
  for (size_t i = 0; i < 500; ++i) pool->Free(packets[i]);  // some go to this thread's cache
  pool.reset();
  for (size_t i = 500; i < 1000; ++i) EXPECT_EQ(FreePacket(packets[i]), Status::kSuccess);
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 0u);
}

TEST(PacketPool, BulkAllocateIsAllOrNothing) {
  auto pool = MakePool(40);
  Packet* packets[32];
  ASSERT_EQ(pool->AllocateBulk(packets, 32), Status::kSuccess);
  std::set<Packet*> distinct(packets, packets + 32);
  EXPECT_EQ(distinct.size(), 32u);
  Packet* more[32];
  EXPECT_EQ(pool->AllocateBulk(more, 32), Status::kResources);  // only 8 left
  EXPECT_EQ(pool->Stats().in_use, 32u);
  EXPECT_EQ(pool->Stats().resource_failures, 1u);
  EXPECT_EQ(pool->FreeBulk(packets, 32), Status::kSuccess);
  EXPECT_EQ(pool->Stats().in_use, 0u);
}

TEST(PacketPool, BulkAllocateUsesOverflowWhenStaticRunsOut) {
  auto pool = MakePool(20, 20);
  Packet* packets[32];
  ASSERT_EQ(pool->AllocateBulk(packets, 32), Status::kSuccess);
  EXPECT_EQ(pool->Stats().overflow_in_use, 12u);
  EXPECT_EQ(pool->FreeBulk(packets, 32), Status::kSuccess);
  EXPECT_EQ(pool->Stats().overflow_in_use, 0u);
}

TEST(PacketPool, FreeBulkReportsForeignButFreesTheRest) {
  auto pool = MakePool(4);
  auto other = MakePool(4);
  Packet* ours = nullptr;
  Packet* theirs = nullptr;
  pool->Allocate(&ours);
  other->Allocate(&theirs);
  Packet* batch[2] = {theirs, ours};
  EXPECT_EQ(pool->FreeBulk(batch, 2), Status::kInvalidPacket);
  EXPECT_EQ(pool->Stats().in_use, 0u);
  EXPECT_EQ(other->Stats().in_use, 1u);
  other->Free(theirs);
}

TEST(PacketPool, FreeBulkWithAPacketListedTwiceFreesItOnce) {
  auto pool = MakePool(64);
  Packet* packets[3];
  ASSERT_EQ(pool->AllocateBulk(packets, 3), Status::kSuccess);
  Packet* batch[4] = {packets[0], packets[1], packets[0], packets[2]};
  EXPECT_EQ(pool->FreeBulk(batch, 4), Status::kInvalidPacket);
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.frees, 3u);
  EXPECT_EQ(stats.in_use, 0u);
  // 64 distinct descriptors still come out, no more.
  std::set<Packet*> seen;
  std::vector<Packet*> all;
  Packet* p = nullptr;
  while (pool->Allocate(&p) == Status::kSuccess) {
    seen.insert(p);
    all.push_back(p);
  }
  EXPECT_EQ(seen.size(), 64u);
  EXPECT_EQ(all.size(), 64u);
  pool->FreeBulk(all.data(), static_cast<uint32_t>(all.size()));
}

// Free keeps descriptors clean instead of Allocate resetting them: a batch of packets
// with chains and OOB data comes back from AllocateBulk fresh.
TEST(PacketPool, FreeBulkCleansWhatItsUsersChangedAndAllocateBulkGivesThemFresh) {
  auto pool = MakePool(64);
  auto buffers = BufferPool::Create({.descriptors = 4});
  ASSERT_TRUE(buffers.ok());
  uint8_t data[4][8] = {};
  Packet* packets[8];
  ASSERT_EQ(pool->AllocateBulk(packets, 8), Status::kSuccess);
  Buffer* chained[4];
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ((*buffers)->Allocate(&chained[i], data[i], 8), Status::kSuccess);
  }
  ChainBufferAtBack(packets[1], chained[0]);
  ChainBufferAtBack(packets[1], chained[1]);
  ChainBufferAtFront(packets[6], chained[2]);
  packets[1]->oob().interface_index = 3;
  packets[3]->oob().timestamp = absl::FromUnixNanos(1);
  packets[4]->oob().send_status = Status::kFailure;
  packets[5]->oob() = PacketOob{};  // assigned, still the default
  packets[7]->oob().original_length = 1514;
  ChainBufferAtBack(packets[7], chained[3]);
  ASSERT_EQ(pool->FreeBulk(packets, 8), Status::kSuccess);
  EXPECT_EQ(pool->Stats().in_use, 0u);
  // Unlinked, not freed: each can be chained again.
  EXPECT_EQ((*buffers)->Stats().in_use, 4u);
  for (Buffer* b : chained) EXPECT_EQ(b->next(), nullptr);

  const std::set<Packet*> before(packets, packets + 8);
  Packet* again[8];
  ASSERT_EQ(pool->AllocateBulk(again, 8), Status::kSuccess);
  EXPECT_EQ(std::set<Packet*>(again, again + 8), before);  // the same descriptors
  for (Packet* p : again) {
    EXPECT_EQ(p->first_buffer(), nullptr);
    EXPECT_EQ(QueryPacket(*p).buffer_count, 0u);
    EXPECT_EQ(p->oob().timestamp, absl::UnixEpoch());
    EXPECT_EQ(p->oob().original_length, 0u);
    EXPECT_EQ(p->oob().interface_index, 0);
    EXPECT_EQ(p->oob().send_status, Status::kSuccess);
  }
  // A cleaned chain is really empty: chaining to it starts a new one.
  EXPECT_EQ(ChainBufferAtBack(again[0], chained[0]), Status::kSuccess);
  EXPECT_EQ(QueryPacket(*again[0]).buffer_count, 1u);
  UnchainBufferAtFront(again[0]);
  ASSERT_EQ(pool->FreeBulk(again, 8), Status::kSuccess);
  for (Buffer* b : chained) EXPECT_EQ(FreeBuffer(b), Status::kSuccess);
}

TEST(PacketPool, FreeBulkWithADirtyPacketListedTwiceFreesItOnce) {
  auto pool = MakePool(64);
  auto buffers = BufferPool::Create({.descriptors = 1});
  ASSERT_TRUE(buffers.ok());
  uint8_t data[8] = {};
  Packet* packets[3];
  ASSERT_EQ(pool->AllocateBulk(packets, 3), Status::kSuccess);
  Buffer* b = nullptr;
  ASSERT_EQ((*buffers)->Allocate(&b, data, 8), Status::kSuccess);
  ChainBufferAtBack(packets[1], b);
  packets[1]->oob().original_length = 60;
  Packet* batch[4] = {packets[1], packets[0], packets[1], packets[2]};
  EXPECT_EQ(pool->FreeBulk(batch, 4), Status::kInvalidPacket);
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.frees, 3u);
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_EQ(b->next(), nullptr);
  // Each descriptor is free once: 64 distinct come out, then RESOURCES.
  std::vector<Packet*> all(64);
  ASSERT_EQ(pool->AllocateBulk(all.data(), 64), Status::kSuccess);
  EXPECT_EQ(std::set<Packet*>(all.begin(), all.end()).size(), 64u);
  Packet* extra = nullptr;
  EXPECT_EQ(pool->Allocate(&extra), Status::kResources);
  for (Packet* p : all) {
    EXPECT_EQ(p->first_buffer(), nullptr);
    EXPECT_EQ(p->oob().original_length, 0u);
  }
  ASSERT_EQ(pool->FreeBulk(all.data(), 64), Status::kSuccess);
  EXPECT_EQ(FreeBuffer(b), Status::kSuccess);
}

TEST(PacketPool, FreeBulkRejectsForeignPointersInTheMiddleAndFreesTheRest) {
  auto pool = MakePool(64);
  auto other = MakePool(4);
  Packet* ours[4];
  ASSERT_EQ(pool->AllocateBulk(ours, 4), Status::kSuccess);
  Packet* theirs = nullptr;
  ASSERT_EQ(other->Allocate(&theirs), Status::kSuccess);
  Packet on_stack;
  // Inside our storage but not at a descriptor's start: never read, never freed.
  auto* inside = reinterpret_cast<Packet*>(reinterpret_cast<char*>(ours[2]) + 16);
  Packet* batch[7] = {ours[0], theirs, ours[1], inside, &on_stack, ours[2], ours[3]};
  EXPECT_EQ(pool->FreeBulk(batch, 7), Status::kInvalidPacket);
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.frees, 4u);
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_EQ(other->Stats().in_use, 1u);
  EXPECT_EQ(other->Stats().frees, 0u);
  std::vector<Packet*> all(64);
  ASSERT_EQ(pool->AllocateBulk(all.data(), 64), Status::kSuccess);
  EXPECT_EQ(std::set<Packet*>(all.begin(), all.end()).size(), 64u);
  ASSERT_EQ(pool->FreeBulk(all.data(), 64), Status::kSuccess);
  EXPECT_EQ(FreePacket(theirs), Status::kSuccess);
}

TEST(PacketPool, BulkStatsAreExactAcrossCacheRefillsAndFlushes) {
  auto pool = MakePool(4096);
  std::vector<Packet*> held;
  auto allocate = [&](uint32_t n) {
    std::vector<Packet*> batch(n);
    ASSERT_EQ(pool->AllocateBulk(batch.data(), n), Status::kSuccess);
    held.insert(held.end(), batch.begin(), batch.end());
  };
  auto free = [&](uint32_t n) {
    ASSERT_EQ(pool->FreeBulk(held.data() + held.size() - n, n), Status::kSuccess);
    held.resize(held.size() - n);
  };
  for (int i = 0; i < 10; ++i) allocate(32);
  for (int i = 0; i < 9; ++i) free(32);
  allocate(200);
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.allocations, 520u);
  EXPECT_EQ(stats.frees, 288u);
  EXPECT_EQ(stats.in_use, 232u);
  EXPECT_EQ(stats.free, 4096u - 232u);
  EXPECT_EQ(stats.high_watermark, 320u);
  free(static_cast<uint32_t>(held.size()));
  stats = pool->Stats();
  EXPECT_EQ(stats.allocations, stats.frees);
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_EQ(stats.high_watermark, 320u);
  EXPECT_EQ(stats.resource_failures, 0u);
}

TEST(PacketPool, FreeBulkOfTheLastPacketsDrainsAClosedPool) {
  TaggedMemory memory;
  auto pool = MakePool(256, 0, &memory);
  std::vector<Packet*> packets(200);
  for (uint32_t i = 0; i < 200; i += 40) {
    ASSERT_EQ(pool->AllocateBulk(&packets[i], 40), Status::kSuccess);
  }
  PacketPool* raw = pool.get();
  pool.reset();
  EXPECT_EQ(raw->FreeBulk(packets.data(), 100), Status::kSuccess);
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 1u);
  EXPECT_EQ(raw->FreeBulk(&packets[100], 100), Status::kSuccess);
  EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 0u);
}

TEST(PacketPool, StatsCountAllocationsFreesAndHighWatermark) {
  auto pool = MakePool(200, 0);
  auto packets = AllocateAll(*pool, 150);
  for (Packet* p : packets) pool->Free(p);
  packets = AllocateAll(*pool, 10);
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.kind, PoolKind::kPacket);
  EXPECT_EQ(stats.tag, "PKPL");
  EXPECT_EQ(stats.descriptors, 200u);
  EXPECT_EQ(stats.allocations, 160u);
  EXPECT_EQ(stats.frees, 150u);
  EXPECT_EQ(stats.in_use, 10u);
  EXPECT_EQ(stats.free, 190u);
  EXPECT_EQ(stats.high_watermark, 150u);
  EXPECT_EQ(stats.memory_bytes % 64, 0u);
  EXPECT_GE(stats.memory_bytes, 200 * sizeof(Packet));
  for (Packet* p : packets) pool->Free(p);
}

TEST(PacketPool, AllocationsEqualFreesPlusInUse) {
  auto pool = MakePool(300, 10);
  std::vector<Packet*> held;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 7; ++i) {
      Packet* p = nullptr;
      if (pool->Allocate(&p) == Status::kSuccess) held.push_back(p);
    }
    for (int i = 0; i < 3 && !held.empty(); ++i) {
      pool->Free(held.back());
      held.pop_back();
    }
    PoolStats s = pool->Stats();
    ASSERT_EQ(s.allocations, s.frees + s.in_use);
    ASSERT_EQ(s.in_use, held.size());
  }
  for (Packet* p : held) pool->Free(p);
}

}  // namespace
}  // namespace pktpool::pool
