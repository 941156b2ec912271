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

std::unique_ptr<Collector> make_ledger_collector(const Config&) {
  return std::make_unique<LedgerCollector>();
}

}  // namespace memledger
