#pragma once
// /proc/slabinfo: the slab allocator's caches (formats 1.x of Linux 2.4 and 2.x since 2.6).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "config/config.h"

namespace memledger {

struct SlabCache {
  std::string name;  // as printed; 2.4 kernels had names with spaces ("file lock cache")
  std::uint64_t active_objs = 0;
  std::uint64_t num_objs = 0;
  std::uint64_t objsize = 0;     // bytes per object
  std::uint64_t objperslab = 0;  // format 1.x lacks the column: num_objs / num_slabs
  std::uint64_t pagesperslab = 0;
  std::uint64_t active_slabs = 0;
  std::uint64_t num_slabs = 0;

  // The pages the cache holds. num_objs x objsize understates it: it misses the
  // per-slab waste, the metadata and the free objects' alignment padding.
  std::uint64_t bytes(std::uint64_t page_size) const {
    return num_slabs * pagesperslab * page_size;
  }
};

struct SlabInfo {
  std::string version;            // "2.1", "2.0", "1.1"...
  std::vector<SlabCache> caches;  // in file order; under SLUB merged caches show once

  std::uint64_t total_bytes(std::uint64_t page_size) const;
};

// Throws ParseError on an unknown version, a malformed or truncated line, or no caches.
SlabInfo parse_slabinfo(std::string_view text);

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

std::unique_ptr<Collector> make_slab_collector(const Config& config);
// Same, with an explicit page size instead of the host's (tests, other architectures).
std::unique_ptr<Collector> make_slab_collector_with_page_size(const Config& config,
                                                              std::uint64_t page_size);

}  // namespace memledger
