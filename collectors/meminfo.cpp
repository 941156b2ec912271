#include "collectors/meminfo.h"

#include "procfs/meminfo.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kMeminfoBytes{
    "memledger_meminfo_bytes", MetricType::Gauge,
    "Every /proc/meminfo line that has a kB unit, converted to bytes.",
    {"field"}};
const MetricFamilyDecl kMeminfoHugepages{
    "memledger_meminfo_hugepages", MetricType::Gauge,
    "Unitless /proc/meminfo lines (HugePages_*): counts of default-size huge pages.",
    {"field"}};

namespace {

class MeminfoCollector final : public Collector {
 public:
  std::string_view name() const override { return "meminfo"; }
  void collect(Snapshot& snapshot, MetricSink& sink) override {
    const Meminfo& info = read_meminfo(snapshot);
    for (const auto& f : info.fields) {
      if (f.is_bytes) {
        sink.emit(kMeminfoBytes, {f.name}, static_cast<double>(f.value));
      } else {
        sink.emit(kMeminfoHugepages, {f.name}, static_cast<double>(f.value));
      }
    }
  }
};

}  // namespace

const CollectorInfo kMeminfoCollector{
    {"meminfo", true, {}},
    "every /proc/meminfo field, in bytes",
    {&kMeminfoBytes, &kMeminfoHugepages},
    [](const CollectorOptions&) -> std::unique_ptr<Collector> {
      return std::make_unique<MeminfoCollector>();
    }};

}  // namespace memledger
