#include "collectors/ledger.h"

#include "collectors/ledger_emit.h"
#include "ledger/ledger.h"

namespace memledger {

namespace {

class LedgerCollector final : public Collector {
 public:
  std::string_view name() const override { return "ledger"; }
  void collect(Snapshot& snapshot, MetricSink& sink) override {
    const LedgerInputs& inputs = read_ledger_inputs(snapshot);
    emit_ledger(sink, compute_lru_ledger(inputs));
    emit_ledger(sink, compute_cache_ledger(inputs));
  }
};

}  // namespace

const CollectorInfo kLedgerCollector{
    {"ledger", true, {}},
    "MemTotal split into disjoint categories and the unexplained remainder",
    {&kLedgerBytes, &kUnexplainedBytes, &kUnexplainedUncertaintyBytes, &kLedgerFallback},
    [](const CollectorOptions&) -> std::unique_ptr<Collector> {
      return std::make_unique<LedgerCollector>();
    }};

}  // namespace memledger
