#pragma once
// Collector meminfo: every /proc/meminfo field, in bytes.
#include <memory>

#include "collectors/collector.h"
#include "config/config.h"

namespace memledger {

std::unique_ptr<Collector> make_meminfo_collector(const Config& config);

}  // namespace memledger
