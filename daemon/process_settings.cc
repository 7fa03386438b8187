#include "daemon/process_settings.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/synchronization/mutex.h"

namespace pktpool {
namespace {

// True when the environment sets `variable` or GLIBC_TUNABLES names `tunable`.
bool EnvironmentChose(const char* variable, const char* tunable) {
  if (std::getenv(variable) != nullptr) return true;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return tunables != nullptr && std::strstr(tunables, tunable) != nullptr;
}

}  // namespace

bool LimitMallocArenas(int arenas) {
  if (arenas <= 0 || EnvironmentChose("MALLOC_ARENA_MAX", "glibc.malloc.arena_max")) return false;
  return mallopt(M_ARENA_MAX, arenas) == 1;
}

bool FixMallocMmapThreshold(size_t bytes) {
  if (bytes == 0 || bytes > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      EnvironmentChose("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold")) {
    return false;
  }
  return mallopt(M_MMAP_THRESHOLD, static_cast<int>(bytes)) == 1;
}

void StopMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void ApplyDaemonProcessSettings() {
  LimitMallocArenas(kMallocArenaLimit);
  FixMallocMmapThreshold(kMallocMmapThreshold);
  StopMutexDeadlockDetection();
}

}  // namespace pktpool
