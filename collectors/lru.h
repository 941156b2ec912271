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

std::unique_ptr<Collector> make_lru_collector(const Config& config);

}  // namespace memledger
