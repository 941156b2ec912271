#pragma once
// The ledger's series, emitted by the ledger collector (lru, cache) and the process
// collector (pss, which needs this scrape's process readings).
#include "collectors/metric_sink.h"
#include "ledger/ledger.h"

namespace memledger {

// The ledger's families: listed by the ledger collector, emitted by it and by the process
// collector.
extern const MetricFamilyDecl kLedgerBytes, kUnexplainedBytes, kUnexplainedUncertaintyBytes, kLedgerFallback;

// memledger_ledger_bytes{method,category}, memledger_unexplained_bytes{method},
// memledger_unexplained_uncertainty_bytes{method}, memledger_ledger_fallback{method,input}.
void emit_ledger(MetricSink& sink, const Ledger& ledger);

}  // namespace memledger
