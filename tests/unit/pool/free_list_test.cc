// FreeList (daemon/pool/internal), the allocator under both pools: how its per-thread
// caches refill and flush, and the counts they must keep exact while doing it.
#include "daemon/pool/internal/free_list.h"

#include <barrier>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/pool/limits.h"

namespace pktpool::pool::internal {
namespace {

// FreeList never reads or writes its descriptors, so plain bytes stand in for them.
constexpr size_t kStride = 64;

struct List {
  explicit List(uint32_t count)
      : storage(size_t{count} * kStride),
        list(storage.data(), kStride, count, /*overflow_limit=*/0, OverflowOps{},
             FreeList::CacheCapacityFor(count)) {}
  std::vector<char> storage;
  FreeList list;
};

// Batches handed from one thread to another (the transmit path's shape: one thread
// allocates, another frees).
class Handoff {
 public:
  void Push(std::vector<void*> batch) {
    std::lock_guard<std::mutex> lock(mu_);
    batches_.push_back(std::move(batch));
    ready_.notify_one();
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    ready_.notify_one();
  }
  std::optional<std::vector<void*>> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait(lock, [this] { return closed_ || !batches_.empty(); });
    if (batches_.empty()) return std::nullopt;
    std::vector<void*> batch = std::move(batches_.front());
    batches_.pop_front();
    return batch;
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::vector<void*>> batches_;
  bool closed_ = false;
};

TEST(FreeList, BulkGetRefillsTheCacheSoAnAllocateOnlyThreadRarelyLocks) {
  constexpr uint32_t kCount = 4096;
  constexpr uint32_t kBatch = 32;
  constexpr uint32_t kRounds = 64;
  List l(kCount);
  FreeList& list = l.list;
  ASSERT_EQ(list.cache_capacity(), 256u);
  Handoff handoff;
  std::thread consumer([&] {
    while (std::optional<std::vector<void*>> batch = handoff.Pop()) {
      EXPECT_EQ(list.PutStaticBulk(batch->data(), kBatch), PutResult::kReturned);
    }
  });
  std::thread producer([&] {
    for (uint32_t round = 0; round < kRounds; ++round) {
      std::vector<void*> batch(kBatch);
      ASSERT_TRUE(list.GetBulk(batch.data(), kBatch));
      handoff.Push(std::move(batch));
    }
    handoff.Close();
  });
  producer.join();
  consumer.join();

  const FreeListCounts counts = list.Counts();
  EXPECT_EQ(counts.gets, uint64_t{kRounds} * kBatch);
  EXPECT_EQ(counts.puts, uint64_t{kRounds} * kBatch);
  EXPECT_EQ(counts.in_use, 0u);
  EXPECT_EQ(counts.failures, 0u);
  // A locked bulk get leaves half a cache (128 descriptors, four batches) behind, so one
  // get in five locks; without the refill every one of the 64 did.
  EXPECT_LE(counts.locked_gets, kRounds / 4);
  // The consumer's cache is flushed down to half when full: one put in four locks.
  EXPECT_LE(counts.locked_puts, kRounds / 4 + 1);

  // Exhaustion is still exact: every descriptor, in whichever cache, comes out once.
  std::vector<void*> all(kCount);
  ASSERT_TRUE(list.GetBulk(all.data(), kCount));
  EXPECT_EQ(std::set<void*>(all.begin(), all.end()).size(), kCount);
  void* extra = nullptr;
  EXPECT_FALSE(list.GetBulk(&extra, 1));
  EXPECT_EQ(list.Get(), nullptr);
  EXPECT_EQ(list.Counts().failures, 2u);
  EXPECT_EQ(list.PutStaticBulk(all.data(), kCount), PutResult::kReturned);
  EXPECT_EQ(list.Counts().in_use, 0u);
}

TEST(FreeList, CountsAndHighWatermarkAreExactForOneThreadAcrossRefillsAndFlushes) {
  List l(4096);
  FreeList& list = l.list;
  std::vector<void*> held;
  auto get_bulk = [&](uint32_t n) {
    std::vector<void*> batch(n);
    ASSERT_TRUE(list.GetBulk(batch.data(), n));
    held.insert(held.end(), batch.begin(), batch.end());
  };
  auto put_bulk = [&](uint32_t n) {
    ASSERT_EQ(list.PutStaticBulk(held.data() + held.size() - n, n), PutResult::kReturned);
    held.resize(held.size() - n);
  };
  for (int i = 0; i < 10; ++i) get_bulk(32);  // 320 out: two refills on the way
  for (int i = 0; i < 6; ++i) put_bulk(32);   // 128 out
  for (int i = 0; i < 40; ++i) held.push_back(list.Get());
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(list.PutStatic(held.back()), PutResult::kReturned);
    held.pop_back();
  }
  get_bulk(64);  // 132 out
  FreeListCounts counts = list.Counts();
  EXPECT_EQ(counts.gets, 320u + 40u + 64u);
  EXPECT_EQ(counts.puts, 192u + 100u);
  EXPECT_EQ(counts.in_use, 132u);
  EXPECT_EQ(counts.high_watermark, 320u);
  EXPECT_EQ(list.PutStaticBulk(held.data(), static_cast<uint32_t>(held.size())),
            PutResult::kReturned);
  counts = list.Counts();
  EXPECT_EQ(counts.in_use, 0u);
  EXPECT_EQ(counts.gets, counts.puts);
  EXPECT_EQ(counts.high_watermark, 320u);
}

TEST(FreeList, HighWatermarkSeesAPeakThatOnlyTheFastPathReached) {
  List l(4096);
  FreeList& list = l.list;
  void* first[32];
  ASSERT_TRUE(list.GetBulk(first, 32));  // locked: attaches the cache and refills it
  void* more[100];
  ASSERT_TRUE(list.GetBulk(more, 100));  // 132 out, from the cache
  ASSERT_EQ(list.PutStaticBulk(more, 100), PutResult::kReturned);
  for (int i = 0; i < 3; ++i) {
    void* one = list.Get();
    ASSERT_EQ(list.PutStatic(one), PutResult::kReturned);
  }
  FreeListCounts counts = list.Counts();
  ASSERT_EQ(counts.locked_gets, 1u);  // the peak was never seen by a locked call
  ASSERT_EQ(counts.locked_puts, 0u);
  EXPECT_EQ(counts.in_use, 32u);
  EXPECT_EQ(counts.high_watermark, 132u);
  ASSERT_EQ(list.PutStaticBulk(first, 32), PutResult::kReturned);
  EXPECT_EQ(list.Counts().high_watermark, 132u);
}

TEST(FreeList, ThreadsBeyondTheSlotLimitShareTheListExactly) {
  // More threads alive at once than there are cache slots: the last ones have no cache
  // and go through the locked path every time.
  constexpr int kThreads = kMaxThreadSlots + 6;
  constexpr int kRounds = 200;
  List l(4096);
  FreeList& list = l.list;
  std::barrier all_alive(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      all_alive.arrive_and_wait();
      for (int round = 0; round < kRounds; ++round) {
        void* one = list.Get();
        ASSERT_NE(one, nullptr);
        void* batch[8];
        ASSERT_TRUE(list.GetBulk(batch, 8));
        ASSERT_EQ(list.PutStaticBulk(batch, 8), PutResult::kReturned);
        ASSERT_EQ(list.PutStatic(one), PutResult::kReturned);
      }
      all_alive.arrive_and_wait();  // no thread gives its slot back before all are done
    });
  }
  for (std::thread& thread : threads) thread.join();
  const FreeListCounts counts = list.Counts();
  EXPECT_EQ(counts.gets, uint64_t{kThreads} * kRounds * 9);
  EXPECT_EQ(counts.puts, counts.gets);
  EXPECT_EQ(counts.in_use, 0u);
  EXPECT_EQ(counts.failures, 0u);
  std::vector<void*> all(4096);
  ASSERT_TRUE(list.GetBulk(all.data(), 4096));
  EXPECT_EQ(std::set<void*>(all.begin(), all.end()).size(), 4096u);
  EXPECT_EQ(list.Get(), nullptr);
  EXPECT_EQ(list.PutStaticBulk(all.data(), 4096), PutResult::kReturned);
}

}  // namespace
}  // namespace pktpool::pool::internal
