#include "daemon/pool/internal/free_list.h"

#include <algorithm>
#include <thread>

namespace pktpool::pool::internal {
namespace {

uint32_t TrailingZeros(size_t n) { return static_cast<uint32_t>(__builtin_ctzll(n)); }

// Inverse of an odd number modulo 2^64 (Newton's iteration doubles the good bits).
uint64_t OddInverse(uint64_t odd) {
  uint64_t inverse = odd;  // right to 3 bits
  for (int i = 0; i < 5; ++i) inverse *= 2 - odd * inverse;
  return inverse;
}

}  // namespace

StaticRange::StaticRange(const char* start, size_t stride, uint32_t count)
    : base(reinterpret_cast<uintptr_t>(start)),
      span(static_cast<uint64_t>(stride) * count),
      shift(TrailingZeros(stride)),
      power_of_two((stride >> shift) == 1),
      low_mask((uint64_t{1} << shift) - 1),
      odd_inverse(OddInverse(stride >> shift)),
      odd_limit(UINT64_MAX / (stride >> shift)) {}

FreeList::FreeList(char* base, size_t stride, uint32_t count, uint32_t overflow_limit,
                   OverflowOps overflow, uint32_t cache_capacity)
    : base_(base),
      stride_(stride),
      count_(count),
      overflow_limit_(overflow_limit),
      overflow_(overflow),
      cache_capacity_(cache_capacity),
      range_(base, stride, count),
      slots_(new Slot[kThreadSlotWords]) {
  pktpool::MutexLock lock(&mu_);
  shared_.reserve(count);
  // Reverse order so the first Get hands out descriptor 0 (predictable for tests).
  for (uint32_t i = count; i > 0; --i) shared_.push_back(base_ + (i - 1) * stride_);
}

FreeList::~FreeList() {
  pktpool::MutexLock lock(&mu_);
  for (void* object : overflow_live_) overflow_.destroy(overflow_.context, object);
}

void FreeList::RaiseWatermark(uint32_t value) {
  uint32_t seen = high_watermark_.load(std::memory_order_relaxed);
  while (value > seen &&
         !high_watermark_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

int64_t FreeList::InUseLocked() const {
  // What is not free is in use: no counter per free. Exact while no owner is inside its
  // fast path (always, once the list is closed); a recent value otherwise.
  int64_t in_use = static_cast<int64_t>(count_) + static_cast<int64_t>(overflow_live_.size()) -
                   static_cast<int64_t>(shared_.size());
  for (int index : attached_slots_) {
    in_use -= slots_[index].length.load(std::memory_order_relaxed);
  }
  return in_use;
}

uint32_t FreeList::SlotWatermarkLocked(const Slot& slot) const {
  const int64_t peak = slot.in_use_base - slot.low_length.load(std::memory_order_relaxed);
  return static_cast<uint32_t>(std::clamp<int64_t>(peak, 0, count_ + overflow_limit_));
}

void FreeList::SyncSlotLocked(Slot& slot) {
  // The fast path's peak since the last sync first, then a new base: the locked path
  // has moved entries between the cache and the shared list, which in_use_base - length
  // does not see.
  RaiseWatermark(SlotWatermarkLocked(slot));
  const int64_t total = InUseLocked();
  RaiseWatermark(static_cast<uint32_t>(std::max<int64_t>(total, 0)));
  const uint32_t length = slot.length.load(std::memory_order_relaxed);
  slot.in_use_base = total + length;
  slot.low_length.store(length, std::memory_order_relaxed);
}

FreeList::Slot* FreeList::AttachSlotLocked(int slot_index) {
  if (slot_index >= kMaxThreadSlots || cache_capacity_ == 0 || closed_) return nullptr;
  Slot& slot = slots_[slot_index];
  if (!slot.cache) {
    slot.cache.reset(new void*[cache_capacity_]);
    slot.limit = cache_capacity_;
    attached_slots_.push_back(slot_index);
  }
  return &slot;
}

void FreeList::FlushCachesLocked() {
  intrusion_.fetch_add(1, std::memory_order_seq_cst);
  HeavyBarrier();
  for (int index : attached_slots_) {
    Slot& slot = slots_[index];
    // An owner inside its fast path finishes in nanoseconds (unless preempted).
    while (slot.busy.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    const uint32_t length = slot.length.load(std::memory_order_relaxed);
    shared_.insert(shared_.end(), slot.cache.get(), slot.cache.get() + length);
    slot.length.store(0, std::memory_order_relaxed);
    SyncSlotLocked(slot);
  }
}

void FreeList::StealCachesLocked() {
  bool any = false;
  for (int index : attached_slots_) {
    if (slots_[index].length.load(std::memory_order_relaxed) != 0) any = true;
  }
  if (!any) return;
  FlushCachesLocked();
  intrusion_.fetch_sub(1, std::memory_order_release);
}

void* FreeList::TakeSharedLocked() {
  if (shared_.empty() && !closed_) StealCachesLocked();
  if (shared_.empty()) return nullptr;
  void* object = shared_.back();
  shared_.pop_back();
  return object;
}

void* FreeList::GetSlow(int slot_index) {
  slot_index = ResolveThreadSlot(slot_index);
  pktpool::MutexLock lock(&mu_);
  ++locked_gets_;
  Slot* slot = AttachSlotLocked(slot_index);
  void* object = nullptr;
  if (slot != nullptr && slot->length.load(std::memory_order_relaxed) > 0) {
    // We got here because of a passing intrusion; the cache still has entries.
    const uint32_t length = slot->length.load(std::memory_order_relaxed) - 1;
    object = slot->cache[length];
    slot->length.store(length, std::memory_order_relaxed);
  } else {
    object = TakeSharedLocked();
    if (object != nullptr && slot != nullptr) {
      // Refill to half the cache so the next calls stay on the fast path.
      const uint32_t refill =
          std::min<uint32_t>(cache_capacity_ / 2, static_cast<uint32_t>(shared_.size()));
      std::copy(shared_.end() - refill, shared_.end(), slot->cache.get());
      shared_.resize(shared_.size() - refill);
      slot->length.store(refill, std::memory_order_relaxed);
    }
  }
  if (object == nullptr && overflow_live_.size() < overflow_limit_) {
    object = overflow_.create(overflow_.context);
    if (object != nullptr) {
      overflow_live_.insert(object);
      overflow_gets_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (object == nullptr) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  if (slot != nullptr) {
    Bump(slot->gets);
    SyncSlotLocked(*slot);
  } else {
    shared_gets_.fetch_add(1, std::memory_order_relaxed);
    RaiseWatermark(static_cast<uint32_t>(InUseLocked()));
  }
  return object;
}

bool FreeList::GetBulkSlow(int slot_index, void** out, uint32_t n) {
  slot_index = ResolveThreadSlot(slot_index);
  pktpool::MutexLock lock(&mu_);
  ++locked_gets_;
  Slot* slot = AttachSlotLocked(slot_index);
  uint32_t cached = slot != nullptr ? slot->length.load(std::memory_order_relaxed) : 0;
  if (cached + shared_.size() < n && !closed_) {
    StealCachesLocked();
    cached = slot != nullptr ? slot->length.load(std::memory_order_relaxed) : 0;
  }
  const size_t overflow_room = overflow_limit_ - overflow_live_.size();
  if (cached + shared_.size() + overflow_room < n) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (slot != nullptr) {
    // Refill in the same locked step, as rte_mempool_get_bulk does: the cache gets what
    // this call needs plus half a cache more, so a thread that only allocates (its
    // packets freed on another thread) takes the lock once per several calls, not on
    // every call.
    const uint32_t want = std::min(cache_capacity_, n + cache_capacity_ / 2);
    if (cached < want) {
      const uint32_t refill =
          static_cast<uint32_t>(std::min<size_t>(want - cached, shared_.size()));
      std::copy(shared_.end() - refill, shared_.end(), slot->cache.get() + cached);
      shared_.resize(shared_.size() - refill);
      cached += refill;
    }
  }
  uint32_t taken = 0;
  for (; taken < n && cached > 0; ++taken) out[taken] = slot->cache[--cached];
  if (slot != nullptr) slot->length.store(cached, std::memory_order_relaxed);
  for (; taken < n && !shared_.empty(); ++taken) {
    out[taken] = shared_.back();
    shared_.pop_back();
  }
  for (; taken < n; ++taken) {
    void* object = overflow_.create(overflow_.context);
    if (object == nullptr) break;
    overflow_live_.insert(object);
    overflow_gets_.fetch_add(1, std::memory_order_relaxed);
    out[taken] = object;
  }
  if (taken < n) {  // system memory refused an overflow descriptor: give everything back
    for (uint32_t i = 0; i < taken; ++i) {
      if (IsStatic(out[i])) {
        shared_.push_back(out[i]);
      } else {
        overflow_live_.erase(out[i]);
        overflow_.destroy(overflow_.context, out[i]);
      }
    }
    if (slot != nullptr) SyncSlotLocked(*slot);  // the refill moved entries
    failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (slot != nullptr) {
    Bump(slot->gets, n);
    SyncSlotLocked(*slot);
  } else {
    shared_gets_.fetch_add(n, std::memory_order_relaxed);
    RaiseWatermark(static_cast<uint32_t>(InUseLocked()));
  }
  return true;
}

PutResult FreeList::AfterPutLocked() {
  if (closed_ && !drained_ && InUseLocked() == 0) {
    drained_ = true;
    return PutResult::kDrained;
  }
  return PutResult::kReturned;
}

PutResult FreeList::PutSlow(int slot_index, void* object) {
  slot_index = ResolveThreadSlot(slot_index);
  pktpool::MutexLock lock(&mu_);
  ++locked_puts_;
  Slot* slot = AttachSlotLocked(slot_index);
  if (slot == nullptr) {
    shared_.push_back(object);
    return AfterPutLocked();
  }
  uint32_t length = slot->length.load(std::memory_order_relaxed);
  if (length >= cache_capacity_) {
    // Flush down to half so the next frees stay on the fast path.
    const uint32_t keep = cache_capacity_ / 2;
    shared_.insert(shared_.end(), slot->cache.get() + keep, slot->cache.get() + length);
    length = keep;
  }
  slot->cache[length] = object;
  slot->length.store(length + 1, std::memory_order_relaxed);
  SyncSlotLocked(*slot);
  return PutResult::kReturned;
}

PutResult FreeList::PutBulkSlow(int slot_index, void* const* objects, uint32_t n) {
  slot_index = ResolveThreadSlot(slot_index);
  pktpool::MutexLock lock(&mu_);
  ++locked_puts_;
  Slot* slot = AttachSlotLocked(slot_index);
  if (slot == nullptr) {
    shared_.insert(shared_.end(), objects, objects + n);
    return AfterPutLocked();
  }
  uint32_t length = slot->length.load(std::memory_order_relaxed);
  if (length + n > cache_capacity_) {
    // Flush down to half; what still does not fit goes to the shared list below.
    const uint32_t keep = std::min(length, cache_capacity_ / 2);
    shared_.insert(shared_.end(), slot->cache.get() + keep, slot->cache.get() + length);
    length = keep;
  }
  const uint32_t into_cache = std::min(n, cache_capacity_ - length);
  std::copy(objects, objects + into_cache, slot->cache.get() + length);
  shared_.insert(shared_.end(), objects + into_cache, objects + n);
  slot->length.store(length + into_cache, std::memory_order_relaxed);
  SyncSlotLocked(*slot);
  return PutResult::kReturned;
}

PutResult FreeList::PutOverflow(void* object) {
  pktpool::MutexLock lock(&mu_);
  ++locked_puts_;
  if (overflow_live_.erase(object) == 0) return PutResult::kForeign;
  overflow_.destroy(overflow_.context, object);
  return AfterPutLocked();
}

bool FreeList::Close() {
  pktpool::MutexLock lock(&mu_);
  if (closed_) return drained_;
  closed_ = true;
  // The intrusion is never lowered: from now on every call takes the locked path, so
  // the count that decides when the list is drained is exact.
  FlushCachesLocked();
  drained_ = InUseLocked() == 0;
  return drained_;
}

FreeListCounts FreeList::Counts() const {
  FreeListCounts counts;
  pktpool::MutexLock lock(&mu_);
  counts.gets = shared_gets_.load(std::memory_order_relaxed);
  counts.reuses = shared_reuses_.load(std::memory_order_relaxed);
  for (int i = 0; i < kMaxThreadSlots; ++i) {
    // Reuses may be counted on slots without a cache, so read every slot.
    counts.reuses += slots_[i].reuses.load(std::memory_order_relaxed);
  }
  for (int index : attached_slots_) {
    counts.gets += slots_[index].gets.load(std::memory_order_relaxed);
  }
  counts.failures = failures_.load(std::memory_order_relaxed);
  counts.overflow_gets = overflow_gets_.load(std::memory_order_relaxed);
  // Frees are not counted one by one: every descriptor taken and not in use came back.
  const int64_t in_use = std::clamp<int64_t>(InUseLocked(), 0, count_ + overflow_limit_);
  counts.in_use = static_cast<uint32_t>(in_use);
  counts.puts = counts.gets - std::min<uint64_t>(counts.gets, static_cast<uint64_t>(in_use));
  counts.overflow_in_use = static_cast<uint32_t>(overflow_live_.size());
  counts.high_watermark = std::max(high_watermark_.load(std::memory_order_relaxed), counts.in_use);
  for (int index : attached_slots_) {
    counts.high_watermark = std::max(counts.high_watermark, SlotWatermarkLocked(slots_[index]));
  }
  counts.locked_gets = locked_gets_;
  counts.locked_puts = locked_puts_;
  counts.closed = closed_;
  return counts;
}

}  // namespace pktpool::pool::internal
