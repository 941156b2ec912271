#pragma once
// Collector meminfo: every /proc/meminfo field, in bytes.
#include <memory>

#include "collectors/collector.h"
#include "collectors/registry.h"

namespace memledger {

extern const CollectorInfo kMeminfoCollector;

}  // namespace memledger
