#include "collectors/vmalloc.h"

#include "procfs/vmallocinfo.h"

#include <algorithm>
#include <array>

#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kVmallocBytes{
    "memledger_vmalloc_bytes", MetricType::Gauge,
    "RAM held by vmalloc areas (pages= x page size), by kind: the area's first flag among "
    "vmalloc, vmap, user, dma-coherent, sparse, vm_map_ram.",
    {"kind"}};
const MetricFamilyDecl kVmallocIoremapAddressSpaceBytes{
    "memledger_vmalloc_ioremap_address_space_bytes", MetricType::Gauge,
    "Kernel address space of ioremap areas: device memory mappings, not RAM.",
    {}};
const MetricFamilyDecl kVmallocCallerBytes{
    "memledger_vmalloc_caller_bytes", MetricType::Gauge,
    "RAM held by vmalloc areas per allocating function; the largest by name, the rest "
    "summed as caller=\"other\".",
    {"caller"}};
const MetricFamilyDecl kVmallocKernelStackBytes{
    "memledger_vmalloc_kernel_stack_bytes", MetricType::Gauge,
    "RAM of vmalloc areas holding task stacks: counted in both KernelStack and "
    "VmallocUsed of /proc/meminfo.",
    {}};
const MetricFamilyDecl kVmallocKernelStackAreas{
    "memledger_vmalloc_kernel_stack_areas", MetricType::Gauge,
    "vmalloc areas holding task stacks (live tasks plus per-CPU cached stacks).",
    {}};

namespace {
class VmallocCollector final : public Collector {
 public:
  explicit VmallocCollector(std::size_t top_callers) : top_callers_(top_callers) {}

  std::string_view name() const override { return "vmalloc"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    const VmallocSummary& summary = read_vmallocinfo(snapshot);
    for (const auto& [kind, bytes] : summary.bytes_by_kind) {
      sink.emit(kVmallocBytes, {kind}, static_cast<double>(bytes));
    }
    sink.emit(kVmallocIoremapAddressSpaceBytes, {}, static_cast<double>(summary.ioremap_address_bytes));
    for (const auto& [caller, bytes] : top_vmalloc_callers(summary, top_callers_)) {
      sink.emit(kVmallocCallerBytes, {caller}, static_cast<double>(bytes));
    }
    sink.emit(kVmallocKernelStackBytes, {}, static_cast<double>(summary.kernel_stack_bytes));
    sink.emit(kVmallocKernelStackAreas, {}, static_cast<double>(summary.kernel_stack_areas));
  }

 private:
  std::size_t top_callers_;
};

}  // namespace

std::vector<std::pair<std::string, std::uint64_t>> top_vmalloc_callers(
    const VmallocSummary& summary, std::size_t limit) {
  std::vector<std::pair<std::string, std::uint64_t>> top;
  std::uint64_t other = 0;
  for (const auto& [caller, bytes] : summary.bytes_by_caller) {
    if (top.size() < limit && caller != "other") {
      top.emplace_back(caller, bytes);
    } else {
      other += bytes;
    }
  }
  top.emplace_back("other", other);
  return top;
}

const CollectorInfo kVmallocCollector{
    {"vmalloc", true, {
          {"top_callers", OptionDecl::Kind::count, "20"}}},
    "vmalloc RAM by kind and caller, and vmapped task stacks (/proc/vmallocinfo, root)",
    {&kVmallocBytes, &kVmallocIoremapAddressSpaceBytes, &kVmallocCallerBytes, &kVmallocKernelStackBytes, &kVmallocKernelStackAreas},
    [](const CollectorOptions& options) -> std::unique_ptr<Collector> {
      return std::make_unique<VmallocCollector>(options.count("top_callers"));
    }};

}  // namespace memledger
