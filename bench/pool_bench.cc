// pool_bench: pktpool's packet and buffer pools against their peers, in one run.
//
// Ours: PacketPool / BufferPool fast paths (allocate + free, packet + buffer chain cycle,
// reinitialize-and-reuse versus free-and-allocate, bulk of 32, one versus two threads).
// Peers: glibc malloc/free of the same sizes, a std::mutex-protected free list of the same
// descriptors, and (when built with Debian's libdpdk-dev) DPDK's rte_mempool with and
// without a per-lcore cache. After the benchmarks, a table of ratios computed from this
// run's own figures is printed with PASS/MISS against the project's targets. It is a
// report, not a test: the exit code is 0 whether or not a target is met.
//
// Usage: pool_bench [--benchmark_* flags]   (default --benchmark_min_time=0.2)

#include <benchmark/benchmark.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "daemon/pool/buffer_pool.h"
#include "daemon/pool/limits.h"
#include "daemon/pool/packet.h"
#include "daemon/pool/packet_pool.h"
#include "daemon/pool/status.h"

#if PKTPOOL_HAVE_DPDK
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#pragma GCC diagnostic pop
#endif

namespace {

using pktpool::pool::Buffer;
using pktpool::pool::BufferPool;
using pktpool::pool::Packet;
using pktpool::pool::PacketPool;
using pktpool::pool::Status;

constexpr uint32_t kDescriptors = 8192;  // packet descriptors, buffer descriptors, slab slots
constexpr uint32_t kDataBytes = 2048;    // one slab slot / one malloc'd data block
constexpr uint32_t kBulk = 32;

constexpr size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }
// The size of one packet descriptor as PacketPool lays it out (packet_pool.cc): the Packet,
// its 16-byte aligned ProtocolReserved area (default 32 bytes), rounded to a cache line.
// The peers allocate blocks of exactly this size.
constexpr size_t kDescriptorBytes =
    RoundUp(RoundUp(sizeof(Packet), pktpool::pool::kProtocolReservedAlignment) +
                RoundUp(pktpool::pool::kDefaultProtocolReservedLength,
                        pktpool::pool::kProtocolReservedAlignment),
            64);

// ---- our pools -------------------------------------------------------------------------

// One packet pool, one buffer pool and a 2 KiB-per-slot data slab, shared by every "ours"
// benchmark (and by both threads of the threaded one). Created on first use.
struct OurPools {
  PacketPool::Handle packets;
  BufferPool::Handle buffers;
  uint8_t* slab = nullptr;

  OurPools() {
    pktpool::pool::PacketPoolOptions packet_options;
    packet_options.descriptors = kDescriptors;
    auto p = PacketPool::Create(packet_options);
    if (!p.ok()) {
      std::fprintf(stderr, "PacketPool::Create: %s\n", p.status().ToString().c_str());
      std::abort();
    }
    packets = std::move(*p);
    pktpool::pool::BufferPoolOptions buffer_options;
    buffer_options.descriptors = kDescriptors;
    auto b = BufferPool::Create(buffer_options);
    if (!b.ok()) {
      std::fprintf(stderr, "BufferPool::Create: %s\n", b.status().ToString().c_str());
      std::abort();
    }
    buffers = std::move(*b);
    slab = static_cast<uint8_t*>(
        ::operator new(size_t{kDescriptors} * kDataBytes, std::align_val_t(64)));
    std::memset(slab, 0, size_t{kDescriptors} * kDataBytes);
  }
  ~OurPools() { ::operator delete(slab, std::align_val_t(64)); }
  OurPools(const OurPools&) = delete;
  OurPools& operator=(const OurPools&) = delete;

  // The next slab slot, round robin (per thread).
  uint8_t* NextSlot() {
    thread_local uint32_t next = 0;
    next = (next + 1) & (kDescriptors - 1);
    return slab + size_t{next} * kDataBytes;
  }
};

OurPools& Ours() {
  static OurPools pools;
  return pools;
}

