// Process-wide settings pktpoold applies at start-up, before it starts a thread, so that
// its resident memory follows what it holds over days of running (measured by the soak,
// tests/soak/README.md, invariant 3).
#ifndef PKTPOOL_DAEMON_PROCESS_SETTINGS_H_
#define PKTPOOL_DAEMON_PROCESS_SETTINGS_H_

#include <cstddef>

namespace pktpool {

// How many malloc arenas pktpoold lets glibc use (see LimitMallocArenas).
inline constexpr int kMallocArenaLimit = 2;
// From this size up, malloc maps each block of its own (see FixMallocMmapThreshold).
inline constexpr size_t kMallocMmapThreshold = 128 * 1024;

// glibc gives threads arenas of their own, up to 8 per core, creating them as more
// threads allocate at once; each new arena pins pages for the few objects that live in
// it, so with gRPC's threads RSS grew in steps long after start-up. The data path takes
// its memory from the pools, not malloc, so two arenas cost no contention that matters.
// Sets mallopt(M_ARENA_MAX) unless the environment chose (MALLOC_ARENA_MAX, or
// GLIBC_TUNABLES naming glibc.malloc.arena_max); true when it set it.
bool LimitMallocArenas(int arenas);

// glibc raises its mmap threshold to the size of each mapped block freed (up to 32 MiB),
// so after the first large gRPC message every later one comes from the arenas, whose
// heaps they stretch, leaving the small objects allocated meanwhile spread over more
// pages. A fixed threshold keeps large blocks mapped and returned whole on free. Sets
// mallopt(M_MMAP_THRESHOLD) unless the environment chose (MALLOC_MMAP_THRESHOLD_, or
// GLIBC_TUNABLES naming glibc.malloc.mmap_threshold); true when it set it.
bool FixMallocMmapThreshold(size_t bytes);

// Debian builds Abseil without NDEBUG, so absl::Mutex (which gRPC uses) keeps a graph of
// every lock order it sees to detect deadlocks: the graph grows with the mutexes and
// orders gRPC's calls make (in 64 KiB mappings it never returns), costs time on every
// nested lock, and aborts the process on a cycle. Production builds of Abseil have it
// off; this turns it off (absl::OnDeadlockCycle::kIgnore). Tests keep it on.
void StopMutexDeadlockDetection();

// The three above with pktpoold's values. Call first thing in main, before any thread.
void ApplyDaemonProcessSettings();

}  // namespace pktpool

#endif  // PKTPOOL_DAEMON_PROCESS_SETTINGS_H_
