#pragma once
// /proc/slabinfo: the slab allocator's caches (formats 1.x of Linux 2.4 and 2.x since 2.6).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "procfs/slabinfo.h"
#include "collectors/registry.h"

namespace memledger {

// One exported series set: a cache, or "other" for the caches outside the top N.
struct SlabCacheUsage {
  std::string name;
  std::uint64_t bytes = 0;
  std::uint64_t active_objs = 0;
  std::uint64_t num_objs = 0;
  std::uint64_t objsize = 0;  // 0 for "other": its objects have many sizes
};

// The caches to export by name and the sum of the rest, so that the named caches plus
// "other" add up to the slabinfo total.
struct SlabTopCaches {
  std::vector<SlabCacheUsage> largest;  // by bytes, largest first (ties by name)
  SlabCacheUsage other;                 // named "other"; all zero when nothing is left
  std::uint64_t total_bytes = 0;
};

// Caches of the same name are summed first (label values must be unique), and a cache
// literally named "other" always goes to the remainder for the same reason.
SlabTopCaches top_slab_caches(const SlabInfo& info, std::size_t limit, std::uint64_t page_size);

extern const CollectorInfo kSlabCollector;

}  // namespace memledger
