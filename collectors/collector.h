#pragma once
// The one interface every collector implements. A collector reads only through the
// scrape's Snapshot and writes only to its MetricSink; it may throw (CollectError,
// ParseError, anything) and the scrape loop turns that into success 0 for it alone.
#include <string_view>

#include "procfs/errors.h"
#include "collectors/metric_sink.h"
#include "procfs/snapshot.h"

namespace memledger {

class Collector {
 public:
  virtual ~Collector() = default;
  virtual std::string_view name() const = 0;
  virtual void collect(Snapshot& snapshot, MetricSink& sink) = 0;
};

}  // namespace memledger
