// Memory with tag (NdisAllocateMemoryWithTag) and its per-tag accounting: the poolmon
// view of where the daemon's memory is.
#ifndef PKTPOOL_DAEMON_POOL_TAGGED_MEMORY_H_
#define PKTPOOL_DAEMON_POOL_TAGGED_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "daemon/pool/mutex.h"
#include "daemon/pool/status.h"

namespace pktpool::pool {

// A four-character pool tag such as 'RXPK'. Value type.
class MemoryTag {
 public:
  constexpr MemoryTag() = default;
  // From a four-character literal: MemoryTag("RXPK").
  constexpr explicit MemoryTag(const char (&text)[5])
      : value_(static_cast<uint32_t>(static_cast<uint8_t>(text[0])) |
               static_cast<uint32_t>(static_cast<uint8_t>(text[1])) << 8 |
               static_cast<uint32_t>(static_cast<uint8_t>(text[2])) << 16 |
               static_cast<uint32_t>(static_cast<uint8_t>(text[3])) << 24) {}
  // Parses exactly four printable ASCII characters; nullopt otherwise.
  static std::optional<MemoryTag> Parse(std::string_view text);
  std::string ToString() const;
  uint32_t value() const { return value_; }
  friend bool operator==(MemoryTag a, MemoryTag b) { return a.value_ == b.value_; }
  template <typename H>
  friend H AbslHashValue(H h, MemoryTag tag) { return H::combine(std::move(h), tag.value_); }

 private:
  uint32_t value_ = 0;
};

// While one lives on a thread, TaggedMemory::Allocate on that thread makes a mapped
// block resident kPopulateChunkBytes at a time and gives up (returns null; nothing is
// kept) once `abandoned` returns true between two steps: a Bind or TunePool whose caller
// went away (cancelled, deadline passed) stops filling memory. Not copyable; guards nest
// (the innermost one is asked). Without one, a block is populated in one step.
class PopulationGuard {
 public:
  explicit PopulationGuard(std::function<bool()> abandoned);
  ~PopulationGuard();
  PopulationGuard(const PopulationGuard&) = delete;
  PopulationGuard& operator=(const PopulationGuard&) = delete;
  // True when the calling thread has a guard whose caller gave up.
  static bool Abandoned();

 private:
  std::function<bool()> abandoned_;
  PopulationGuard* outer_;
};

// Accounting of one tag.
struct TagUsage {
  MemoryTag tag;
  uint64_t bytes_outstanding = 0;
  uint64_t blocks_outstanding = 0;
  uint64_t peak_bytes = 0;  // highest bytes_outstanding seen
  uint64_t allocations = 0;
  uint64_t frees = 0;
};

// Tagged allocations with per-tag counters. Thread-safe (one lock; meant for pool
// storage and data buffers carved at setup, not for per-frame calls). Every block still
// allocated when the TaggedMemory is destroyed is released then.
class TaggedMemory {
 public:
  TaggedMemory() = default;
  ~TaggedMemory();
  TaggedMemory(const TaggedMemory&) = delete;
  TaggedMemory& operator=(const TaggedMemory&) = delete;

  // Allocates `length` bytes (> 0) aligned to `alignment` (a power of two, >= 16),
  // charged to `tag`. Null when length is 0, the alignment is bad or memory is short.
  // Blocks of kTaggedMemoryMapThreshold bytes or more are zero-filled pages of their own
  // (mmap), resident from the start like NDIS's nonpaged memory (no page faults on the
  // data path, and RSS shows the pools at their full size at once), end right before an
  // inaccessible guard page (a write past the end faults), and go back to the system
  // on Free; smaller ones come from malloc.
  void* Allocate(size_t length, MemoryTag tag, size_t alignment = 16);

  // Releases a block from Allocate. kInvalidParameter (and nothing changes) when `block`
  // is not a live block of this TaggedMemory, e.g. freed twice.
  Status Free(void* block);

  // Counters of one tag (zeros if it was never used).
  TagUsage Usage(MemoryTag tag) const;
  // Counters of every tag ever used, sorted by tag text.
  std::vector<TagUsage> AllUsage() const;

 private:
  struct Block {
    size_t length;
    MemoryTag tag;
    void* mapping;         // the mmap the block lies in (guard page included), or null
    size_t mapped_length;  // bytes of that mapping; 0 for a malloc block
  };
  static void Release(void* block, const Block& info);
  mutable pktpool::Mutex mu_;
  absl::flat_hash_map<void*, Block> blocks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<MemoryTag, TagUsage> usage_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pktpool::pool

#endif  // PKTPOOL_DAEMON_POOL_TAGGED_MEMORY_H_
