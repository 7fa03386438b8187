// HeapTrimmer: gives the pages malloc holds free back to the system, every interval.
#ifndef PKTPOOL_DAEMON_HEAP_TRIMMER_H_
#define PKTPOOL_DAEMON_HEAP_TRIMMER_H_

#include <condition_variable>
#include <cstdint>
#include <thread>

#include "absl/time/time.h"
#include "daemon/pool/mutex.h"

namespace pktpool {

// How often pktpoold trims its heap (see HeapTrimmer).
inline constexpr absl::Duration kHeapTrimInterval = absl::Seconds(10);

// glibc keeps freed memory inside its per-thread arenas; with gRPC's threads freeing and
// allocating at different sizes, those arenas fill with free pages that stay resident,
// and the daemon's RSS creeps up although the memory it holds does not (the soak
// measured +1.3 % in two minutes with a flat live heap). A thread of its own calls
// malloc_trim(0) every interval, which releases whole free pages of every arena
// (MADV_DONTNEED), so RSS follows what the daemon holds. Pool memory is not malloc's
// (TaggedMemory maps it). Thread-safe; destruction stops and joins the thread.
class HeapTrimmer {
 public:
  // Starts the thread; a zero or negative interval starts none.
  explicit HeapTrimmer(absl::Duration interval);
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  // Trims once, on the calling thread; true when malloc gave memory back.
  static bool TrimNow();
  // How many trims the thread has done.
  uint64_t trims() const;

 private:
  void Run(absl::Duration interval);

  mutable Mutex mu_;
  std::condition_variable_any wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t trims_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace pktpool

#endif  // PKTPOOL_DAEMON_HEAP_TRIMMER_H_
