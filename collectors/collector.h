#pragma once
// The one interface every collector implements. A collector reads only through the
// scrape's Snapshot and writes only to its MetricSink; it may throw (CollectError,
// ParseError, anything) and the scrape loop turns that into success 0 for it alone.
#include <string_view>

#include "collectors/errors.h"
#include "collectors/metric_sink.h"
#include "collectors/snapshot.h"

namespace memledger {

class Collector {
 public:
  virtual ~Collector() = default;
  virtual std::string_view name() const = 0;
  virtual void collect(Snapshot& snapshot, MetricSink& sink) = 0;
};

// Runs a pure parser over one file of the snapshot, turning its ParseError into a
// CollectError that names the file: "what file and line were wrong".
template <class Parser>
auto parse_file(Snapshot& snapshot, Root root, std::string_view relative, Parser&& parser) {
  const std::string& text = snapshot.text(root, relative);
  try {
    return parser(std::string_view(text));
  } catch (const ParseError& e) {
    throw CollectError(snapshot.path(root, relative), e.line(), e.what());
  }
}

}  // namespace memledger
