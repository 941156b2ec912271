#pragma once
// hugetlbfs pools of every page size: /sys/kernel/mm/hugepages/hugepages-<N>kB/ (global)
// and /sys/devices/system/node/node<N>/hugepages/hugepages-<N>kB/ (per NUMA node).
// /proc/meminfo's HugePages_* lines describe only the default size, so a 1 GiB pool next
// to a 2 MiB default is invisible there (except in Hugetlb:, 4.16+).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "collectors/registry.h"

namespace memledger {

extern const CollectorInfo kHugepagesCollector;

}  // namespace memledger
