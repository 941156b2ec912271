#pragma once
// /proc/zoneinfo (mm/vmstat.c, zoneinfo_show): per-zone page counts and the per-CPU free
// lists ("count:" under "pagesets"), which MemFree does not include.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

struct Zone {
  int node = 0;
  std::string name;                 // DMA, DMA32, Normal, Movable, Device...
  std::uint64_t free_pages = 0, managed_pages = 0, present_pages = 0, spanned_pages = 0;
  std::uint64_t pcp_pages = 0;      // sum of the per-CPU free-list "count:" lines of this zone
  bool has_managed = false;         // kernels before 3.8 print no "managed" line
};

// Zones in file order. Understands every format since 2.6 (hot and cold per-CPU lists
// before 2.6.25, "per-node stats" blocks since 4.8). Throws ParseError on a malformed
// or truncated file, or a zone without its "pages free", "spanned" or "present" line.
std::vector<Zone> parse_zoneinfo(std::string_view text);

std::uint64_t per_cpu_free_list_pages(const std::vector<Zone>& zones);  // sum of pcp_pages
// /proc/zoneinfo, parsed once per snapshot; throws CollectError.
const std::vector<Zone>& read_zoneinfo(Snapshot& snapshot);

}  // namespace memledger
