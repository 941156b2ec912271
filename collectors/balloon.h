#pragma once
// Balloon drivers: guest memory a hypervisor has taken back. Which driver is loaded, how
// much it holds and whether those pages still count in MemTotal (procfs/balloon.h). A
// balloon that stays inside MemTotal and has no /proc/meminfo line (kernels before 6.15) is
// invisible to every other counter: vmw_balloon takes guest pages with alloc_pages and
// leaves MemTotal as it was (drivers/misc/vmw_balloon.c).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "collectors/registry.h"

namespace memledger {

extern const CollectorInfo kBalloonCollector;

}  // namespace memledger
