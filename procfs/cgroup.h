#pragma once
// Memory cgroups' kernel memory: v2 memory.stat (Documentation/admin-guide/cgroup-v2.rst)
// and v1 memory.kmem.* (Documentation/admin-guide/cgroup-v1/memory.rst).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

struct CgroupKernelMemory {
  std::string path;  // as /proc/<pid>/cgroup names it: "/system.slice/sshd.service"
  // memory.stat items (v2: kernel, its parts and sock; v1: kmem, kmem_tcp), in bytes.
  std::vector<std::pair<std::string_view, std::uint64_t>> items;
  // kernel - (slab_reclaimable + slab_unreclaimable + kernel_stack + pagetables +
  // sec_pagetables + percpu + vmalloc + zswap); nullopt without "kernel" (v1, v2 < 5.18).
  std::optional<std::int64_t> residual;
  // What the top-N list is ordered by: the residual when there is one, else the kernel
  // memory the cgroup's counters show.
  std::uint64_t rank_bytes = 0;
};

// A v2 memory.stat ("name value" lines). Throws ParseError on a malformed line.
CgroupKernelMemory cgroup_v2_kernel_memory(std::string path, std::string_view memory_stat);

// A v1 memory cgroup's memory.kmem.usage_in_bytes and (when present) the tcp one.
CgroupKernelMemory cgroup_v1_kernel_memory(std::string path, std::uint64_t kmem,
                                           std::optional<std::uint64_t> kmem_tcp);

struct CgroupScan {
  int version = 0;  // 0: no memory controller mounted where the scan looks
  std::vector<CgroupKernelMemory> cgroups;  // every cgroup below the root, root excluded
};

// Walks /sys/fs/cgroup (v2), /sys/fs/cgroup/unified (hybrid v2, when it has the memory
// controller) or /sys/fs/cgroup/memory (v1). The root is left out: it sums everything.
CgroupScan scan_cgroups(Snapshot& snapshot);


}  // namespace memledger
