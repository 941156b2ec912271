#pragma once
// A process's PSS from /proc/<pid>/pagemap and /proc/kpagecount + /proc/kpageflags, instead
// of /proc/<pid>/smaps_rollup. The kernel's pagemap_read() (fs/proc/task_mmu.c) takes the
// target's mmap lock once per PAGEMAP_WALK_SIZE (one PMD: 2 MiB of address space with 4 KiB
// pages) and drops it between walks, so the target never waits longer than one PMD's walk;
// smaps_rollup holds the lock across the whole address space. The kpage files take no lock
// of the target at all. This file is the pure computation: entries and page facts in,
// figures out.
#include <cstdint>
#include <span>
#include <vector>

namespace memledger {

// Bits of a pagemap entry (Documentation/admin-guide/mm/pagemap.rst).
namespace pagemap_bits {
inline constexpr std::uint64_t kPfnMask = (1ull << 55) - 1;  // bits 0-54, when present
inline constexpr std::uint64_t kExclusive = 1ull << 56;      // page exclusively mapped
inline constexpr std::uint64_t kFileOrSharedAnon = 1ull << 61;
inline constexpr std::uint64_t kSwapped = 1ull << 62;
inline constexpr std::uint64_t kPresent = 1ull << 63;
}  // namespace pagemap_bits

// Bits of /proc/kpageflags (include/uapi/linux/kernel-page-flags.h).
namespace kpageflags_bits {
inline constexpr std::uint64_t kAnon = 1ull << 12;
inline constexpr std::uint64_t kSwapBacked = 1ull << 14;
inline constexpr std::uint64_t kHuge = 1ull << 17;  // hugetlbfs: smaps counts it apart
inline constexpr std::uint64_t kNoPage = 1ull << 20;
inline constexpr std::uint64_t kZeroPage = 1ull << 24;
}  // namespace kpageflags_bits

// The figures, in bytes, with smaps_rollup's meaning.
struct PagemapFigures {
  std::uint64_t rss = 0, pss = 0, pss_anon = 0, pss_file = 0, pss_shmem = 0, uss = 0, swap = 0;
};

// Accumulates one process's pagemap entries. Pages mapped exclusively and anonymous (the
// bulk of a large process) are settled from the entry alone; the others need their map
// count and flags, so their pfns are kept for one batched lookup (resolve()).
class PagemapCensus {
 public:
  explicit PagemapCensus(std::uint64_t page_size) : page_size_(page_size) {}

  void add_entries(std::span<const std::uint64_t> entries);

  // The pfns whose kpagecount and kpageflags resolve() needs, sorted (duplicates kept: a
  // page mapped twice in one process counts twice, as in smaps).
  std::span<const std::uint64_t> pending_pfns();

  // counts[i] and flags[i] are the kpagecount and kpageflags entries of pending_pfns()[i].
  void resolve(std::span<const std::uint64_t> counts, std::span<const std::uint64_t> flags);

  // Every present page had a pfn: false when pagemap hid them (no CAP_SYS_ADMIN).
  bool pfns_visible() const { return !hidden_pfn_; }

  PagemapFigures figures() const;

 private:
  // PSS is summed in pages << kPssShift, as smaps does (PSS_SHIFT in fs/proc/task_mmu.c),
  // so that 1/mapcount shares do not lose their fractions.
  static constexpr unsigned kPssShift = 12;
  std::uint64_t page_size_;
  std::uint64_t exclusive_anon_pages_ = 0;
  std::uint64_t swap_pages_ = 0;
  std::uint64_t resolved_rss_pages_ = 0, resolved_uss_pages_ = 0;
  std::uint64_t pss_anon_ = 0, pss_file_ = 0, pss_shmem_ = 0;  // pages << kPssShift
  std::vector<std::uint64_t> pending_;
  bool sorted_ = true;
  bool hidden_pfn_ = false;
};

}  // namespace memledger
