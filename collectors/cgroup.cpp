#include "collectors/cgroup.h"

#include <algorithm>
#include <cstdint>

#include "procfs/cgroup.h"
#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kCgroupsScanned{
    "memledger_cgroups_scanned", MetricType::Gauge,
    "Memory cgroups read on this scrape (the root excluded), by cgroup version.",
    {"version"}};
const MetricFamilyDecl kCgroupKernelBytes{
    "memledger_cgroup_kernel_bytes", MetricType::Gauge,
    "Kernel memory charged to the cgroup, hierarchical (a parent includes its children): "
    "v2 memory.stat kernel, its parts and sock; v1 kmem and kmem_tcp.",
    {"cgroup", "item"}};
const MetricFamilyDecl kCgroupKernelResidualBytes{
    "memledger_cgroup_kernel_residual_bytes", MetricType::Gauge,
    "memory.stat kernel minus slab, kernel_stack, pagetables, sec_pagetables, percpu, "
    "vmalloc and zswap: charged kernel memory no counter names (pipe buffers, raw page "
    "allocations). Signed.",
    {"cgroup"}};

std::vector<CgroupKernelMemory> top_cgroups(std::vector<CgroupKernelMemory> cgroups, std::size_t limit) {
  std::sort(cgroups.begin(), cgroups.end(), [](const CgroupKernelMemory& a, const CgroupKernelMemory& b) {
    if (a.rank_bytes != b.rank_bytes) return a.rank_bytes > b.rank_bytes;
    return a.path < b.path;
  });
  if (cgroups.size() > limit) cgroups.resize(limit);
  return cgroups;
}

namespace {

class CgroupCollector final : public Collector {
 public:
  explicit CgroupCollector(const CgroupConfig& config) : config_(config) {}
  std::string_view name() const override { return "cgroup"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    CgroupScan scan = scan_cgroups(snapshot);
    if (scan.version == 0) return;  // no memory controller: nothing to attribute, no failure
    sink.emit(kCgroupsScanned, {scan.version == 1 ? "1" : "2"}, static_cast<double>(scan.cgroups.size()));
    for (const auto& cgroup : top_cgroups(std::move(scan.cgroups), config_.top_cgroups)) {
      for (const auto& [item, bytes] : cgroup.items) {
        sink.emit(kCgroupKernelBytes, {cgroup.path, item}, static_cast<double>(bytes));
      }
      if (cgroup.residual) {
        sink.emit(kCgroupKernelResidualBytes, {cgroup.path}, static_cast<double>(*cgroup.residual));
      }
    }
  }

 private:
  CgroupConfig config_;
};

}  // namespace

const CollectorInfo kCgroupCollector{
    {"cgroup", true, {
          {"top_cgroups", OptionDecl::Kind::count, "20"}}},
    "kernel memory per memory cgroup and its unnamed residual (top N)",
    {&kCgroupsScanned, &kCgroupKernelBytes, &kCgroupKernelResidualBytes},
    [](const CollectorOptions& options) -> std::unique_ptr<Collector> {
      return std::make_unique<CgroupCollector>(CgroupConfig{options.count("top_cgroups")});
    }};

}  // namespace memledger
