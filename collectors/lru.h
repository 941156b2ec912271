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
#include "collectors/registry.h"

namespace memledger {

extern const CollectorInfo kLruCollector;

}  // namespace memledger
