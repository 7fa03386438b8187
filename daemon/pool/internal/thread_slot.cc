#include "daemon/pool/internal/thread_slot.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bitset>
#include <mutex>

#include "daemon/pool/limits.h"

namespace pktpool::pool::internal {
namespace {

bool RegisterMembarrier() {
#if defined(__SANITIZE_THREAD__)
  return false;  // TSan cannot see membarrier's ordering; use seq_cst stores instead.
#else
  long supported = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

class SlotRegistry {
 public:
  int Acquire() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!barrier_decided_) {
      g_asymmetric_barrier.store(RegisterMembarrier(), std::memory_order_relaxed);
      barrier_decided_ = true;
    }
#if !defined(__SANITIZE_THREAD__)
    // Without membarrier the owner side of a cache would need a seq_cst store (an xchg)
    // on every call, and every call a branch to pick it: pools run uncached instead,
    // through their locked path (kernels before 4.14, valgrind).
    if (!g_asymmetric_barrier.load(std::memory_order_relaxed)) return kNoThreadSlot;
#endif
    for (int i = 0; i < kMaxThreadSlots; ++i) {
      if (!used_[i]) {
        used_[i] = true;
        return i;
      }
    }
    return kNoThreadSlot;
  }
  void Release(int slot) {
    if (slot < 0 || slot >= kMaxThreadSlots) return;
    std::lock_guard<std::mutex> lock(mu_);
    used_[slot] = false;
  }

 private:
  std::mutex mu_;
  bool barrier_decided_ = false;
  std::bitset<kMaxThreadSlots> used_;
};

SlotRegistry& Registry() {
  static auto* registry = new SlotRegistry();  // never destroyed: threads may outlive main
  return *registry;
}

struct ThreadSlotHolder {
  int slot = Registry().Acquire();
  ~ThreadSlotHolder() {
    Registry().Release(slot);
    // A pool used from a later thread_local destructor goes uncached.
    tls_thread_slot = kNoThreadSlot;
  }
};

}  // namespace

int ResolveThreadSlot(int slot) {
  if (slot != kThreadSlotNotAsked) return slot;
  thread_local ThreadSlotHolder holder;
  if (tls_thread_slot == kThreadSlotNotAsked) tls_thread_slot = holder.slot;
  return tls_thread_slot;
}

void HeavyBarrier() {
  if (AsymmetricBarrierAvailable()) {
    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  } else {
    // Owners publish `busy` with seq_cst stores and intruders read it with seq_cst
    // loads, so the seq_cst order already pairs them; the fence only documents that.
#if !defined(__SANITIZE_THREAD__)
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  }
}

}  // namespace pktpool::pool::internal
