#pragma once
// NUMA nodes as sysfs lists them: /sys/devices/system/node/node<N>
// (Documentation/ABI/stable/sysfs-devices-node), and their meminfo.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/meminfo.h"
#include "procfs/snapshot.h"
#include "procfs/text.h"

namespace memledger {

inline constexpr std::string_view kNodeDirectory = "devices/system/node";

// The node number of a directory entry named "node<digits>"; nullopt for the other
// entries of that directory ("online", "possible", "has_cpu", "power", ...).
inline std::optional<int> numa_node_from_dir_name(std::string_view name) {
  if (!text::starts_with(name, "node")) return std::nullopt;
  auto number = text::to_u64(name.substr(4));
  if (!number || *number > 1u << 20) return std::nullopt;
  return static_cast<int>(*number);
}

// Node numbers in ascending order; empty on a kernel without NUMA sysfs.
inline std::vector<int> list_numa_nodes(Snapshot& snapshot) {
  std::vector<int> nodes;
  for (const auto& name : snapshot.list(Root::sys, kNodeDirectory)) {
    if (auto node = numa_node_from_dir_name(name)) nodes.push_back(*node);
  }
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

// /sys/devices/system/node/node<N>/meminfo, parsed once per snapshot; throws CollectError.
inline const Meminfo& read_node_meminfo(Snapshot& snapshot, int node) {
  return parse_file(snapshot, Root::sys,
                    std::string(kNodeDirectory) + "/node" + std::to_string(node) + "/meminfo",
                    parse_meminfo);
}

}  // namespace memledger
