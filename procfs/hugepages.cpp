#include "procfs/hugepages.h"

#include <algorithm>
#include <tuple>

#include "procfs/node.h"
#include "procfs/sysfs_value.h"
#include "procfs/text.h"

namespace memledger {

std::optional<std::uint64_t> hugepage_size_from_dir_name(std::string_view name) {
  constexpr std::string_view prefix = "hugepages-";
  constexpr std::string_view suffix = "kB";
  if (!text::starts_with(name, prefix) || name.size() <= prefix.size() + suffix.size() ||
      name.substr(name.size() - suffix.size()) != suffix) {
    return std::nullopt;
  }
  auto kib = text::to_u64(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
  if (!kib || *kib == 0 || *kib > (UINT64_MAX >> 10)) return std::nullopt;
  return *kib << 10;
}

std::string hugepage_size_label(std::uint64_t bytes) {
  constexpr std::pair<std::uint64_t, std::string_view> units[] = {
      {1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
  for (const auto& [unit, suffix] : units) {
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + std::string(suffix);
  }
  return std::to_string(bytes);
}

namespace {

constexpr std::string_view kGlobalPools = "kernel/mm/hugepages";

std::uint64_t read_count(Snapshot& snapshot, const std::string& directory, std::string_view file) {
  return read_sysfs_u64(snapshot, Root::sys, directory + "/" + std::string(file));
}

// Pools under one directory: the global one, or a node's "hugepages" subdirectory.
void read_pools_under(Snapshot& snapshot, const std::string& base, std::optional<int> node,
                      std::vector<HugepagePool>& pools) {
  for (const auto& name : snapshot.list(Root::sys, base)) {
    auto size = hugepage_size_from_dir_name(name);
    if (!size) continue;
    std::string directory = base + "/" + name;
    HugepagePool pool;
    pool.page_size_bytes = *size;
    pool.node = node;
    pool.total = read_count(snapshot, directory, "nr_hugepages");
    pool.free = read_count(snapshot, directory, "free_hugepages");
    pool.surplus = read_count(snapshot, directory, "surplus_hugepages");
    // The kernel keeps reservations per pool, not per node: nodes have no resv_hugepages.
    if (!node) pool.reserved = read_count(snapshot, directory, "resv_hugepages");
    pools.push_back(pool);
  }
}

}  // namespace

const std::vector<HugepagePool>& read_hugepage_pools(Snapshot& snapshot) {
  return snapshot.derived<std::vector<HugepagePool>>("hugepage_pools", [&] {
  std::vector<HugepagePool> pools;
  read_pools_under(snapshot, std::string(kGlobalPools), std::nullopt, pools);
  for (int node : list_numa_nodes(snapshot)) {
    std::string base = std::string(kNodeDirectory) + "/node" + std::to_string(node) + "/hugepages";
    read_pools_under(snapshot, base, node, pools);
  }
  // Directory listings sort "hugepages-1048576kB" before "hugepages-2048kB".
  std::stable_sort(pools.begin(), pools.end(), [](const HugepagePool& a, const HugepagePool& b) {
    return std::make_tuple(a.node.has_value(), a.node.value_or(0), a.page_size_bytes) <
           std::make_tuple(b.node.has_value(), b.node.value_or(0), b.page_size_bytes);
  });
  return pools;
  });
}

std::uint64_t hugetlb_total_bytes(const std::vector<HugepagePool>& pools) {
  std::uint64_t bytes = 0;
  for (const auto& pool : pools) {
    if (!pool.node) bytes += pool.total * pool.page_size_bytes;
  }
  return bytes;
}

}  // namespace memledger
