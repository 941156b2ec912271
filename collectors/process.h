#pragma once
// Per-process memory: /proc/<pid>/smaps_rollup summed into groups, within a time budget
// (the page walk behind smaps_rollup stalls its target), and the ledger's "pss" method.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "collectors/process_groups.h"
#include "collectors/registry.h"

namespace memledger {



using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

// The process collector's options, read from its configuration section.
ProcessConfig process_config(const CollectorOptions& options);

extern const CollectorInfo kProcessCollector;
// For tests: an injected clock makes the budget deterministic (and the reads one thread's).
std::unique_ptr<Collector> make_process_collector_with_clock(const ProcessConfig& config,
                                                             SteadyClock clock);

}  // namespace memledger
