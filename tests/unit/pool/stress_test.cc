// Bounded multi-thread stress of the pools: fixed thread and iteration counts, no
// timing. Checks that no descriptor is handed out twice, that allocations equal frees
// plus in use, and that a pool closed while other threads free drains exactly once.
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/pool/buffer_pool.h"
#include "daemon/pool/packet_pool.h"

namespace pktpool::pool {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kIterations = 20000;
#else
constexpr int kIterations = 100000;
#endif
constexpr int kThreads = 4;

// The first 4 bytes of ProtocolReserved hold the owner thread + 1 while a packet is out.
std::atomic_ref<uint32_t> Owner(Packet* p) {
  return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(p->protocol_reserved().data()));
}

// A mailbox so packets allocated on one thread are freed on another.
struct Mailbox {
  std::mutex mu;
  std::deque<Packet*> packets;
};

struct Tally {
  std::atomic<uint64_t> allocated{0};
  std::atomic<uint64_t> freed{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> double_handouts{0};
};

void Worker(PacketPool* pool, int id, Mailbox* mine, Mailbox* next, Tally* tally) {
  std::mt19937 rng(id);
  std::vector<Packet*> held;
  auto free_one = [&](Packet* p) {
    Owner(p).store(0, std::memory_order_relaxed);
    ASSERT_EQ(FreePacket(p), Status::kSuccess);
    tally->freed.fetch_add(1, std::memory_order_relaxed);
  };
  for (int i = 0; i < kIterations; ++i) {
    const unsigned action = rng() % 8;
    if (action < 4) {
      Packet* p = nullptr;
      if (pool->Allocate(&p) == Status::kSuccess) {
        uint32_t expected = 0;
        if (!Owner(p).compare_exchange_strong(expected, id + 1)) {
          tally->double_handouts.fetch_add(1);
        }
        tally->allocated.fetch_add(1, std::memory_order_relaxed);
        held.push_back(p);
      } else {
        tally->refused.fetch_add(1, std::memory_order_relaxed);
      }
    } else if (action < 6 && !held.empty()) {
      free_one(held.back());
      held.pop_back();
    } else if (action == 6 && !held.empty()) {
      std::lock_guard<std::mutex> lock(next->mu);
      Owner(held.back()).store(0, std::memory_order_relaxed);
      next->packets.push_back(held.back());
      held.pop_back();
    } else {
      std::deque<Packet*> inbox;
      {
        std::lock_guard<std::mutex> lock(mine->mu);
        inbox.swap(mine->packets);
      }
      for (Packet* p : inbox) {
        tally->freed.fetch_add(1, std::memory_order_relaxed);
        ASSERT_EQ(FreePacket(p), Status::kSuccess);
      }
    }
    if (held.size() > 300) {
      Packet* bulk[32];
      if (pool->AllocateBulk(bulk, 32) == Status::kSuccess) {
        for (Packet* p : bulk) {
          uint32_t expected = 0;
          if (!Owner(p).compare_exchange_strong(expected, id + 1)) tally->double_handouts.fetch_add(1);
          tally->allocated.fetch_add(1, std::memory_order_relaxed);
          held.push_back(p);
        }
      }
      while (held.size() > 100) {
        free_one(held.back());
        held.pop_back();
      }
    }
  }
  for (Packet* p : held) free_one(p);
}

TEST(PoolStress, ConcurrentAllocateFreeNeverHandsOutTwiceAndCountsBalance) {
  // Small enough that threads exhaust it (steals and overflow run), big enough for caches.
  auto pool = std::move(PacketPool::Create({.descriptors = 512, .overflow_descriptors = 64}))
                  .value();
  Tally tally;
  std::vector<Mailbox> mailboxes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(Worker, pool.get(), t, &mailboxes[t], &mailboxes[(t + 1) % kThreads],
                         &tally);
  }
  for (auto& t : threads) t.join();
  for (auto& box : mailboxes) {
    for (Packet* p : box.packets) {
      ASSERT_EQ(FreePacket(p), Status::kSuccess);
      tally.freed.fetch_add(1);
    }
  }
  EXPECT_EQ(tally.double_handouts.load(), 0u);
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.allocations, tally.allocated.load());
  EXPECT_EQ(stats.frees, tally.freed.load());
  EXPECT_EQ(stats.allocations, stats.frees + stats.in_use);
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_EQ(stats.overflow_in_use, 0u);
  EXPECT_EQ(stats.free, 512u);
  EXPECT_LE(stats.high_watermark, 512u + 64u);
  // Every refusal, single or bulk, was counted by the pool.
  EXPECT_GE(stats.resource_failures, tally.refused.load());
  // All 512 static descriptors are still there exactly once: take them all.
  std::vector<Packet*> all(512);
  std::set<Packet*> distinct;
  for (auto& p : all) {
    ASSERT_EQ(pool->Allocate(&p), Status::kSuccess);
    EXPECT_FALSE(p->is_overflow());
    distinct.insert(p);
  }
  EXPECT_EQ(distinct.size(), 512u);
  for (Packet* p : all) pool->Free(p);
}

