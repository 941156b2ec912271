#include "collectors/hugepages.h"

#include <algorithm>
#include <tuple>

#include "procfs/hugepages.h"
#include "procfs/node.h"
#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kHugepagesPages{
    "memledger_hugepages_pages", MetricType::Gauge,
    "Huge pages of each size in the system-wide pool "
    "(/sys/kernel/mm/hugepages/hugepages-<N>kB): total, free, reserved (promised to a "
    "mapping, not yet faulted), surplus (overcommitted).",
    {"size", "state"}};
const MetricFamilyDecl kHugepagesBytes{
    "memledger_hugepages_bytes", MetricType::Gauge,
    "memledger_hugepages_pages times the page size. state=\"total\" summed over sizes is "
    "the RAM set aside for hugetlbfs (meminfo Hugetlb).",
    {"size", "state"}};
const MetricFamilyDecl kHugepagesNodePages{
    "memledger_hugepages_node_pages", MetricType::Gauge,
    "Huge pages of each size on one NUMA node "
    "(/sys/devices/system/node/node<N>/hugepages/hugepages-<N>kB): total, free, surplus. "
    "Reservations are not kept per node.",
    {"size", "node", "state"}};

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
        sink.emit(kHugepagesPages, {size, state}, static_cast<double>(pages));
        sink.emit(kHugepagesBytes, {size, state}, static_cast<double>(pages) * static_cast<double>(pool.page_size_bytes));
      }
    }
  }

 private:
  static void emit_node(MetricSink& sink, std::string_view size, std::string_view node,
                        std::string_view state, std::uint64_t pages) {
    sink.emit(kHugepagesNodePages, {size, node, state}, static_cast<double>(pages));
  }
};

}  // namespace

const CollectorInfo kHugepagesCollector{
    {"hugepages", true, {}},
    "hugetlbfs pools of every page size, global and per NUMA node",
    {&kHugepagesPages, &kHugepagesBytes, &kHugepagesNodePages},
    [](const CollectorOptions&) -> std::unique_ptr<Collector> {
      return std::make_unique<HugepagesCollector>();
    }};

}  // namespace memledger
