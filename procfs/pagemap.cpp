#include "procfs/pagemap.h"

#include <algorithm>
#include <stdexcept>

#include "procfs/kpageflags.h"

namespace memledger {

void PagemapCensus::begin_mapping() {
  mapping_kind_ = MappingKind::unseen;
  file_kind_ = FileKind::unseen;
}

bool PagemapCensus::known_zero_page(std::uint64_t pfn) const {
  return std::binary_search(zero_pfns_.begin(), zero_pfns_.end(), pfn);
}

std::uint64_t PagemapCensus::flags_of(std::uint64_t pfn) {
  std::optional<std::uint64_t> flags = page_flags_(pfn);
  if (!flags) flags_failed_ = true;
  return flags.value_or(0);
}

void PagemapCensus::add_entries(std::span<const std::uint64_t> entries) {
  using namespace pagemap_bits;
  for (std::uint64_t entry : entries) {
    if (entry & kPresent) {
      const std::uint64_t pfn = entry & kPfnMask;
      if (pfn == 0) {
        hidden_pfn_ = true;
        continue;
      }
      std::optional<std::uint64_t> flags;  // this page's, once looked up
      if (mapping_kind_ == MappingKind::unseen) {
        // smaps_hugetlb_range() counts hugetlb pages in Private/Shared_Hugetlb only, never
        // in Rss or Pss; pagemap shows them like any page (private ones even "exclusive").
        flags = flags_of(pfn);
        mapping_kind_ = (*flags >> kpf::kHuge & 1) ? MappingKind::hugetlb : MappingKind::regular;
      }
      if (mapping_kind_ == MappingKind::hugetlb) continue;
      Shared shared = Shared::anon;
      if (entry & kFileOrSharedAnon) {
        // Not anonymous (pte_to_pagemap_entry(): !folio_test_anon()): the mapped file's
        // page cache, which smaps_account() calls shmem when swap-backed. The zero page
        // shows so too, in anonymous mappings: it cannot tell the mapping's kind, and is
        // left to its map count (0: smaps skips it).
        if (file_kind_ == FileKind::unseen && !known_zero_page(pfn)) {
          if (!flags) flags = flags_of(pfn);
          if (*flags >> kpf::kZeroPage & 1) {
            zero_pfns_.insert(std::upper_bound(zero_pfns_.begin(), zero_pfns_.end(), pfn), pfn);
          } else {
            file_kind_ = (*flags >> kpf::kSwapbacked & 1) ? FileKind::shmem : FileKind::file;
          }
        }
        shared = file_kind_ == FileKind::shmem ? Shared::shmem : Shared::file;
      }
      const std::size_t index = static_cast<std::size_t>(shared);
      if (entry & kExclusive) {
        // Mapped once: a whole page of Pss and of USS, no lookup. The zero page is never
        // "exclusive" (the bit is set only for a normal page whose map count is one).
        ++exclusive_pages_[index];
        continue;
      }
      // Shared with another mapping, or not a normal page at all (the zero page, a pfn
      // mapping): its map count decides.
      if (!pending_[index].empty() && pfn < pending_[index].back()) sorted_[index] = false;
      pending_[index].push_back(pfn);
    } else if ((entry & kSwapped) && mapping_kind_ != MappingKind::hugetlb) {
      ++swap_pages_;
    }
  }
}

namespace {

// LSD radix sort, 8 bits a pass, as many passes as the largest pfn needs (3 up to 64 GiB of
// RAM): a large shared segment brings millions of pfns, and std::sort of them cost a
// fifth of the whole read (2 GiB of shmem mapped by two processes).
void sort_pfns(std::vector<std::uint64_t>& pfns) {
  if (pfns.size() < 4096) {
    std::sort(pfns.begin(), pfns.end());
    return;
  }
  const std::uint64_t largest = *std::max_element(pfns.begin(), pfns.end());
  std::vector<std::uint64_t> scratch(pfns.size());
  for (unsigned shift = 0; shift < 64 && (largest >> shift) != 0; shift += 8) {
    std::size_t starts[257] = {};
    for (std::uint64_t pfn : pfns) ++starts[((pfn >> shift) & 0xff) + 1];
    for (std::size_t digit = 0; digit < 256; ++digit) starts[digit + 1] += starts[digit];
    for (std::uint64_t pfn : pfns) scratch[starts[(pfn >> shift) & 0xff]++] = pfn;
    pfns.swap(scratch);
  }
}

}  // namespace

std::span<const std::uint64_t> PagemapCensus::pending_pfns(Shared shared) {
  const std::size_t index = static_cast<std::size_t>(shared);
  if (!sorted_[index]) {
    sort_pfns(pending_[index]);
    sorted_[index] = true;
  }
  return pending_[index];
}

void PagemapCensus::resolve(Shared shared, std::span<const std::uint64_t> counts) {
  const std::size_t index = static_cast<std::size_t>(shared);
  if (counts.size() != pending_[index].size()) {
    throw std::invalid_argument("PagemapCensus::resolve: one count per pending pfn");
  }
  for (std::uint64_t count : counts) {
    // A count of 0: not a normal page (the zero page) or unmapped since pagemap was read.
    if (count == 0) continue;
    ++resolved_rss_pages_;
    if (count == 1) ++resolved_uss_pages_;
    shared_pss_[index] += (1ull << kPssShift) / count;
  }
  std::vector<std::uint64_t>().swap(pending_[index]);
}

PagemapFigures PagemapCensus::figures() const {
  std::uint64_t shifted[kClasses];
  std::uint64_t exclusive = 0;
  for (std::size_t i = 0; i < kClasses; ++i) {
    shifted[i] = shared_pss_[i] + (exclusive_pages_[i] << kPssShift);
    exclusive += exclusive_pages_[i];
  }
  auto bytes = [&](std::uint64_t pages_shifted) { return (pages_shifted * page_size_) >> kPssShift; };
  PagemapFigures f;
  f.pss_anon = bytes(shifted[static_cast<std::size_t>(Shared::anon)]);
  f.pss_file = bytes(shifted[static_cast<std::size_t>(Shared::file)]);
  f.pss_shmem = bytes(shifted[static_cast<std::size_t>(Shared::shmem)]);
  f.pss = bytes(shifted[0] + shifted[1] + shifted[2]);
  f.rss = (exclusive + resolved_rss_pages_) * page_size_;
  f.uss = (exclusive + resolved_uss_pages_) * page_size_;
  f.swap = swap_pages_ * page_size_;
  return f;
}

}  // namespace memledger
