#pragma once
// hugetlbfs pools of every page size: /sys/kernel/mm/hugepages/hugepages-<N>kB/ (global)
// and /sys/devices/system/node/node<N>/hugepages/hugepages-<N>kB/ (per NUMA node), as
// Documentation/admin-guide/mm/hugetlbpage.rst describes them. /proc/meminfo's HugePages_*
// lines describe only the default size (Hugetlb:, 4.16+, covers all sizes).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

struct HugepagePool {
  std::uint64_t page_size_bytes = 0;
  std::optional<int> node;  // nullopt: the global pool (/sys/kernel/mm/hugepages); else NUMA node
  std::uint64_t total = 0, free = 0, reserved = 0, surplus = 0;  // pages (reserved: global pools only, 0 per node)
};

// The page size in bytes named by a pool directory, "hugepages-2048kB" -> 2 MiB;
// nullopt for any other name.
std::optional<std::uint64_t> hugepage_size_from_dir_name(std::string_view name);

// The label value for a page size: the largest of KiB/MiB/GiB that divides it
// exactly, "2MiB", "1GiB", "64KiB"; bytes as a plain number otherwise.
std::string hugepage_size_label(std::uint64_t bytes);

// One sysfs attribute holding a single unsigned integer ("12\n"). Throws ParseError.
std::uint64_t parse_sysfs_u64(std::string_view text);

// Reads /sys/kernel/mm/hugepages/hugepages-<N>kB/{nr_hugepages,free_hugepages,resv_hugepages,surplus_hugepages}
// and /sys/devices/system/node/node*/hugepages/hugepages-<N>kB/{nr_hugepages,free_hugepages,surplus_hugepages}
// through the Snapshot. Global pools first, then per node; each ordered by page size.
// A kernel without hugetlbfs has no such directories: the result is empty.
const std::vector<HugepagePool>& read_hugepage_pools(Snapshot& snapshot);

// Bytes reserved by all global pools of every size: sum(total x page size) over pools with no node.
std::uint64_t hugetlb_total_bytes(const std::vector<HugepagePool>& pools);

}  // namespace memledger
