#pragma once
// A census of every page frame from /proc/kpageflags (root), taken by a background thread
// on a slow cadence and within a time budget, never on the scrape path: reading the
// flags of every page costs tens of milliseconds per GiB of RAM. It counts balloon pages
// (OFFLINE) whatever the driver, and pages that carry no type flag at all; after taking
// out the flagless pages the kernel does account for (per-CPU free lists, vmalloc,
// percpu...), the rest is an estimate of the black hole made without MemTotal.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "collectors/registry.h"

namespace memledger {

// The collector's options (see its declaration for the defaults).
struct PagecensusConfig {
  double interval_seconds = 900;  // between the starts of two censuses
  double budget_seconds = 60;     // a census still reading after this is abandoned
};

extern const CollectorInfo kPagecensusCollector;

}  // namespace memledger
