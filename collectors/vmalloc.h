#pragma once
// /proc/vmallocinfo (root only): the kernel's vmalloc areas, who allocated them and how
// many pages each holds.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/collector.h"
#include "procfs/vmallocinfo.h"
#include "collectors/registry.h"

namespace memledger {

// The `limit` largest callers, then ("other", the rest), which together sum to the RAM
// of all areas. A caller literally named "other" is folded into the remainder.
std::vector<std::pair<std::string, std::uint64_t>> top_vmalloc_callers(
    const VmallocSummary& summary, std::size_t limit);

extern const CollectorInfo kVmallocCollector;

}  // namespace memledger
