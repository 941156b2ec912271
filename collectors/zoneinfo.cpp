#include "collectors/zoneinfo.h"

#include "procfs/zoneinfo.h"

#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kPerCpuFreeListBytes{
    "memledger_per_cpu_free_list_bytes", MetricType::Gauge,
    "Free pages parked on the per-CPU free lists of every zone (the \"count:\" lines of "
    "/proc/zoneinfo). Free, yet not counted in MemFree.",
    {}};
const MetricFamilyDecl kZoneBytes{
    "memledger_zone_bytes", MetricType::Gauge,
    "Memory of each zone from /proc/zoneinfo: free (buddy allocator, as MemFree), managed "
    "(handed to the page allocator), present (RAM in the zone), spanned (address range "
    "including holes), per_cpu_free (on per-CPU free lists, not in free).",
    {"node", "zone", "state"}};

namespace {

class ZoneinfoCollector final : public Collector {
 public:
  std::string_view name() const override { return "zoneinfo"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    const std::vector<Zone>& zones = read_zoneinfo(snapshot);
    const double page_size = static_cast<double>(snapshot.page_size());
    auto bytes = [&](std::uint64_t pages) { return static_cast<double>(pages) * page_size; };
    for (const auto& zone : zones) {
      std::string node = std::to_string(zone.node);
      emit(sink, node, zone.name, "free", bytes(zone.free_pages));
      if (zone.has_managed) emit(sink, node, zone.name, "managed", bytes(zone.managed_pages));
      emit(sink, node, zone.name, "present", bytes(zone.present_pages));
      emit(sink, node, zone.name, "spanned", bytes(zone.spanned_pages));
      emit(sink, node, zone.name, "per_cpu_free", bytes(zone.pcp_pages));
    }
    sink.emit(kPerCpuFreeListBytes, {}, bytes(per_cpu_free_list_pages(zones)));
  }

 private:
  void emit(MetricSink& sink, std::string_view node, std::string_view zone,
            std::string_view state, double bytes) {
    sink.emit(kZoneBytes, {node, zone, state}, bytes);
  }
};

}  // namespace

const CollectorInfo kZoneinfoCollector{
    {"zoneinfo", true, {}},
    "per-zone free/managed/present/spanned pages and per-CPU free lists",
    {&kPerCpuFreeListBytes, &kZoneBytes},
    [](const CollectorOptions&) -> std::unique_ptr<Collector> {
      return std::make_unique<ZoneinfoCollector>();
    }};

}  // namespace memledger
