#pragma once
// Collector ledger: MemTotal split into disjoint categories by the lru and cache methods
// (ledger/ledger.h), and the unexplained remainder.
#include <memory>

#include "collectors/collector.h"
#include "collectors/registry.h"

namespace memledger {

extern const CollectorInfo kLedgerCollector;

}  // namespace memledger