// NdisAllocatePacket + NdisFreePacket.
void BM_Ours_PacketAllocFree(benchmark::State& state) {
  PacketPool& pool = *Ours().packets;
  for (auto _ : state) {
    Packet* p = nullptr;
    if (pool.Allocate(&p) != Status::kSuccess) {
      state.SkipWithError("Allocate failed");
      break;
    }
    benchmark::DoNotOptimize(p);
    if (pool.Free(p) != Status::kSuccess) {
      state.SkipWithError("Free failed");
      break;
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ours_PacketAllocFree);

// Packet + one buffer mapping a 2 KiB slab slot: allocate both, chain, unchain, free both.
void BM_Ours_PacketBufferCycle(benchmark::State& state) {
  OurPools& ours = Ours();
  PacketPool& packets = *ours.packets;
  BufferPool& buffers = *ours.buffers;
  for (auto _ : state) {
    Packet* p = nullptr;
    Buffer* b = nullptr;
    if (packets.Allocate(&p) != Status::kSuccess ||
        buffers.Allocate(&b, ours.NextSlot(), kDataBytes) != Status::kSuccess) {
      state.SkipWithError("Allocate failed");
      break;
    }
    pktpool::pool::ChainBufferAtBack(p, b);
    benchmark::DoNotOptimize(p);
    Buffer* out = pktpool::pool::UnchainBufferAtFront(p);
    benchmark::DoNotOptimize(out);
    if (buffers.Free(out) != Status::kSuccess || packets.Free(p) != Status::kSuccess) {
      state.SkipWithError("Free failed");
      break;
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ours_PacketBufferCycle);

// A packet with one chained buffer, recycled in place: save the buffer, ReinitializePacket,
// RestoreBufferLength, chain it again.
void BM_Ours_ReinitializeReuse(benchmark::State& state) {
  OurPools& ours = Ours();
  Packet* p = nullptr;
  Buffer* b = nullptr;
  if (ours.packets->Allocate(&p) != Status::kSuccess ||
      ours.buffers->Allocate(&b, ours.NextSlot(), kDataBytes) != Status::kSuccess) {
    state.SkipWithError("Allocate failed");
    return;
  }
  pktpool::pool::ChainBufferAtBack(p, b);
  for (auto _ : state) {
    Buffer* saved = p->first_buffer();
    pktpool::pool::ReinitializePacket(p);
    pktpool::pool::RestoreBufferLength(saved);
    pktpool::pool::ChainBufferAtBack(p, saved);
    benchmark::DoNotOptimize(p);
    benchmark::ClobberMemory();
  }
  b = pktpool::pool::UnchainBufferAtFront(p);
  ours.buffers->Free(b);
  ours.packets->Free(p);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ours_ReinitializeReuse);

// The same recycling done the expensive way: unchain, free buffer, free packet, allocate
// packet, allocate buffer, chain.
void BM_Ours_FreeAndAllocate(benchmark::State& state) {
  OurPools& ours = Ours();
  PacketPool& packets = *ours.packets;
  BufferPool& buffers = *ours.buffers;
  Packet* p = nullptr;
  Buffer* b = nullptr;
  if (packets.Allocate(&p) != Status::kSuccess ||
      buffers.Allocate(&b, ours.NextSlot(), kDataBytes) != Status::kSuccess) {
    state.SkipWithError("Allocate failed");
    return;
  }
  pktpool::pool::ChainBufferAtBack(p, b);
  for (auto _ : state) {
    Buffer* out = pktpool::pool::UnchainBufferAtFront(p);
    if (buffers.Free(out) != Status::kSuccess || packets.Free(p) != Status::kSuccess) {
      state.SkipWithError("Free failed");
      break;
    }
    if (packets.Allocate(&p) != Status::kSuccess ||
        buffers.Allocate(&b, ours.NextSlot(), kDataBytes) != Status::kSuccess) {
      state.SkipWithError("Allocate failed");
      break;
    }
    pktpool::pool::ChainBufferAtBack(p, b);
    benchmark::DoNotOptimize(p);
    benchmark::ClobberMemory();
  }
  if (p != nullptr && p->first_buffer() != nullptr) {
    b = pktpool::pool::UnchainBufferAtFront(p);
    buffers.Free(b);
    packets.Free(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ours_FreeAndAllocate);

// Adds the per-object counters of a bulk benchmark: items/s and "t/obj" (seconds per
// object, shown with an SI suffix, e.g. 1.5n = 1.5 ns).
void CountBulk(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kBulk);
  state.counters["t/obj"] =
      benchmark::Counter(kBulk, benchmark::Counter::kIsIterationInvariantRate |
                                    benchmark::Counter::kInvert);
}

// AllocateBulk(32) + FreeBulk(32); time is per 32 packets, t/obj per packet.
void BM_Ours_Bulk32(benchmark::State& state) {
  PacketPool& pool = *Ours().packets;
  Packet* packets[kBulk];
  for (auto _ : state) {
    if (pool.AllocateBulk(packets, kBulk) != Status::kSuccess) {
      state.SkipWithError("AllocateBulk failed");
      break;
    }
    benchmark::DoNotOptimize(packets);
    if (pool.FreeBulk(packets, kBulk) != Status::kSuccess) {
      state.SkipWithError("FreeBulk failed");
      break;
    }
    benchmark::ClobberMemory();
  }
  CountBulk(state);
}
BENCHMARK(BM_Ours_Bulk32);

// Allocate + Free from every benchmark thread on one shared pool. Real time, so
// items_per_second is the total throughput of all threads.
void BM_Ours_Threads(benchmark::State& state) {
  PacketPool& pool = *Ours().packets;
  for (auto _ : state) {
    Packet* p = nullptr;
    if (pool.Allocate(&p) != Status::kSuccess) {
      state.SkipWithError("Allocate failed");
      break;
    }
    benchmark::DoNotOptimize(p);
    if (pool.Free(p) != Status::kSuccess) {
      state.SkipWithError("Free failed");
      break;
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ours_Threads)->Threads(1)->Threads(2)->UseRealTime();

// The transmit path's shape: one thread allocates batches of 32 (AllocateBulk), another
// frees them (FreeBulk), handed over through a bounded single-producer single-consumer
// ring. Neither thread's cache ever gets back what it gives, so this measures how often
// the producer's and the consumer's locked paths refill and flush their caches, and what
// it costs that each descriptor's cache line moves between the two cores twice per
// batch (its state is written on both sides). Real time per 32 packets, t/obj per packet.
class BatchRing {
 public:
  static constexpr uint32_t kBatches = 64;  // 2048 packets in flight at most
  Packet** Slot(uint64_t index) { return batches_[index % kBatches]; }
  // Producer side: the next free slot, or null while the ring is full.
  Packet** ProducerSlot() {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    return tail - head_.load(std::memory_order_acquire) < kBatches ? Slot(tail) : nullptr;
  }
  void Publish() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  // Consumer side: the oldest published batch, or null while the ring is empty.
  Packet** ConsumerSlot() {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    return head != tail_.load(std::memory_order_acquire) ? Slot(head) : nullptr;
  }
  void Release() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

 private:
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  alignas(64) Packet* batches_[kBatches][kBulk];
};

// The first two CPUs this process may run on, or false when it may use only one.
bool TwoCpus(int* first, int* second) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return false;
  int found = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) *(found++ == 0 ? first : second) = cpu;
  }
  return found == 2;
}

void PinTo(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  sched_setaffinity(0, sizeof one, &one);
}

void BM_Ours_ProducerConsumerBulk32(benchmark::State& state) {
  PacketPool& pool = *Ours().packets;
  auto ring = std::make_unique<BatchRing>();
  std::atomic<bool> producing{true};
  std::atomic<bool> failed{false};
  // Producer and consumer on two different CPUs, as the daemon's threads are: left to the
  // scheduler, they sometimes share one CPU, and the figure jumps between two modes (the
  // descriptors' cache lines stay in one core's cache, or move for every batch).
  cpu_set_t saved;
  CPU_ZERO(&saved);
  const bool have_saved = sched_getaffinity(0, sizeof saved, &saved) == 0;
  int producer_cpu = 0;
  int consumer_cpu = 0;
  const bool pin = have_saved && TwoCpus(&producer_cpu, &consumer_cpu);
  if (pin) PinTo(producer_cpu);
  std::thread consumer([&] {
    if (pin) PinTo(consumer_cpu);
    for (;;) {
      Packet** batch = ring->ConsumerSlot();
      if (batch == nullptr) {
        if (!producing.load(std::memory_order_acquire) && ring->ConsumerSlot() == nullptr) break;
        std::this_thread::yield();  // the machine may have fewer free cores than threads
        continue;
      }
      if (pool.FreeBulk(batch, kBulk) != Status::kSuccess) failed.store(true);
      ring->Release();
    }
  });
  for (auto _ : state) {
    Packet** slot;
    while ((slot = ring->ProducerSlot()) == nullptr) std::this_thread::yield();
    if (pool.AllocateBulk(slot, kBulk) != Status::kSuccess) {
      state.SkipWithError("AllocateBulk failed");
      break;
    }
    ring->Publish();
  }
  producing.store(false, std::memory_order_release);
  consumer.join();
  if (have_saved) sched_setaffinity(0, sizeof saved, &saved);
  if (failed.load()) state.SkipWithError("FreeBulk failed");
  CountBulk(state);
}
BENCHMARK(BM_Ours_ProducerConsumerBulk32)->UseRealTime();

// ---- peer: glibc malloc ------------------------------------------------------------------

// malloc + free of one descriptor-sized block: the like-for-like peer of packet alloc+free.
void BM_Malloc_Descriptor(benchmark::State& state) {
  for (auto _ : state) {
    void* d = std::malloc(kDescriptorBytes);
    if (d == nullptr) {
      state.SkipWithError("malloc failed");
      break;
    }
    benchmark::DoNotOptimize(d);
    std::free(d);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Malloc_Descriptor);

// malloc(descriptor) + malloc(2 KiB data) and both frees: a packet with its data.
void BM_Malloc_DescriptorAndData(benchmark::State& state) {
  for (auto _ : state) {
    void* d = std::malloc(kDescriptorBytes);
    void* data = std::malloc(kDataBytes);
    if (d == nullptr || data == nullptr) {
      state.SkipWithError("malloc failed");
      break;
    }
    benchmark::DoNotOptimize(d);
    benchmark::DoNotOptimize(data);
    std::free(data);
    std::free(d);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Malloc_DescriptorAndData);

// ---- peer: the obvious pool, a free list under one std::mutex ---------------------------

class MutexFreeList {
 public:
  MutexFreeList()
      : storage_(static_cast<char*>(
            ::operator new(kDescriptorBytes * kDescriptors, std::align_val_t(64)))) {
    free_.reserve(kDescriptors);
    for (uint32_t i = 0; i < kDescriptors; ++i) {
      free_.push_back(storage_ + size_t{i} * kDescriptorBytes);
    }
  }
  ~MutexFreeList() { ::operator delete(storage_, std::align_val_t(64)); }
  MutexFreeList(const MutexFreeList&) = delete;
  MutexFreeList& operator=(const MutexFreeList&) = delete;

  void* Get() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return nullptr;
    void* object = free_.back();
    free_.pop_back();
    return object;
  }
  void Put(void* object) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(object);
  }
  bool GetBulk(void** out, uint32_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < n) return false;
    std::copy(free_.end() - n, free_.end(), out);
    free_.resize(free_.size() - n);
    return true;
  }
  void PutBulk(void* const* objects, uint32_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.insert(free_.end(), objects, objects + n);
  }

 private:
  char* const storage_;
  std::mutex mu_;
  std::vector<void*> free_;
};

MutexFreeList& Locked() {
  static MutexFreeList list;
  return list;
}

void BM_MutexList_GetPut(benchmark::State& state) {
  MutexFreeList& list = Locked();
  for (auto _ : state) {
    void* d = list.Get();
    if (d == nullptr) {
      state.SkipWithError("Get failed");
      break;
    }
    benchmark::DoNotOptimize(d);
    list.Put(d);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MutexList_GetPut);

void BM_MutexList_Bulk32(benchmark::State& state) {
  MutexFreeList& list = Locked();
  void* objects[kBulk];
  for (auto _ : state) {
    if (!list.GetBulk(objects, kBulk)) {
      state.SkipWithError("GetBulk failed");
      break;
    }
    benchmark::DoNotOptimize(objects);
    list.PutBulk(objects, kBulk);
    benchmark::ClobberMemory();
  }
  CountBulk(state);
}
BENCHMARK(BM_MutexList_Bulk32);

// ---- peer: DPDK rte_mempool ------------------------------------------------------------

#if PKTPOOL_HAVE_DPDK
constexpr unsigned kDpdkElements = kDescriptors - 1;  // 2^n - 1 is optimal for the ring
constexpr unsigned kDpdkCache = 256;

struct Dpdk {
  bool eal = false;
  std::string runtime_dir;
  rte_mempool* cached = nullptr;
  rte_mempool* uncached = nullptr;
};

Dpdk& TheDpdk() {
  static Dpdk dpdk;
  return dpdk;
}

// Starts the EAL without hugepages, PCI, telemetry or shared config files, on lcore 0
// mapped to every CPU (so benchmark threads are not pinned to one core), and creates the
// two mempools. Returns false, after saying why on stderr, when anything fails.
bool StartDpdk() {
  Dpdk& dpdk = TheDpdk();
  // lcore 0 runs on every CPU this process may use ("--lcores=0@(0,1,...)"); a plain
  // "-l 0" would pin the main thread, and so the benchmark threads it spawns, to CPU 0.
  cpu_set_t affinity;
  CPU_ZERO(&affinity);
  const bool have_affinity = sched_getaffinity(0, sizeof affinity, &affinity) == 0;
  std::string cpus;
  for (int cpu = 0; have_affinity && cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &affinity)) continue;
    if (!cpus.empty()) cpus += ",";
    cpus += std::to_string(cpu);
  }
  std::vector<std::string> args = {"pool_bench",
                                   "--no-huge",
                                   "--no-pci",
                                   "--no-shconf",
                                   "--no-telemetry",
                                   cpus.empty() ? "-l0" : "--lcores=0@(" + cpus + ")",
                                   "-m",
                                   "64",
                                   "--log-level=1",
                                   "--file-prefix=pool_bench"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    std::fprintf(stderr, "DPDK: rte_eal_init failed (%s); DPDK benchmarks skipped\n",
                 rte_strerror(rte_errno));
    return false;
  }
  dpdk.eal = true;
  dpdk.runtime_dir = rte_eal_get_runtime_dir();
  // Belt and braces: whatever the EAL did to this thread's affinity, undo it so the
  // threaded benchmark can use both cores.
  if (have_affinity) sched_setaffinity(0, sizeof affinity, &affinity);
  if (rte_lcore_id() != 0) {
    std::fprintf(stderr, "DPDK: main thread is not lcore 0; DPDK benchmarks skipped\n");
    return false;
  }
  dpdk.cached = rte_mempool_create("bench_cached", kDpdkElements, kDescriptorBytes,
                                   kDpdkCache, 0, nullptr, nullptr, nullptr, nullptr,
                                   SOCKET_ID_ANY, 0);
  dpdk.uncached = rte_mempool_create("bench_uncached", kDpdkElements, kDescriptorBytes, 0,
                                     0, nullptr, nullptr, nullptr, nullptr, SOCKET_ID_ANY, 0);
  if (dpdk.cached == nullptr || dpdk.uncached == nullptr) {
    std::fprintf(stderr, "DPDK: rte_mempool_create failed (%s); DPDK benchmarks skipped\n",
                 rte_strerror(rte_errno));
    return false;
  }
  return true;
}

void StopDpdk() {
  Dpdk& dpdk = TheDpdk();
  if (dpdk.cached != nullptr) rte_mempool_free(dpdk.cached);
  if (dpdk.uncached != nullptr) rte_mempool_free(dpdk.uncached);
  if (dpdk.eal) {
    rte_eal_cleanup();
    // The EAL leaves its runtime directory (empty, with --no-shconf) and its parent
    // (/var/run/dpdk, or /tmp/dpdk when not root) behind; rmdir only removes them empty.
    if (!dpdk.runtime_dir.empty() && rmdir(dpdk.runtime_dir.c_str()) == 0) {
      const size_t slash = dpdk.runtime_dir.rfind('/');
      if (slash != std::string::npos && slash > 0) {
        rmdir(dpdk.runtime_dir.substr(0, slash).c_str());
      }
    }
  }
}

bool OnLcore(benchmark::State& state) {
  if (rte_lcore_id() == LCORE_ID_ANY) {
    state.SkipWithError("not on an EAL lcore (no mempool cache)");
    return false;
  }
  return true;
}

void DpdkGetPut(benchmark::State& state, rte_mempool* mp) {
  if (!OnLcore(state)) return;
  for (auto _ : state) {
    void* object = nullptr;
    if (rte_mempool_get(mp, &object) != 0) {
      state.SkipWithError("rte_mempool_get failed");
      break;
    }
    benchmark::DoNotOptimize(object);
    rte_mempool_put(mp, object);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Dpdk_CachedGetPut(benchmark::State& state) { DpdkGetPut(state, TheDpdk().cached); }
void BM_Dpdk_UncachedGetPut(benchmark::State& state) { DpdkGetPut(state, TheDpdk().uncached); }

void BM_Dpdk_CachedBulk32(benchmark::State& state) {
  if (!OnLcore(state)) return;
  rte_mempool* mp = TheDpdk().cached;
  void* objects[kBulk];
  for (auto _ : state) {
    if (rte_mempool_get_bulk(mp, objects, kBulk) != 0) {
      state.SkipWithError("rte_mempool_get_bulk failed");
      break;
    }
    benchmark::DoNotOptimize(objects);
    rte_mempool_put_bulk(mp, objects, kBulk);
    benchmark::ClobberMemory();
  }
  CountBulk(state);
}

void RegisterDpdk() {
  benchmark::RegisterBenchmark("BM_Dpdk_CachedGetPut", BM_Dpdk_CachedGetPut);
  benchmark::RegisterBenchmark("BM_Dpdk_CachedBulk32", BM_Dpdk_CachedBulk32);
  benchmark::RegisterBenchmark("BM_Dpdk_UncachedGetPut", BM_Dpdk_UncachedGetPut);
}
#endif  // PKTPOOL_HAVE_DPDK

// ---- the ratio table -----------------------------------------------------------------

// Forwards everything to the reporter --benchmark_format asks for, and keeps each run's
// real time per iteration (ns) and items/s for the table.
class CapturingReporter : public benchmark::BenchmarkReporter {
 public:
  struct Figures {
    std::vector<double> ns;          // one per repetition
    std::vector<double> items_rate;  // items_per_second, one per repetition
  };

  explicit CapturingReporter(benchmark::BenchmarkReporter* inner) : inner_(inner) {}

  bool ReportContext(const Context& context) override {
    return inner_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      std::string key = run.run_name.function_name;
      if (!run.run_name.threads.empty()) key += "/" + run.run_name.threads;
      Figures& f = figures_[key];
      f.ns.push_back(run.GetAdjustedRealTime() * ToNs(run.time_unit));
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) f.items_rate.push_back(it->second.value);
    }
    inner_->ReportRuns(runs);
  }
  void Finalize() override { inner_->Finalize(); }
  const benchmark::BenchmarkReporter* inner() const { return inner_.get(); }

  // Median ns/op of `name`, or NaN when it did not run.
  double Ns(const std::string& name) const {
    auto it = figures_.find(name);
    return it == figures_.end() ? NAN : Median(it->second.ns);
  }
  bool empty() const { return figures_.empty(); }
  double ItemsPerSecond(const std::string& name) const {
    auto it = figures_.find(name);
    return it == figures_.end() ? NAN : Median(it->second.items_rate);
  }

 private:
  static double ToNs(benchmark::TimeUnit unit) {
    switch (unit) {
      case benchmark::kNanosecond: return 1.0;
      case benchmark::kMicrosecond: return 1e3;
      case benchmark::kMillisecond: return 1e6;
      case benchmark::kSecond: return 1e9;
    }
    return 1.0;
  }
  static double Median(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  std::map<std::string, Figures> figures_;
};

class Table {
 public:
  explicit Table(FILE* out) : out_(out) {}

  // "x times faster" target: ratio = peer / ours, PASS when ratio >= want.
  void Faster(const char* what, double ours_ns, double peer_ns, double want) {
    Line(what, peer_ns / ours_ns, want, ">=", peer_ns / ours_ns >= want);
  }
  // "within x" target: ratio = ours / peer, PASS when ratio <= want.
  void Within(const char* what, double ours_ns, double peer_ns, double want) {
    Line(what, ours_ns / peer_ns, want, "<=", ours_ns / peer_ns <= want);
  }
  // A ratio with its target stated as ">= want"; PASS when ratio >= want.
  void AtLeast(const char* what, double ratio, double want) {
    Line(what, ratio, want, ">=", ratio >= want);
  }
  // A ratio with no target.
  void Info(const char* what, double ratio) {
    if (std::isnan(ratio)) return;
    std::fprintf(out_, "  %-64s %8.2fx\n", what, ratio);
  }

 private:
  void Line(const char* what, double ratio, double want, const char* op, bool pass) {
    if (std::isnan(ratio)) {
      std::fprintf(out_, "  %-64s %9s   %s %-6.2f  %s\n", what, "n/a", op, want, "SKIPPED");
      return;
    }
    std::fprintf(out_, "  %-64s %8.2fx   %s %-6.2f  %s\n", what, ratio, op, want,
                 pass ? "PASS" : "MISS");
  }
  FILE* out_;
};

void PrintTable(const CapturingReporter& r, FILE* out) {
  const double ours = r.Ns("BM_Ours_PacketAllocFree");
  const double cycle = r.Ns("BM_Ours_PacketBufferCycle");
  const double reuse = r.Ns("BM_Ours_ReinitializeReuse");
  const double realloc = r.Ns("BM_Ours_FreeAndAllocate");
  const double bulk = r.Ns("BM_Ours_Bulk32") / kBulk;
  const double handoff = r.Ns("BM_Ours_ProducerConsumerBulk32") / kBulk;
  const double malloc_d = r.Ns("BM_Malloc_Descriptor");
  const double malloc_dd = r.Ns("BM_Malloc_DescriptorAndData");
  const double locked = r.Ns("BM_MutexList_GetPut");
  const double locked_bulk = r.Ns("BM_MutexList_Bulk32") / kBulk;
  const double t1 = r.ItemsPerSecond("BM_Ours_Threads/threads:1");
  const double t2 = r.ItemsPerSecond("BM_Ours_Threads/threads:2");

  std::fprintf(out,
              "\nFigures of this run (median real time; bulk per object; descriptor block "
              "%zu bytes, data %u bytes):\n",
              kDescriptorBytes, kDataBytes);
  auto figure = [&](const char* name, double ns) {
    if (!std::isnan(ns)) std::fprintf(out, "  %-40s %9.2f ns\n", name, ns);
  };
  figure("ours packet alloc+free", ours);
  figure("ours packet+buffer cycle", cycle);
  figure("ours reinitialize-and-reuse", reuse);
  figure("ours free-and-allocate", realloc);
  figure("ours bulk32, per packet", bulk);
  figure("ours bulk32 producer->consumer, per packet", handoff);
  figure("malloc+free descriptor", malloc_d);
  figure("malloc+free descriptor + 2 KiB", malloc_dd);
  figure("mutex free list get+put", locked);
  figure("mutex free list bulk32, per object", locked_bulk);
#if PKTPOOL_HAVE_DPDK
  const double dpdk = r.Ns("BM_Dpdk_CachedGetPut");
  const double dpdk_bulk = r.Ns("BM_Dpdk_CachedBulk32") / kBulk;
  const double dpdk_uncached = r.Ns("BM_Dpdk_UncachedGetPut");
  figure("dpdk cached get+put", dpdk);
  figure("dpdk cached bulk32, per object", dpdk_bulk);
  figure("dpdk uncached get+put", dpdk_uncached);
#endif
  if (!std::isnan(t1)) std::fprintf(out, "  %-40s %9.2f M/s\n", "ours 1 thread, total", t1 / 1e6);
  if (!std::isnan(t2)) std::fprintf(out, "  %-40s %9.2f M/s\n", "ours 2 threads, total", t2 / 1e6);

  std::fprintf(out, "\nRatios against targets (from this run's figures):\n");
  Table t(out);
  // The malloc peer is "the same sizes": a descriptor and its 2 KiB of data.
  t.Faster("packet alloc+free vs malloc+free (descriptor + 2 KiB)", ours, malloc_dd, 5);
  t.Faster("packet alloc+free vs mutex free list", ours, locked, 4);
#if PKTPOOL_HAVE_DPDK
  t.Within("packet alloc+free vs DPDK cached get+put (ours/dpdk)", ours, dpdk, 1.0);
  t.Within("bulk32 per packet vs DPDK cached bulk32 (ours/dpdk)", bulk, dpdk_bulk, 1.5);
#endif
  t.Faster("bulk32 per packet vs malloc+free (descriptor + 2 KiB)", bulk, malloc_dd, 20);
#if PKTPOOL_HAVE_DPDK
  t.Within("packet+buffer cycle vs one DPDK cached get+put (ours/dpdk)", cycle, dpdk, 3);
#endif
  t.Faster("reinitialize-and-reuse vs free-and-allocate", reuse, realloc, 1);
  t.AtLeast("two threads vs one thread, total throughput", t2 / t1, 1.8);
  std::fprintf(out, "Other ratios (no target; > 1 means ours is faster):\n");
  t.Info("packet alloc+free vs malloc+free (descriptor only, glibc tcache)", malloc_d / ours);
  t.Info("bulk32 per packet vs malloc+free (descriptor only, glibc tcache)", malloc_d / bulk);
  t.Info("packet+buffer cycle vs malloc+free (descriptor + 2 KiB)", malloc_dd / cycle);
  t.Info("bulk32 per packet vs mutex free list bulk32", locked_bulk / bulk);
#if PKTPOOL_HAVE_DPDK
  t.Info("packet alloc+free vs DPDK uncached get+put", dpdk_uncached / ours);
#endif
  std::fflush(out);
}

}  // namespace

int main(int argc, char** argv) {
  // Default to a short minimum time so the whole run stays well under a minute; a
  // --benchmark_min_time given on the command line comes later and wins.
  std::string default_min_time = "--benchmark_min_time=0.2";
  std::vector<char*> args;
  args.push_back(argv[0]);
  args.push_back(default_min_time.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  int count = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;

#if PKTPOOL_HAVE_DPDK
  if (StartDpdk()) RegisterDpdk();
#else
  std::fprintf(stderr, "DPDK: not built with libdpdk-dev; DPDK benchmarks skipped\n");
#endif

  CapturingReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  // The table goes to stdout after a console report, to stderr after JSON or CSV so that
  // stdout stays machine-readable.
  const bool console =
      dynamic_cast<const benchmark::ConsoleReporter*>(reporter.inner()) != nullptr;
  if (!reporter.empty()) PrintTable(reporter, console ? stdout : stderr);
  benchmark::Shutdown();
#if PKTPOOL_HAVE_DPDK
  StopDpdk();
#endif
  return 0;
}
