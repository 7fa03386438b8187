// Per-thread cache slot ids and the asymmetric barrier that lets a pool reach into
// another thread's cache. Internal to daemon/pool.
#ifndef PKTPOOL_DAEMON_POOL_INTERNAL_THREAD_SLOT_H_
#define PKTPOOL_DAEMON_POOL_INTERNAL_THREAD_SLOT_H_

#include <atomic>

namespace pktpool::pool::internal {

// The calling thread's cache slot in [0, kMaxThreadSlots), or -1 when all slots are
// taken (that thread then uses the shared free list). Ids are reused after a thread
// exits, so thread pools that churn threads do not run out. Thread-safe; the first
// call on a thread takes a global lock once.
int AcquireThreadSlot();  // slow path of CurrentThreadSlot
inline thread_local int tls_thread_slot = -2;  // -2: not asked yet
inline int CurrentThreadSlot() {
  int slot = tls_thread_slot;
  return slot != -2 ? slot : AcquireThreadSlot();
}

// Set once, before the first thread slot is handed out; read on every fast path.
inline std::atomic<bool> g_asymmetric_barrier{false};

// True when HeavyBarrier() is a real process-wide barrier (membarrier), so the owner
// side of a cache only needs a compiler barrier. Fixed before the first slot is given.
inline bool AsymmetricBarrierAvailable() {
  return g_asymmetric_barrier.load(std::memory_order_relaxed);
}

// Makes every thread of this process pass a full memory barrier (membarrier
// PRIVATE_EXPEDITED). Costs microseconds: only for rare events (steal, close).
void HeavyBarrier();

// The owner side of the Dekker pair: publishes `flag = 1` before the caller reads the
// pool's intrusion word. Inline and cheap when the asymmetric barrier is available.
inline void SetBusy(std::atomic<unsigned>& flag) {
#if defined(__SANITIZE_THREAD__)
  flag.store(1, std::memory_order_seq_cst);
#else
  if (AsymmetricBarrierAvailable()) {
    flag.store(1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    flag.store(1, std::memory_order_seq_cst);
  }
#endif
}

}  // namespace pktpool::pool::internal

#endif  // PKTPOOL_DAEMON_POOL_INTERNAL_THREAD_SLOT_H_
