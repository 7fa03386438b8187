// The allocator under PacketPool and BufferPool: fixed static descriptors behind
// per-thread caches (DPDK mempool style), optional overflow descriptors from system
// memory, exact exhaustion, and close-while-out draining. Internal to daemon/pool.
//
// Why it is shaped like this: allocate and free run on the RX thread, the TX thread and
// gRPC threads. A shared lock or a shared counter per call would serialise them, so
// each thread owns a cache slot that only it touches on the fast path. Rare events that
// must see every cache (a steal when the shared list is empty, close, exact counts)
// raise `intrusion_`, run a process-wide barrier (membarrier) and wait until no owner
// is inside its fast path; owners check `intrusion_` after marking themselves busy.
// Where the kernel has no membarrier, threads get no cache slot and every call locks.
#ifndef PKTPOOL_DAEMON_POOL_INTERNAL_FREE_LIST_H_
#define PKTPOOL_DAEMON_POOL_INTERNAL_FREE_LIST_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "daemon/pool/mutex.h"
#include "daemon/pool/internal/thread_slot.h"
#include "daemon/pool/limits.h"

namespace pktpool::pool::internal {

// Creates and destroys overflow descriptors; called with the free list's lock held.
struct OverflowOps {
  void* (*create)(void* context) = nullptr;
  void (*destroy)(void* context, void* object) = nullptr;
  void* context = nullptr;
};

// Counters summed over all threads; a relaxed snapshot, exact when no call is running.
struct FreeListCounts {
  uint64_t gets = 0;
  uint64_t puts = 0;
  uint64_t failures = 0;
  uint64_t overflow_gets = 0;
  uint64_t reuses = 0;
  uint32_t in_use = 0;
  uint32_t overflow_in_use = 0;
  uint32_t high_watermark = 0;
  uint64_t locked_gets = 0;  // get calls (bulk or not) that missed the fast path and locked
  uint64_t locked_puts = 0;  // the same for put calls (overflow descriptors always lock)
  bool closed = false;
};

// Which addresses are static descriptors: base + i * stride for i < count. No division
// on the per-free path: stride = 2^shift * odd, and an offset is a multiple of the odd
// part when offset * inverse (mod 2^64) <= max / odd (Granlund and Montgomery). When the
// stride is a power of two (odd == 1, the default packet and buffer strides) the multiply
// is skipped: loops over many descriptors pick ContainsIn<true> once, outside the loop.
struct StaticRange {
  StaticRange(const char* base, size_t stride, uint32_t count);
  template <bool kPowerOfTwo>
  bool ContainsIn(const void* object) const {
    const uint64_t offset = reinterpret_cast<uintptr_t>(object) - base;
    if (offset >= span || (offset & low_mask) != 0) return false;
    return kPowerOfTwo || (offset >> shift) * odd_inverse <= odd_limit;
  }
  bool Contains(const void* object) const {
    return power_of_two ? ContainsIn<true>(object) : ContainsIn<false>(object);
  }
  uintptr_t base;
  uint64_t span;
  uint32_t shift;
  bool power_of_two;
  uint64_t low_mask;
  uint64_t odd_inverse;
  uint64_t odd_limit;
};

// Outcome of returning a descriptor.
enum class PutResult : uint8_t {
  kReturned,  // back in the list (or released, if it was an overflow descriptor)
  kDrained,   // returned, and the list was closed and is now empty: destroy the owner
  kForeign,   // not a descriptor of this list (or an overflow one already released)
};

class FreeList {
 public:
  // Static descriptors are `count` objects at base + i * stride, all free at start.
  // `overflow_limit` more may be created through `overflow` while all static ones are out.
  FreeList(char* base, size_t stride, uint32_t count, uint32_t overflow_limit,
           OverflowOps overflow, uint32_t cache_capacity);
  ~FreeList();
  FreeList(const FreeList&) = delete;
  FreeList& operator=(const FreeList&) = delete;

  // Takes one descriptor: a static one if any is free anywhere, else an overflow one
  // within the limit, else nullptr (counted as a failure). Thread-safe; never blocks
  // on other threads except during a rare steal.
  inline void* Get();

  // Takes exactly n descriptors into out[0..n) or none (returns false, one failure).
  inline bool GetBulk(void** out, uint32_t n);

