#pragma once
// `memledger_exporter explain`: the ledger for a person at a terminal. The collectors run
// once (twice with --interval) over one Snapshot, exactly as a scrape runs them, and a
// pure renderer turns their metric families into a table, the top contributors of each
// category and a verdict; so every number shown is the number the exporter serves.
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace memledger {

struct ExplainInput {
  std::vector<prometheus::MetricFamily> families;
  // With --interval: the same families, collected that many seconds earlier.
  std::vector<prometheus::MetricFamily> earlier;
  double interval_seconds = 0;
  std::vector<std::string> failed_collectors;  // "name: reason"
};

struct ExplainStyle {
  bool json = false;
  bool color = false;  // ANSI colours: only for a terminal
};

std::string render_explain(const ExplainInput& input, const ExplainStyle& style);

// The subcommand: args are those after "explain". Returns the process exit code.
int run_explain(const std::vector<std::string>& args);

}  // namespace memledger
