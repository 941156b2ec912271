#include "procfs/cgroup.h"

#include <algorithm>
#include <array>

#include "procfs/sysfs_value.h"
#include "procfs/vmstat.h"

#include "procfs/text.h"

namespace memledger {

namespace {

// The named parts of v2's "kernel" (all charged through the kmem counter). "sock" is
// charged to the cgroup too, but not as kmem: it is exported, never subtracted.
constexpr std::string_view kKernelParts[] = {"slab_reclaimable", "slab_unreclaimable", "kernel_stack",
                                             "pagetables",       "sec_pagetables",     "percpu",
                                             "vmalloc",          "zswap"};

std::uint64_t non_negative(std::int64_t v) { return v > 0 ? static_cast<std::uint64_t>(v) : 0; }

}  // namespace

CgroupKernelMemory cgroup_v2_kernel_memory(std::string path, std::string_view memory_stat) {
  // memory.stat has /proc/vmstat's "name value" layout.
  Vmstat stat = parse_vmstat(memory_stat);
  CgroupKernelMemory out;
  out.path = std::move(path);
  std::uint64_t parts = 0;
  auto kernel = stat.get("kernel");
  if (kernel) out.items.emplace_back("kernel", non_negative(*kernel));
  for (std::string_view part : kKernelParts) {
    auto value = stat.get(part);
    if (!value) continue;  // older kernels lack some (percpu 5.9, zswap 5.19, sec_pagetables 6.0)
    out.items.emplace_back(part, non_negative(*value));
    // A value read from a file may be absurd: saturate instead of wrapping around.
    if (__builtin_add_overflow(parts, non_negative(*value), &parts)) parts = UINT64_MAX;
  }
  if (auto sock = stat.get("sock")) out.items.emplace_back("sock", non_negative(*sock));
  if (kernel) {
    std::int64_t residual;
    const std::int64_t subtracted = parts > static_cast<std::uint64_t>(INT64_MAX)
                                        ? INT64_MAX
                                        : static_cast<std::int64_t>(parts);
    if (__builtin_sub_overflow(*kernel, subtracted, &residual)) residual = INT64_MIN;
    out.residual = residual;
    out.rank_bytes = non_negative(*out.residual);
  } else {
    out.rank_bytes = parts;
  }
  return out;
}

CgroupKernelMemory cgroup_v1_kernel_memory(std::string path, std::uint64_t kmem,
                                           std::optional<std::uint64_t> kmem_tcp) {
  CgroupKernelMemory out;
  out.path = std::move(path);
  out.items.emplace_back("kmem", kmem);
  if (kmem_tcp) out.items.emplace_back("kmem_tcp", *kmem_tcp);
  out.rank_bytes = kmem;
  return out;
}

namespace {

// Interface files are named "<controller>.<file>" (plus a few bare v1 names); anything
// else in a cgroup directory is a child cgroup or a file a future kernel adds.
bool is_interface_file(std::string_view name) {
  constexpr std::string_view kBare[] = {"tasks", "notify_on_release", "release_agent"};
  if (std::find(std::begin(kBare), std::end(kBare), name) != std::end(kBare)) return true;
  auto dot = name.find('.');
  if (dot == std::string_view::npos) return false;
  constexpr std::string_view kPrefixes[] = {
      "cgroup", "memory", "cpu",     "cpuset",  "cpuacct",  "io",       "blkio",     "pids",
      "hugetlb", "rdma",  "misc",    "devices", "freezer",  "net_cls",  "net_prio",  "perf_event",
      "irq",     "dmem"};
  std::string_view prefix = name.substr(0, dot);
  return std::find(std::begin(kPrefixes), std::end(kPrefixes), prefix) != std::end(kPrefixes);
}

bool has_memory_controller(Snapshot& snapshot, std::string_view root) {
  const Reading& controllers = snapshot.read(Root::sys, std::string(root) + "/cgroup.controllers");
  if (!controllers.ok()) return false;
  std::string_view rest = controllers.text;
  for (std::string_view word = text::next_field(rest); !word.empty(); word = text::next_field(rest)) {
    if (word == "memory") return true;
  }
  return false;
}

// Depth-first over the directories below root; visit(relative directory, cgroup path).
template <class Visit>
void walk(Snapshot& snapshot, const std::string& root, Visit&& visit) {
  std::vector<std::string> pending{""};
  while (!pending.empty()) {
    std::string path = std::move(pending.back());
    pending.pop_back();
    const auto& names = snapshot.list(Root::sys, root + path);
    for (auto it = names.rbegin(); it != names.rend(); ++it) {
      if (is_interface_file(*it)) continue;
      std::string child = path + "/" + *it;
      if (snapshot.list(Root::sys, root + child).empty()) continue;  // a file, or gone
      visit(root + child, child);
      pending.push_back(std::move(child));
    }
  }
}

}  // namespace

CgroupScan scan_cgroups(Snapshot& snapshot) {
  CgroupScan scan;
  std::string v2_root;
  if (has_memory_controller(snapshot, "fs/cgroup")) {
    v2_root = "fs/cgroup";
  } else if (snapshot.readable(Root::sys, "fs/cgroup/memory/memory.stat")) {
    scan.version = 1;
    walk(snapshot, "fs/cgroup/memory", [&](const std::string& directory, const std::string& path) {
      const std::string kmem = directory + "/memory.kmem.usage_in_bytes";
      if (!snapshot.readable(Root::sys, kmem)) return;  // vanished, or kmem accounting off
      std::uint64_t bytes = parse_file(snapshot, Root::sys, kmem, parse_sysfs_u64);
      std::optional<std::uint64_t> tcp;
      const std::string tcp_file = directory + "/memory.kmem.tcp.usage_in_bytes";
      if (snapshot.readable(Root::sys, tcp_file)) tcp = parse_file(snapshot, Root::sys, tcp_file, parse_sysfs_u64);
      scan.cgroups.push_back(cgroup_v1_kernel_memory(path, bytes, tcp));
    });
    return scan;
  } else if (has_memory_controller(snapshot, "fs/cgroup/unified")) {
    v2_root = "fs/cgroup/unified";
  } else {
    return scan;
  }
  scan.version = 2;
  walk(snapshot, v2_root, [&](const std::string& directory, const std::string& path) {
    const std::string file = directory + "/memory.stat";
    if (!snapshot.readable(Root::sys, file)) return;  // vanished, or memory not enabled here
    scan.cgroups.push_back(parse_file(snapshot, Root::sys, file, [&](std::string_view text) {
      return cgroup_v2_kernel_memory(path, text);
    }));
  });
  return scan;
}


}  // namespace memledger
