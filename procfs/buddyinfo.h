#pragma once
// /proc/buddyinfo (mm/vmstat.c, frag_show): free blocks per order, per zone.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

struct BuddyZone {
  int node = 0;
  std::string zone;                       // DMA, DMA32, Normal, Movable, HighMem...
  std::vector<std::uint64_t> free_blocks;  // [order] = free blocks of 2^order pages

  std::uint64_t free_pages() const;
  // Gorman's unusable free space index: the share of free pages that sit in blocks too
  // small for an allocation of 2^order pages. 0 = no fragmentation at that order, 1 =
  // none of the free memory can serve it. 0 when the zone has no free pages.
  double unusable_free_ratio(std::size_t order) const;
  // The highest order with a free block; -1 when the zone has none.
  int largest_free_order() const;
};

// Lines "Node N, zone NAME c0 c1 ...". The number of orders is whatever the kernel prints
// (11 on x86_64, more with larger MAX_ORDER). Throws ParseError on a malformed line.
std::vector<BuddyZone> parse_buddyinfo(std::string_view text);

// /proc/buddyinfo, parsed once per snapshot; throws CollectError.
const std::vector<BuddyZone>& read_buddyinfo(Snapshot& snapshot);

}  // namespace memledger