  // True when `object` is one of the static descriptors (address check only).
  bool IsStatic(const void* object) const { return range_.Contains(object); }

  // The static descriptors' address range, to copy into a local in a loop (so the
  // compiler keeps it in registers across stores to descriptors).
  StaticRange static_range() const { return range_; }

  // Returns a static descriptor (the caller has checked IsStatic and its state).
  inline PutResult PutStatic(void* object);

  // Returns n static descriptors at once (the caller has checked each one).
  inline PutResult PutStaticBulk(void* const* objects, uint32_t n);

  // Returns an overflow descriptor: released to system memory, or kForeign when it is
  // not a live overflow descriptor of this list. Never reads `object` unless it is live.
  PutResult PutOverflow(void* object);

  // Counts one reinitialize-for-reuse (per-thread counter). Thread-safe.
  inline void CountReuse();

  // Closes the list: every later call takes the locked path, and the call that returns
  // the last outstanding descriptor gets kDrained. Returns true if none is out now.
  bool Close();

  FreeListCounts Counts() const;

  // The per-thread cache size for a list of `descriptors` (0: uncached), from limits.h.
  static uint32_t CacheCapacityFor(uint32_t descriptors) {
    const uint32_t capacity = std::min(kMaxThreadCacheSize, descriptors / kThreadCacheDivisor);
    return capacity < kMinThreadCacheSize ? 0 : capacity;
  }
  uint32_t static_count() const { return count_; }
  uint32_t overflow_limit() const { return overflow_limit_; }
  uint32_t cache_capacity() const { return cache_capacity_; }

 private:
  // One thread's cache. The owner is the only writer outside the locked paths, which
  // touch it only while the owner is out of its fast path (busy == 0 under intrusion).
  struct alignas(64) Slot {
    std::atomic<unsigned> busy{0};
    std::atomic<uint32_t> length{0};      // entries in `cache`
    // The lowest `length` since in_use_base was taken. While only this thread's fast
    // path runs, in use = in_use_base - length, so the high watermark is
    // in_use_base - low_length: one compare per get instead of a shared counter.
    std::atomic<uint32_t> low_length{0};
    uint32_t limit = 0;                   // cache capacity once attached, else 0
    std::atomic<uint64_t> gets{0};        // written by the owner thread only; frees are
                                          // gets minus what is in use (InUseLocked)
    std::atomic<uint64_t> reuses{0};
    int64_t in_use_base = 0;              // under mu_: in use + length when last synced
    std::unique_ptr<void*[]> cache;       // allocated on first use, under mu_
  };

  // An inline copy: bulk sizes are small (32), where a libc memcpy call costs more (and
  // GCC turns a plain loop into one). Four pointers per fixed-size memcpy, which the
  // compiler emits as two 16-byte moves.
  static void CopyPointers(void** to, void* const* from, uint32_t n) {
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) std::memcpy(to + i, from + i, 4 * sizeof(void*));
    for (; i < n; ++i) to[i] = from[i];
  }
  static void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // After a fast get left `length` entries: remember the lowest (see Slot::low_length).
  static void NoteLength(Slot& slot, uint32_t length) {
    if (length < slot.low_length.load(std::memory_order_relaxed)) {
      slot.low_length.store(length, std::memory_order_relaxed);
    }
  }
  void RaiseWatermark(uint32_t value);

