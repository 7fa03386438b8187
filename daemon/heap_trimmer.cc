#include "daemon/heap_trimmer.h"

#include <malloc.h>

#include "absl/time/clock.h"

namespace pktpool {

HeapTrimmer::HeapTrimmer(absl::Duration interval) {
  if (interval > absl::ZeroDuration()) thread_ = std::thread([this, interval] { Run(interval); });
}

HeapTrimmer::~HeapTrimmer() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool HeapTrimmer::TrimNow() { return malloc_trim(0) != 0; }

uint64_t HeapTrimmer::trims() const {
  MutexLock lock(&mu_);
  return trims_;
}

void HeapTrimmer::Run(absl::Duration interval) {
  std::unique_lock<Mutex> lock(mu_);
  absl::Time next = absl::Now() + interval;
  while (!stop_) {
    wake_.wait_until(lock, absl::ToChronoTime(next));
    if (stop_) break;
    if (absl::Now() < next) continue;  // woken early
    lock.unlock();
    TrimNow();
    lock.lock();
    ++trims_;
    next = absl::Now() + interval;
  }
}

}  // namespace pktpool
