#pragma once
// /proc/zoneinfo: per-zone page counts and the pages parked on per-CPU free lists, which
// MemFree does not count (tens of MB on a small VM, far more on big hosts).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "config/config.h"

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

std::unique_ptr<Collector> make_zoneinfo_collector(const Config& config);

}  // namespace memledger
