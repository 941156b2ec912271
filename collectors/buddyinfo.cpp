#include "collectors/buddyinfo.h"

#include "procfs/buddyinfo.h"

#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kBuddyinfoFreeBlocks{
    "memledger_buddyinfo_free_blocks", MetricType::Gauge,
    "Free blocks of 2^order contiguous pages in the zone (/proc/buddyinfo).",
    {"node", "zone", "order"}};
const MetricFamilyDecl kBuddyinfoUnusableFreeRatio{
    "memledger_buddyinfo_unusable_free_ratio", MetricType::Gauge,
    "Share of the zone's free memory in blocks smaller than 2^order pages, useless to an "
    "allocation of that order (unusable free space index).",
    {"node", "zone", "order"}};
const MetricFamilyDecl kBuddyinfoFreeBytes{
    "memledger_buddyinfo_free_bytes", MetricType::Gauge,
    "Free memory of the zone according to its free lists (per-CPU lists excluded).",
    {"node", "zone"}};
const MetricFamilyDecl kBuddyinfoLargestFreeOrder{
    "memledger_buddyinfo_largest_free_order", MetricType::Gauge,
    "The largest order with a free block in the zone; -1 when it has none.",
    {"node", "zone"}};

namespace {

class BuddyinfoCollector final : public Collector {
 public:
  std::string_view name() const override { return "buddyinfo"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    for (const auto& zone : read_buddyinfo(snapshot)) {
      std::string node = std::to_string(zone.node);
      for (std::size_t order = 0; order < zone.free_blocks.size(); ++order) {
        std::string order_label = std::to_string(order);
        sink.emit(kBuddyinfoFreeBlocks, {node, zone.zone, order_label}, static_cast<double>(zone.free_blocks[order]));
        if (order == 0) continue;  // every free page can serve a single page
        sink.emit(kBuddyinfoUnusableFreeRatio, {node, zone.zone, order_label}, zone.unusable_free_ratio(order));
      }
      sink.emit(kBuddyinfoFreeBytes, {node, zone.zone}, static_cast<double>(zone.free_pages() * snapshot.page_size()));
      sink.emit(kBuddyinfoLargestFreeOrder, {node, zone.zone}, zone.largest_free_order());
    }
  }
};

}  // namespace

const CollectorInfo kBuddyinfoCollector{
    {"buddyinfo", true, {}},
    "free blocks per order and zone, and how fragmented free memory is",
    {&kBuddyinfoFreeBlocks, &kBuddyinfoUnusableFreeRatio, &kBuddyinfoFreeBytes, &kBuddyinfoLargestFreeOrder},
    [](const CollectorOptions&) -> std::unique_ptr<Collector> {
      return std::make_unique<BuddyinfoCollector>();
    }};

}  // namespace memledger
