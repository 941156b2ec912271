#include "procfs/pagemap.h"

#include <algorithm>
#include <stdexcept>

namespace memledger {

void PagemapCensus::add_entries(std::span<const std::uint64_t> entries) {
  using namespace pagemap_bits;
  for (std::uint64_t entry : entries) {
    if (entry & kPresent) {
      if ((entry & (kExclusive | kFileOrSharedAnon)) == kExclusive) {
        // Private anonymous, mapped once: a whole page of Pss_Anon and of USS. The zero
        // page is never "exclusive" (pagemap_pte_to_pme() sets the bit only for a normal
        // page whose map count is one).
        ++exclusive_anon_pages_;
        continue;
      }
      std::uint64_t pfn = entry & kPfnMask;
      if (pfn == 0) {
        hidden_pfn_ = true;
        continue;
      }
      if (!pending_.empty() && pfn < pending_.back()) sorted_ = false;
      pending_.push_back(pfn);
    } else if (entry & kSwapped) {
      ++swap_pages_;
    }
  }
}

std::span<const std::uint64_t> PagemapCensus::pending_pfns() {
  if (!sorted_) {
    std::sort(pending_.begin(), pending_.end());
    sorted_ = true;
  }
  return pending_;
}

void PagemapCensus::resolve(std::span<const std::uint64_t> counts,
                            std::span<const std::uint64_t> flags) {
  using namespace kpageflags_bits;
  if (counts.size() != pending_.size() || flags.size() != pending_.size()) {
    throw std::invalid_argument("PagemapCensus::resolve: one count and one flags word per pfn");
  }
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    const std::uint64_t count = counts[i];
    const std::uint64_t page_flags = flags[i];
    // smaps_pte_entry() skips what vm_normal_page() rejects (the zero page) and hugetlb
    // pages have their own smaps fields; a count of 0 means the page was unmapped since
    // pagemap was read.
    if (count == 0 || (page_flags & (kZeroPage | kNoPage | kHuge))) continue;
    ++resolved_rss_pages_;
    if (count == 1) ++resolved_uss_pages_;
    const std::uint64_t share = (1ull << kPssShift) / count;
    // smaps_account(): anonymous, else swap-backed (shmem), else file.
    if (page_flags & kAnon) {
      pss_anon_ += share;
    } else if (page_flags & kSwapBacked) {
      pss_shmem_ += share;
    } else {
      pss_file_ += share;
    }
  }
  pending_.clear();
}

PagemapFigures PagemapCensus::figures() const {
  PagemapFigures f;
  const std::uint64_t anon_shifted = pss_anon_ + (exclusive_anon_pages_ << kPssShift);
  f.pss_anon = (anon_shifted * page_size_) >> kPssShift;
  f.pss_file = (pss_file_ * page_size_) >> kPssShift;
  f.pss_shmem = (pss_shmem_ * page_size_) >> kPssShift;
  f.pss = ((anon_shifted + pss_file_ + pss_shmem_) * page_size_) >> kPssShift;
  f.rss = (exclusive_anon_pages_ + resolved_rss_pages_) * page_size_;
  f.uss = (exclusive_anon_pages_ + resolved_uss_pages_) * page_size_;
  f.swap = swap_pages_ * page_size_;
  return f;
}

}  // namespace memledger
