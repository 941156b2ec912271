#pragma once
// /proc/vmstat and /sys/devices/system/node/node<N>/vmstat: "name value" lines
// (mm/vmstat.c, vmstat_text[]). Also the format of cgroup v2 memory.stat.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

struct Vmstat {
  std::vector<std::pair<std::string, std::int64_t>> counters;  // file order
  std::optional<std::int64_t> get(std::string_view name) const;
};

// /proc/vmstat and /sys/devices/system/node/nodeN/vmstat ("name value" lines).
// Throws ParseError on a malformed line.
Vmstat parse_vmstat(std::string_view text);

// /proc/vmstat, parsed once per snapshot; throws CollectError.
const Vmstat& read_vmstat(Snapshot& snapshot);

}  // namespace memledger
