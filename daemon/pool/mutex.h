// The project's mutex: std::mutex with Abseil's thread-safety annotations.
// Why not absl::Mutex: Debian's libabsl is built without ThreadSanitizer, so TSan cannot
// see absl::Mutex lock and unlock and reports false races; pthread mutexes it sees.
#ifndef PKTPOOL_DAEMON_POOL_MUTEX_H_
#define PKTPOOL_DAEMON_POOL_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace pktpool {

// A non-recursive mutex. Thread-safe, obviously; not copyable or movable.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  // For std::condition_variable_any and std::unique_lock.
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope (RAII).
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace pktpool

#endif  // PKTPOOL_DAEMON_POOL_MUTEX_H_