  void* GetSlow(int slot_index);
  bool GetBulkSlow(int slot_index, void** out, uint32_t n);
  PutResult PutSlow(int slot_index, void* object);
  PutResult PutBulkSlow(int slot_index, void* const* objects, uint32_t n);
  void* TakeSharedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StealCachesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushCachesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Slot* AttachSlotLocked(int slot_index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t InUseLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SyncSlotLocked(Slot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t SlotWatermarkLocked(const Slot& slot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  PutResult AfterPutLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  char* const base_;
  const size_t stride_;
  const uint32_t count_;
  const uint32_t overflow_limit_;
  const OverflowOps overflow_;
  const uint32_t cache_capacity_;
  const StaticRange range_;

  std::atomic<unsigned> intrusion_{0};  // > 0: owners must take the locked path
  std::atomic<uint32_t> high_watermark_{0};
  std::unique_ptr<Slot[]> slots_;  // kThreadSlotWords: cache slots, then the uncached ones

  mutable pktpool::Mutex mu_;
  std::vector<void*> shared_ ABSL_GUARDED_BY(mu_);
  std::vector<int> attached_slots_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<void*> overflow_live_ ABSL_GUARDED_BY(mu_);
  // Gets made without a cache slot, and locked-path gets after close.
  std::atomic<uint64_t> shared_gets_{0};
  std::atomic<uint64_t> shared_reuses_{0};
  std::atomic<uint64_t> failures_{0};
  uint64_t locked_gets_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t locked_puts_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> overflow_gets_{0};
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool drained_ ABSL_GUARDED_BY(mu_) = false;
};

// ---- fast paths ----------------------------------------------------------------

inline void* FreeList::Get() {
  // No test for an uncached pool or a thread without a cache: their slot's capacity is
  // 0, so the length checks below send them to the locked path.
  const int index = CurrentThreadSlot();
  Slot& slot = slots_[index];
  SetBusy(slot.busy);
  const uint32_t length = slot.length.load(std::memory_order_relaxed);
  if (intrusion_.load(std::memory_order_seq_cst) != 0 || length == 0) {
    slot.busy.store(0, std::memory_order_release);
    return GetSlow(index);
  }
  void* object = slot.cache[length - 1];
  // Caches hold only static descriptors: telling the compiler lets an inlined caller
  // drop its null test on this path.
  if (object == nullptr) __builtin_unreachable();
  slot.length.store(length - 1, std::memory_order_relaxed);
  Bump(slot.gets);
  NoteLength(slot, length - 1);
  slot.busy.store(0, std::memory_order_release);
  return object;
}

inline bool FreeList::GetBulk(void** out, uint32_t n) {
  const int index = CurrentThreadSlot();
  Slot& slot = slots_[index];
  SetBusy(slot.busy);
  const uint32_t length = slot.length.load(std::memory_order_relaxed);
  if (intrusion_.load(std::memory_order_seq_cst) != 0 || length < n) {
    slot.busy.store(0, std::memory_order_release);
    return GetBulkSlow(index, out, n);
  }
  const uint32_t rest = length - n;
  CopyPointers(out, slot.cache.get() + rest, n);
  slot.length.store(rest, std::memory_order_relaxed);
  Bump(slot.gets, n);
  NoteLength(slot, rest);
  slot.busy.store(0, std::memory_order_release);
  return true;
}

inline PutResult FreeList::PutStatic(void* object) {
  const int index = CurrentThreadSlot();
  Slot& slot = slots_[index];
  SetBusy(slot.busy);
  const uint32_t length = slot.length.load(std::memory_order_relaxed);
  if (intrusion_.load(std::memory_order_seq_cst) != 0 || length >= slot.limit) {
    slot.busy.store(0, std::memory_order_release);
    return PutSlow(index, object);
  }
  slot.cache[length] = object;
  slot.length.store(length + 1, std::memory_order_relaxed);
  slot.busy.store(0, std::memory_order_release);
  return PutResult::kReturned;
}

inline PutResult FreeList::PutStaticBulk(void* const* objects, uint32_t n) {
  const int index = CurrentThreadSlot();
  Slot& slot = slots_[index];
  SetBusy(slot.busy);
  const uint32_t length = slot.length.load(std::memory_order_relaxed);
  if (intrusion_.load(std::memory_order_seq_cst) != 0 || length + n > slot.limit) {
    slot.busy.store(0, std::memory_order_release);
    return PutBulkSlow(index, objects, n);
  }
  CopyPointers(slot.cache.get() + length, objects, n);
  slot.length.store(length + n, std::memory_order_relaxed);
  slot.busy.store(0, std::memory_order_release);
  return PutResult::kReturned;
}

inline void FreeList::CountReuse() {
  const int index = CurrentThreadSlot();
  if (index >= kMaxThreadSlots) {
    shared_reuses_.fetch_add(1, std::memory_order_relaxed);
  } else {
    Bump(slots_[index].reuses);
  }
}

}  // namespace pktpool::pool::internal

#endif  // PKTPOOL_DAEMON_POOL_INTERNAL_FREE_LIST_H_
