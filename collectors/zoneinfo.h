#pragma once
// /proc/zoneinfo: per-zone page counts and the pages parked on per-CPU free lists, which
// MemFree does not count (tens of MB on a small VM, far more on big hosts).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "collectors/registry.h"

namespace memledger {

extern const CollectorInfo kZoneinfoCollector;

}  // namespace memledger
