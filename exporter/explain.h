#pragma once
// `memledger_exporter explain`: the report (exporter/report.h) for a person at a terminal,
// or as JSON. The collectors run once (twice with --interval) through the scrape runner,
// exactly as a scrape runs them; so every number shown is the number the exporter serves.
#include "exporter/report.h"

#include <string>
#include <vector>

namespace memledger {

using ExplainInput = ReportInput;

struct ExplainStyle {
  bool json = false;
  bool color = false;  // ANSI colours: only for a terminal
};

std::string render_explain(const ExplainInput& input, const ExplainStyle& style);

// The subcommand: args are those after "explain". Returns the process exit code.
int run_explain(const std::vector<std::string>& args);

}  // namespace memledger
