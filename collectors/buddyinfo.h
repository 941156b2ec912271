#pragma once
// /proc/buddyinfo: free blocks of each order per zone, and how fragmented free memory is
// (gigabytes free, yet an allocation of 16 contiguous pages stalls in compaction:
// Documentation/admin-guide/mm/concepts.rst, mm/compaction.c).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "collectors/registry.h"

namespace memledger {

extern const CollectorInfo kBuddyinfoCollector;

}  // namespace memledger
