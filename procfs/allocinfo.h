#pragma once
// /proc/allocinfo (6.10+, CONFIG_MEM_ALLOC_PROFILING; lib/alloc_tag.c): bytes and calls
// per allocation call site.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

struct AllocSite {
  std::string site;      // "mm/slub.c:2345"
  std::string module;    // "" for the kernel itself, else the module name ("[xfs]" -> "xfs")
  std::string function;  // "func:" field
  std::int64_t bytes = 0;        // signed in the kernel (per-CPU counters summed)
  std::uint64_t allocations = 0;  // live allocations ("calls")
  bool accurate = true;           // false: the kernel marks the counters incomplete
};

// Format versions 1.x and 2.x. Throws ParseError on an unknown version or a malformed
// line.
std::vector<AllocSite> parse_allocinfo(std::string_view text);

// /proc/allocinfo, parsed once per snapshot; throws CollectError.
const std::vector<AllocSite>& read_allocinfo(Snapshot& snapshot);

}  // namespace memledger
