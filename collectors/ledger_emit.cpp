#include "collectors/ledger_emit.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kLedgerBytes{
    "memledger_ledger_bytes", MetricType::Gauge,
    "MemTotal split into disjoint categories that sum to it, per method; category "
    "unexplained is what no kernel counter attributes.",
    {"method", "category"}};
const MetricFamilyDecl kUnexplainedBytes{
    "memledger_unexplained_bytes", MetricType::Gauge,
    "MemTotal minus everything the kernel attributes, per method. Signed: per-CPU counter "
    "drift can make it slightly negative.",
    {"method"}};
const MetricFamilyDecl kUnexplainedUncertaintyBytes{
    "memledger_unexplained_uncertainty_bytes", MetricType::Gauge,
    "The true remainder lies between unexplained and unexplained plus this (SwapCached "
    "pages that may also be counted as anon or PSS).",
    {"method"}};
const MetricFamilyDecl kLedgerFallback{
    "memledger_ledger_fallback", MetricType::Gauge,
    "1 when an input of the ledger was unreadable and a documented fallback was used.",
    {"method", "input"}};

void emit_ledger(MetricSink& sink, const Ledger& ledger) {
  std::string_view method = method_name(ledger.method);
  for (const auto& entry : ledger.entries) {
    sink.emit(kLedgerBytes, {method, entry.category}, static_cast<double>(entry.bytes));
  }
  sink.emit(kUnexplainedBytes, {method}, static_cast<double>(ledger.unexplained));
  sink.emit(kUnexplainedUncertaintyBytes, {method}, static_cast<double>(ledger.uncertainty));
  for (auto input : ledger.fallbacks) {
    sink.emit(kLedgerFallback, {method, input}, 1);
  }
}

}  // namespace memledger
