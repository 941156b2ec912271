#pragma once
// Collector ledger: MemTotal split into disjoint categories by the lru and cache methods
// (ledger/ledger.h), and the unexplained remainder.
#include <memory>

#include "collectors/collector.h"
#include "config/config.h"

namespace memledger {

std::unique_ptr<Collector> make_ledger_collector(const Config& config);

}  // namespace memledger
