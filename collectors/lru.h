#pragma once
// The page LRU lists: what the LRU equation of the ledger adds up. Global figures come
// from /proc/meminfo, the same reading the meminfo collector exports; pages briefly taken
// off the lists by reclaim or migration from /proc/vmstat; per NUMA node from
// /sys/devices/system/node/node<N>/meminfo.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/collector.h"
#include "config/config.h"

namespace memledger {

struct Vmstat {
  std::vector<std::pair<std::string, std::int64_t>> counters;  // file order
  std::optional<std::int64_t> get(std::string_view name) const;
};

// /proc/vmstat and /sys/devices/system/node/nodeN/vmstat ("name value" lines).
// Throws ParseError on a malformed or truncated line.
Vmstat parse_vmstat(std::string_view text);

std::unique_ptr<Collector> make_lru_collector(const Config& config);

}  // namespace memledger
