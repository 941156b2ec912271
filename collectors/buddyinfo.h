#pragma once
// /proc/buddyinfo: free blocks of each order per zone, and how fragmented free memory is
// (seed 003, case 2: gigabytes free, yet an allocation of 16 contiguous pages stalls).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "config/config.h"

namespace memledger {

std::unique_ptr<Collector> make_buddyinfo_collector(const Config& config);

}  // namespace memledger