TEST(PoolStress, ExhaustionIsExactWhileOtherThreadsCacheDescriptors) {
  // Thread A frees into its cache; thread B must still get every free descriptor
  // before being refused (the steal path).
  auto pool = std::move(PacketPool::Create({.descriptors = 1024})).value();
  std::vector<Packet*> packets(1024);
  for (auto& p : packets) ASSERT_EQ(pool->Allocate(&p), Status::kSuccess);
  // A stays alive while B allocates, so A's cache slot is not handed to B.
  std::atomic<bool> a_freed{false};
  std::atomic<bool> b_done{false};
  std::thread a([&] {
    for (int i = 0; i < 200; ++i) ASSERT_EQ(pool->Free(packets[i]), Status::kSuccess);
    a_freed.store(true);
    while (!b_done.load()) std::this_thread::yield();
  });
  while (!a_freed.load()) std::this_thread::yield();
  int got = 0;
  std::thread b([&] {
    Packet* p = nullptr;
    while (got < 1000 && pool->Allocate(&p) == Status::kSuccess) packets[got++] = p;
  });
  b.join();
  b_done.store(true);
  a.join();
  EXPECT_EQ(got, 200);
  for (int i = 0; i < 200; ++i) pool->Free(packets[i]);
  for (int i = 200; i < 1024; ++i) pool->Free(packets[i]);
  EXPECT_EQ(pool->Stats().in_use, 0u);
}

TEST(PoolStress, PoolClosedWhileThreadsFreeDrainsExactlyOnce) {
  for (int round = 0; round < 20; ++round) {
    TaggedMemory memory;
    auto pool = std::move(PacketPool::Create(
                              {.descriptors = 2048, .overflow_descriptors = 16, .memory = &memory}))
                    .value();
    std::vector<Packet*> packets(2048 + 16);
    for (auto& p : packets) ASSERT_EQ(pool->Allocate(&p), Status::kSuccess);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    const size_t share = packets.size() / kThreads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        for (size_t i = t * share; i < (t + 1) * share; ++i) {
          ASSERT_EQ(FreePacket(packets[i]), Status::kSuccess);
        }
      });
    }
    go.store(true);
    pool.reset();  // closes while the threads are freeing
    for (auto& t : threads) t.join();
    EXPECT_EQ(memory.Usage(MemoryTag("PKPL")).blocks_outstanding, 0u) << "round " << round;
  }
}

TEST(PoolStress, BufferPoolConcurrentAllocateFreeRespectsHardLimit) {
  constexpr uint32_t kDescriptors = 256;
  auto pool = std::move(BufferPool::Create({.descriptors = kDescriptors})).value();
  std::atomic<int> out{0};
  std::atomic<int> max_out{0};
  std::atomic<uint64_t> failures{0};
  std::vector<std::thread> threads;
  uint8_t memory[64];
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<Buffer*> held;
      for (int i = 0; i < kIterations / 2; ++i) {
        if (rng() % 2 == 0) {
          Buffer* b = nullptr;
          if (pool->Allocate(&b, memory, 64) == Status::kSuccess) {
            int now = out.fetch_add(1) + 1;
            int seen = max_out.load();
            while (now > seen && !max_out.compare_exchange_weak(seen, now)) {
            }
            held.push_back(b);
          } else {
            failures.fetch_add(1);
          }
        } else if (!held.empty()) {
          out.fetch_sub(1);
          ASSERT_EQ(pool->Free(held.back()), Status::kSuccess);
          held.pop_back();
        }
      }
      for (Buffer* b : held) {
        out.fetch_sub(1);
        pool->Free(b);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_out.load(), static_cast<int>(kDescriptors));
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_EQ(stats.allocations, stats.frees);
  EXPECT_EQ(stats.resource_failures, failures.load());
}

}  // namespace
}  // namespace pktpool::pool
