#include "collectors/hugepages.h"

#include <algorithm>
#include <tuple>

#include "collectors/numa.h"
#include "collectors/text.h"

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

std::uint64_t parse_sysfs_u64(std::string_view text) {
  if (text.empty()) throw ParseError(0, "file is empty");
  if (text.back() != '\n') throw ParseError(1, "truncated: no newline after the value");
  text.remove_suffix(1);
  if (text.find('\n') != std::string_view::npos) {
    throw ParseError(2, "expected one line holding one unsigned integer");
  }
  return text::require_u64(text, 1, "value");
}

namespace {

constexpr std::string_view kGlobalPools = "kernel/mm/hugepages";

std::uint64_t read_count(Snapshot& snapshot, const std::string& directory, std::string_view file) {
  return parse_file(snapshot, Root::sys, directory + "/" + std::string(file), parse_sysfs_u64);
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

std::vector<HugepagePool> read_hugepage_pools(Snapshot& snapshot) {
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
}

std::uint64_t hugetlb_total_bytes(const std::vector<HugepagePool>& pools) {
  std::uint64_t bytes = 0;
  for (const auto& pool : pools) {
    if (!pool.node) bytes += pool.total * pool.page_size_bytes;
  }
  return bytes;
}

namespace {

class HugepagesCollector final : public Collector {
 public:
  std::string_view name() const override { return "hugepages"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    for (const auto& pool : read_hugepage_pools(snapshot)) {
      std::string size = hugepage_size_label(pool.page_size_bytes);
      if (pool.node) {
        std::string node = std::to_string(*pool.node);
        emit_node(sink, size, node, "total", pool.total);
        emit_node(sink, size, node, "free", pool.free);
        emit_node(sink, size, node, "surplus", pool.surplus);
        continue;
      }
      const std::pair<std::string_view, std::uint64_t> states[] = {
          {"total", pool.total}, {"free", pool.free}, {"reserved", pool.reserved},
          {"surplus", pool.surplus}};
      for (const auto& [state, pages] : states) {
        sink.gauge("memledger_hugepages_pages",
                   "Huge pages of each size in the system-wide pool "
                   "(/sys/kernel/mm/hugepages/hugepages-<N>kB): total, free, reserved "
                   "(promised to a mapping, not yet faulted), surplus (overcommitted).",
                   {{"size", size}, {"state", state}}, static_cast<double>(pages));
        sink.gauge("memledger_hugepages_bytes",
                   "memledger_hugepages_pages times the page size. state=\"total\" summed "
                   "over sizes is the RAM set aside for hugetlbfs (meminfo Hugetlb).",
                   {{"size", size}, {"state", state}},
                   static_cast<double>(pages) * static_cast<double>(pool.page_size_bytes));
      }
    }
  }

 private:
  static void emit_node(MetricSink& sink, std::string_view size, std::string_view node,
                        std::string_view state, std::uint64_t pages) {
    sink.gauge("memledger_hugepages_node_pages",
               "Huge pages of each size on one NUMA node "
               "(/sys/devices/system/node/node<N>/hugepages/hugepages-<N>kB): total, free, "
               "surplus. Reservations are not kept per node.",
               {{"size", size}, {"node", node}, {"state", state}}, static_cast<double>(pages));
  }
};

}  // namespace

std::unique_ptr<Collector> make_hugepages_collector(const Config&) {
  return std::make_unique<HugepagesCollector>();
}

}  // namespace memledger
