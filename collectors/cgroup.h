#pragma once
// Kernel memory charged to each memory cgroup, and what no named counter explains of it.
// cgroup v2 memory.stat (5.18+) has "kernel": every kernel page charged to the cgroup.
// Its named parts (slab, stacks, page tables, percpu, vmalloc, zswap) leave a residual
// that is the charged part of the black hole: pipe buffers, raw alloc_pages with
// __GFP_ACCOUNT. cgroup v1 only has the kmem total (memory.kmem.usage_in_bytes).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/collector.h"
#include "procfs/cgroup.h"
#include "collectors/registry.h"

namespace memledger {

// The `limit` cgroups with the most rank_bytes, largest first, ties by path.
std::vector<CgroupKernelMemory> top_cgroups(std::vector<CgroupKernelMemory> cgroups, std::size_t limit);

// The collector's options (see its declaration for the defaults).
struct CgroupConfig {
  std::size_t top_cgroups = 20;
};

extern const CollectorInfo kCgroupCollector;

}  // namespace memledger
