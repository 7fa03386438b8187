#include "daemon/pool/tagged_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "daemon/pool/limits.h"

namespace pktpool::pool {

std::optional<MemoryTag> MemoryTag::Parse(std::string_view text) {
  if (text.size() != 4) return std::nullopt;
  char chars[5] = {};
  for (size_t i = 0; i < 4; ++i) {
    if (text[i] < 0x21 || text[i] > 0x7e) return std::nullopt;
    chars[i] = text[i];
  }
  return MemoryTag(chars);
}

std::string MemoryTag::ToString() const {
  std::string text(4, '\0');
  for (int i = 0; i < 4; ++i) text[i] = static_cast<char>((value_ >> (8 * i)) & 0xff);
  return text;
}

namespace {

thread_local PopulationGuard* current_guard = nullptr;

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

// Makes `bytes` at `base` resident in steps, asking the thread's guard between them;
// false once it says its caller gave up.
bool PopulateUnlessAbandoned(char* base, size_t bytes) {
  for (size_t done = 0; done < bytes; done += kPopulateChunkBytes) {
    if (PopulationGuard::Abandoned()) return false;
    const size_t step = std::min(kPopulateChunkBytes, bytes - done);
    if (madvise(base + done, step, MADV_POPULATE_WRITE) != 0) {
      // Kernels before 5.14: a write to each page faults it in (the pages are zero).
      for (size_t page = 0; page < step; page += PageSize()) {
        static_cast<volatile char*>(base)[done + page] = 0;
      }
    }
  }
  return !PopulationGuard::Abandoned();
}

}  // namespace

TaggedMemory::~TaggedMemory() {
  pktpool::MutexLock lock(&mu_);
  for (auto& [block, info] : blocks_) Release(block, info);
}

void TaggedMemory::Release(void* block, const Block& info) {
  if (info.mapped_length != 0) {
    munmap(info.mapping, info.mapped_length);
  } else {
    std::free(block);
  }
}

PopulationGuard::PopulationGuard(std::function<bool()> abandoned)
    : abandoned_(std::move(abandoned)), outer_(current_guard) {
  current_guard = this;
}

PopulationGuard::~PopulationGuard() { current_guard = outer_; }

bool PopulationGuard::Abandoned() {
  return current_guard != nullptr && current_guard->abandoned_ && current_guard->abandoned_();
}

void* TaggedMemory::Allocate(size_t length, MemoryTag tag, size_t alignment) {
  if (length == 0 || alignment < 16 || (alignment & (alignment - 1)) != 0) return nullptr;
  const size_t rounded = (length + alignment - 1) & ~(alignment - 1);
  if (rounded < length) return nullptr;  // overflow
  void* raw = nullptr;
  void* mapping = nullptr;
  size_t mapped_length = 0;
  if (rounded >= kTaggedMemoryMapThreshold && alignment <= PageSize()) {
    // The pages for `rounded` bytes plus an inaccessible guard page; the block ends where
    // the guard begins, so writing past it faults at once (in every build, where malloc's
    // blocks have only ASan's redzones). The start stays aligned: the distance from the
    // mapping's start is a multiple of the page size minus a multiple of `alignment`.
    const size_t data_pages = (rounded + PageSize() - 1) & ~(PageSize() - 1);
    mapped_length = data_pages + PageSize();
    const bool guarded = current_guard != nullptr;
    mapping = mmap(nullptr, mapped_length, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (guarded ? 0 : MAP_POPULATE), -1, 0);
    if (mapping == MAP_FAILED) return nullptr;
    auto* base = static_cast<char*>(mapping);
    if (guarded && !PopulateUnlessAbandoned(base, data_pages)) {
      munmap(mapping, mapped_length);
      return nullptr;
    }
    if (mprotect(base + data_pages, PageSize(), PROT_NONE) != 0) {
      munmap(mapping, mapped_length);
      return nullptr;
    }
    raw = base + (data_pages - rounded);
  } else {
    raw = std::aligned_alloc(alignment, rounded);
    if (raw == nullptr) return nullptr;
  }
  pktpool::MutexLock lock(&mu_);
  blocks_.emplace(raw, Block{length, tag, mapping, mapped_length});
  TagUsage& usage = usage_[tag];
  usage.tag = tag;
  usage.bytes_outstanding += length;
  usage.blocks_outstanding += 1;
  usage.allocations += 1;
  usage.peak_bytes = std::max(usage.peak_bytes, usage.bytes_outstanding);
  return raw;
}

Status TaggedMemory::Free(void* block) {
  Block info{};
  {
    pktpool::MutexLock lock(&mu_);
    auto it = blocks_.find(block);
    if (it == blocks_.end()) return Status::kInvalidParameter;
    TagUsage& usage = usage_[it->second.tag];
    usage.bytes_outstanding -= it->second.length;
    usage.blocks_outstanding -= 1;
    usage.frees += 1;
    info = it->second;
    blocks_.erase(it);
  }
  Release(block, info);
  return Status::kSuccess;
}

TagUsage TaggedMemory::Usage(MemoryTag tag) const {
  pktpool::MutexLock lock(&mu_);
  auto it = usage_.find(tag);
  if (it == usage_.end()) {
    TagUsage empty;
    empty.tag = tag;
    return empty;
  }
  return it->second;
}

std::vector<TagUsage> TaggedMemory::AllUsage() const {
  std::vector<TagUsage> all;
  {
    pktpool::MutexLock lock(&mu_);
    for (const auto& [tag, usage] : usage_) all.push_back(usage);
  }
  std::sort(all.begin(), all.end(), [](const TagUsage& a, const TagUsage& b) {
    return a.tag.ToString() < b.tag.ToString();
  });
  return all;
}

}  // namespace pktpool::pool
