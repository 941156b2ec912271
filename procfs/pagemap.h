#pragma once
// A process's PSS from /proc/<pid>/pagemap and /proc/kpagecount + /proc/kpageflags, instead
// of /proc/<pid>/smaps_rollup. The kernel's pagemap_read() (fs/proc/task_mmu.c) takes the
// target's mmap lock once per PAGEMAP_WALK_SIZE (one PMD: 2 MiB of address space with 4 KiB
// pages) and drops it between walks, so the target never waits longer than one PMD's walk;
// smaps_rollup holds the lock across the whole address space. The kpage files take no lock
// of the target at all. This file is the pure computation: entries and page facts in,
// figures out.
#include <cstdint>
#include <functional>
#include <optional>
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

// The figures, in bytes, with smaps_rollup's meaning.
struct PagemapFigures {
  std::uint64_t rss = 0, pss = 0, pss_anon = 0, pss_file = 0, pss_shmem = 0, uss = 0, swap = 0;
};

// The kpageflags word of one pfn; nullopt when it could not be read.
using PageFlagsLookup = std::function<std::optional<std::uint64_t>(std::uint64_t pfn)>;

// Accumulates one process's pagemap entries, mapping by mapping.
//
// What a page's entry leaves open is settled per mapping, not per page: a mapping is
// hugetlb or not as a whole (vma_is_hugetlb()), and its non-anonymous pages all belong
// to the one file it maps, so they are all shmem (swap-backed) or all page cache. One
// kpageflags lookup of the mapping's first present page, and of its first
// non-anonymous one (other than the zero page), classifies all its pages. What remains per page is the map count
// of the pages mapped more than once (no "exclusive" bit): their pfns are kept, by
// class, for one batched /proc/kpagecount lookup (resolve()).
class PagemapCensus {
 public:
  enum class Shared : std::uint8_t { anon, file, shmem };
  static constexpr Shared kSharedClasses[] = {Shared::anon, Shared::file, Shared::shmem};

  PagemapCensus(std::uint64_t page_size, PageFlagsLookup page_flags)
      : page_size_(page_size), page_flags_(std::move(page_flags)) {}

  // The entries that follow belong to the next mapping of /proc/<pid>/maps.
  void begin_mapping();
  void add_entries(std::span<const std::uint64_t> entries);

  // The pfns of this class mapped more than once, sorted (duplicates kept: a page mapped
  // twice in one process counts twice, as in smaps).
  std::span<const std::uint64_t> pending_pfns(Shared shared);

  // counts[i] is the kpagecount entry of pending_pfns(shared)[i].
  void resolve(Shared shared, std::span<const std::uint64_t> counts);

  // Every present page had a pfn: false when pagemap hid them (no CAP_SYS_ADMIN).
  bool pfns_visible() const { return !hidden_pfn_; }
  // A kpageflags lookup failed: the figures are incomplete.
  bool flags_failed() const { return flags_failed_; }

  PagemapFigures figures() const;

 private:
  enum class MappingKind : std::uint8_t { unseen, hugetlb, regular };
  enum class FileKind : std::uint8_t { unseen, file, shmem };
  std::uint64_t flags_of(std::uint64_t pfn);
  bool known_zero_page(std::uint64_t pfn) const;

  // PSS is summed in pages << kPssShift, as smaps does (PSS_SHIFT in fs/proc/task_mmu.c),
  // so that 1/mapcount shares do not lose their fractions.
  static constexpr unsigned kPssShift = 12;
  static constexpr std::size_t kClasses = 3;
  std::uint64_t page_size_;
  PageFlagsLookup page_flags_;
  MappingKind mapping_kind_ = MappingKind::unseen;
  FileKind file_kind_ = FileKind::unseen;
  std::uint64_t exclusive_pages_[kClasses] = {};
  std::uint64_t swap_pages_ = 0;
  std::uint64_t resolved_rss_pages_ = 0, resolved_uss_pages_ = 0;
  std::uint64_t shared_pss_[kClasses] = {};  // pages << kPssShift
  std::vector<std::uint64_t> pending_[kClasses];
  bool sorted_[kClasses] = {true, true, true};
  // The pfns found to be the zero page (one, and the huge zero folio's): sorted.
  std::vector<std::uint64_t> zero_pfns_;
  bool hidden_pfn_ = false;
  bool flags_failed_ = false;
};

}  // namespace memledger
