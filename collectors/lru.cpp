#include "collectors/lru.h"

#include "procfs/meminfo.h"
#include "procfs/vmstat.h"
#include "procfs/node.h"
#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kLruBytes{
    "memledger_lru_bytes", MetricType::Gauge,
    "Pages on each LRU list, from /proc/meminfo (Active(anon), Inactive(anon), "
    "Active(file), Inactive(file), Unevictable).",
    {"lru"}};
const MetricFamilyDecl kLruIsolatedBytes{
    "memledger_lru_isolated_bytes", MetricType::Gauge,
    "Pages taken off the LRU lists for the moment by reclaim, compaction or migration "
    "(/proc/vmstat nr_isolated_anon, nr_isolated_file): on no list, so missing from "
    "memledger_lru_bytes while it lasts.",
    {"type"}};
const MetricFamilyDecl kLruNodeBytes{
    "memledger_lru_node_bytes", MetricType::Gauge,
    "Pages on each LRU list of one NUMA node, from "
    "/sys/devices/system/node/node<N>/meminfo.",
    {"node", "lru"}};

namespace {

// The LRU lists as meminfo (global and per node) names them, and our label for each.
constexpr std::pair<std::string_view, std::string_view> kLists[] = {
    {"Active(anon)", "active_anon"},     {"Inactive(anon)", "inactive_anon"},
    {"Active(file)", "active_file"},     {"Inactive(file)", "inactive_file"},
    {"Unevictable", "unevictable"},
};

class LruCollector final : public Collector {
 public:
  std::string_view name() const override { return "lru"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    collect_global(snapshot, sink);
    collect_isolated(snapshot, sink);
    for (int node : list_numa_nodes(snapshot)) collect_node(snapshot, sink, node);
  }

 private:
  // Every list must be there: the anon/file split and Unevictable date from 2.6.28.
  static std::uint64_t list_bytes(const Meminfo& info, std::string_view field,
                                  const std::string& file) {
    auto bytes = info.bytes(field);
    if (!bytes) throw CollectError(file, 0, "no \"" + std::string(field) + "\" line");
    return *bytes;
  }

  void collect_global(Snapshot& snapshot, MetricSink& sink) {
    const Meminfo& info = read_meminfo(snapshot);
    std::string file = snapshot.path(Root::proc, "meminfo");
    for (const auto& [field, lru] : kLists) {
      sink.emit(kLruBytes, {lru}, static_cast<double>(list_bytes(info, field, file)));
    }
  }

  // nr_isolated_* (2.6.32+) are absent on older kernels: nothing is exported then.
  void collect_isolated(Snapshot& snapshot, MetricSink& sink) {
    const Vmstat& vmstat = read_vmstat(snapshot);
    const std::pair<std::string_view, std::string_view> counters[] = {
        {"nr_isolated_anon", "anon"}, {"nr_isolated_file", "file"}};
    for (const auto& [counter, type] : counters) {
      auto pages = vmstat.get(counter);
      if (!pages) continue;
      sink.emit(kLruIsolatedBytes, {type}, static_cast<double>(*pages) * static_cast<double>(snapshot.page_size()));
    }
  }

  void collect_node(Snapshot& snapshot, MetricSink& sink, int node) {
    std::string node_name = std::to_string(node);
    std::string relative = std::string(kNodeDirectory) + "/node" + node_name + "/meminfo";
    const Meminfo& info = read_node_meminfo(snapshot, node);
    std::string file = snapshot.path(Root::sys, relative);
    for (const auto& [field, lru] : kLists) {
      sink.emit(kLruNodeBytes, {node_name, lru}, static_cast<double>(list_bytes(info, field, file)));
    }
  }
};

}  // namespace

const CollectorInfo kLruCollector{
    {"lru", true, {}},
    "LRU lists (global, per NUMA node) and pages isolated from them",
    {&kLruBytes, &kLruIsolatedBytes, &kLruNodeBytes},
    [](const CollectorOptions&) -> std::unique_ptr<Collector> {
      return std::make_unique<LruCollector>();
    }};

}  // namespace memledger
