#pragma once
// The landing page at "/": one self-contained HTML page (no external assets, no script
// library) that draws the ledger of each method as an SVG stacked bar with the unexplained
// part marked, the top contributors and the verdict, from the same report explain prints.
#include <string>

#include "exporter/report.h"

namespace memledger {

struct LandingPageOptions {
  std::string telemetry_path = "/metrics";
  int refresh_seconds = 30;  // the page reloads itself
};

std::string render_landing_page(const Report& report, const LandingPageOptions& options);

// Text made safe for HTML element content and attribute values.
std::string html_escape(std::string_view text);

}  // namespace memledger
