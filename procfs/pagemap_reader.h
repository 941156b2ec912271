#pragma once
// Reads one process's memory figures through /proc/<pid>/pagemap (see procfs/pagemap.h).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "procfs/snapshot.h"
#include "procfs/pagemap.h"

namespace memledger {

enum class PagemapOutcome : std::uint8_t {
  read,
  exited,       // the process (or its address space, by exec) went away mid-read
  denied,       // this process's maps or pagemap is refused: read its smaps_rollup instead
  sparse,       // mappings far larger than its RSS (sanitizer shadow, reserved heaps):
                // pagemap costs per mapped page, smaps_rollup skips empty page tables
  unavailable,  // no pfns or kpage files (not root, older kernel): for every process
};

// One per reading thread: keeps its buffers and the kpage file descriptors across scrapes.
class PagemapReader {
 public:
  PagemapReader() = default;
  ~PagemapReader();
  PagemapReader(const PagemapReader&) = delete;
  PagemapReader& operator=(const PagemapReader&) = delete;
  PagemapReader(PagemapReader&& other) noexcept;
  PagemapReader& operator=(PagemapReader&&) = delete;

  // rss_bytes (from stat) bounds the work: see PagemapOutcome::sparse.
  PagemapOutcome read(const Snapshot& snapshot, int pid, std::uint64_t page_size,
                      std::uint64_t rss_bytes, PagemapFigures& figures);
  // Returns the buffers that grow with a process's size to the allocator.
  void shrink();

 private:
  bool open_kpage_files(const Snapshot& snapshot);
  bool map_counts(std::span<const std::uint64_t> pfns, std::vector<std::uint64_t>& counts);
  std::optional<std::uint64_t> page_flags(std::uint64_t pfn) const;

  int kpagecount_fd_ = -1, kpageflags_fd_ = -1;
  bool kpage_failed_ = false;
  std::string maps_;
  std::vector<std::uint64_t> entries_, counts_, window_;
};

}  // namespace memledger
