#pragma once
// /proc/allocinfo (6.10+, CONFIG_MEM_ALLOC_PROFILING): live bytes and allocations per
// kernel call site. Where the kernel has it, it names the code behind any kernel memory,
// the black hole included. Its absence is the common case, not a failure.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "procfs/allocinfo.h"
#include "collectors/registry.h"

namespace memledger {

// The `limit` sites with the most bytes (ties by site and function), then one named
// "other" holding the rest, so the list sums to the file's total.
std::vector<AllocSite> top_alloc_sites(std::vector<AllocSite> sites, std::size_t limit);

// The collector's options (see its declaration for the defaults).
struct AllocinfoConfig {
  std::size_t top_sites = 30;
};

extern const CollectorInfo kAllocinfoCollector;

}  // namespace memledger
