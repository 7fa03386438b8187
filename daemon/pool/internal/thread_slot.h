// Per-thread cache slot ids and the asymmetric barrier that lets a pool reach into
// another thread's cache. Internal to daemon/pool.
#ifndef PKTPOOL_DAEMON_POOL_INTERNAL_THREAD_SLOT_H_
#define PKTPOOL_DAEMON_POOL_INTERNAL_THREAD_SLOT_H_

#include <atomic>

#include "daemon/pool/limits.h"

namespace pktpool::pool::internal {

// Values of a thread's slot word that are not a cache slot. FreeList has a slot for
// each that never caches (its capacity stays 0), so its fast path needs no test for
// them: they fail the fast path's length check and go to the locked path.
inline constexpr int kNoThreadSlot = kMaxThreadSlots;            // all slots taken
inline constexpr int kThreadSlotNotAsked = kMaxThreadSlots + 1;  // first call on a thread
inline constexpr int kThreadSlotWords = kMaxThreadSlots + 2;     // slots a FreeList keeps

// The calling thread's slot word: a cache slot in [0, kMaxThreadSlots), kNoThreadSlot
// (that thread then uses the shared free list), or kThreadSlotNotAsked before the first
// ResolveThreadSlot on this thread. Ids are reused after a thread exits, so thread pools
// that churn threads do not run out.
inline thread_local int tls_thread_slot = kThreadSlotNotAsked;
inline int CurrentThreadSlot() { return tls_thread_slot; }

// The slot word with kThreadSlotNotAsked replaced by a real answer (a cache slot or
// kNoThreadSlot). Thread-safe; the first call on a thread takes a global lock once.
int ResolveThreadSlot(int slot);

// Set once, before the first thread slot is handed out; read on every fast path.
inline std::atomic<bool> g_asymmetric_barrier{false};

// True when HeavyBarrier() is a real process-wide barrier (membarrier), so the owner
// side of a cache only needs a compiler barrier. Fixed before the first slot is given;
// when false, no thread gets a cache slot (except under TSan, see SetBusy).
inline bool AsymmetricBarrierAvailable() {
  return g_asymmetric_barrier.load(std::memory_order_relaxed);
}

// Makes every thread of this process pass a full memory barrier (membarrier
// PRIVATE_EXPEDITED). Costs microseconds: only for rare events (steal, close).
void HeavyBarrier();

// The owner side of the Dekker pair: publishes `flag = 1` before the caller reads the
// pool's intrusion word. A compiler barrier is enough: a thread gets a cache slot only
// when HeavyBarrier() is a real process-wide barrier (membarrier), and a thread without
// one only ever marks slots that no intruder waits on.
inline void SetBusy(std::atomic<unsigned>& flag) {
#if defined(__SANITIZE_THREAD__)
  // TSan cannot see membarrier: a seq_cst store pairs with the intruder's seq_cst load.
  flag.store(1, std::memory_order_seq_cst);
#else
  flag.store(1, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

}  // namespace pktpool::pool::internal

#endif  // PKTPOOL_DAEMON_POOL_INTERNAL_THREAD_SLOT_H_
