#pragma once
// /proc/slabinfo (mm/slab_common.c, slabinfo_show; root only): one line per cache.
// A cache holds num_slabs x pagesperslab pages.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procfs/snapshot.h"

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

// /proc/slabinfo, parsed once per snapshot; throws CollectError.
const SlabInfo& read_slabinfo(Snapshot& snapshot);

}  // namespace memledger
