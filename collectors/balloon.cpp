#include "collectors/balloon.h"

#include "procfs/balloon.h"
#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kBalloonInsideMemtotal{
    "memledger_balloon_inside_memtotal", MetricType::Gauge,
    "1 if the balloon driver's pages still count in MemTotal (vmw_balloon, virtio_balloon "
    "with deflate-on-OOM), 0 if MemTotal shrinks instead.",
    {"driver"}};
const MetricFamilyDecl kBalloonBytes{
    "memledger_balloon_bytes", MetricType::Gauge,
    "Memory the hypervisor has taken back through the balloon driver.",
    {"driver"}};
const MetricFamilyDecl kBalloonTargetBytes{
    "memledger_balloon_target_bytes", MetricType::Gauge,
    "The balloon size the hypervisor asks for, where the driver reports it.",
    {"driver"}};
const MetricFamilyDecl kBalloonInflatedPagesTotal{
    "memledger_balloon_inflated_pages_total", MetricType::Counter,
    "Pages put into a balloon since boot (/proc/vmstat balloon_inflate).",
    {}};
const MetricFamilyDecl kBalloonDeflatedPagesTotal{
    "memledger_balloon_deflated_pages_total", MetricType::Counter,
    "Pages returned from a balloon since boot (/proc/vmstat balloon_deflate).",
    {}};

namespace {

class BalloonCollector final : public Collector {
 public:
  std::string_view name() const override { return "balloon"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    const BalloonReadings& readings = read_balloon(snapshot);
    for (const auto& driver : readings.drivers) {
      sink.emit(kBalloonInsideMemtotal, {driver.name}, driver.placement == BalloonPlacement::inside_memtotal ? 1 : 0);
      if (driver.bytes) {
        sink.emit(kBalloonBytes, {driver.name}, static_cast<double>(*driver.bytes));
      }
      if (driver.target_bytes) {
        sink.emit(kBalloonTargetBytes, {driver.name}, static_cast<double>(*driver.target_bytes));
      }
    }
    if (readings.inflated_pages_total) {
      sink.emit(kBalloonInflatedPagesTotal, {}, static_cast<double>(*readings.inflated_pages_total));
    }
    if (readings.deflated_pages_total) {
      sink.emit(kBalloonDeflatedPagesTotal, {}, static_cast<double>(*readings.deflated_pages_total));
    }
  }
};

}  // namespace

const CollectorInfo kBalloonCollector{
    {"balloon", true, {}},
    "balloon drivers (virtio, vmw, hv, xen, pseries cmm): size, target, MemTotal placement",
    {&kBalloonInsideMemtotal, &kBalloonBytes, &kBalloonTargetBytes, &kBalloonInflatedPagesTotal, &kBalloonDeflatedPagesTotal},
    [](const CollectorOptions&) -> std::unique_ptr<Collector> {
      return std::make_unique<BalloonCollector>();
    }};

}  // namespace memledger
