#pragma once
// /proc/zoneinfo: per-zone page counts and the pages parked on per-CPU free lists, which
// MemFree does not count (tens of MB on a small VM, far more on big hosts).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "config/config.h"

namespace memledger {

std::unique_ptr<Collector> make_zoneinfo_collector(const Config& config);

}  // namespace memledger
