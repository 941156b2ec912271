#include "exporter/landing_page.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace memledger {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

constexpr double kBarWidth = 960;
constexpr double kBarHeight = 34;

// Which part of memory a ledger category belongs to, for its colour.
enum class Part { free, user, kernel, unexplained };

Part part_of(std::string_view category) {
  if (category == "unexplained") return Part::unexplained;
  if (category == "free" || category == "per_cpu_free_lists") return Part::free;
  static constexpr std::string_view kUser[] = {"lru_", "page_cache", "buffers", "anon", "swap_cache",
                                               "process_pss", "hugetlb"};
  for (auto prefix : kUser) {
    if (category.substr(0, prefix.size()) == prefix) return Part::user;
  }
  return Part::kernel;
}

std::string_view part_name(Part part) {
  switch (part) {
    case Part::free: return "free";
    case Part::user: return "user";
    case Part::kernel: return "kernel";
    case Part::unexplained: return "unexplained";
  }
  return "";
}

// Shades per part, so neighbouring categories of one part stay apart.
std::string colour(Part part, std::size_t index) {
  static constexpr const char* kFree[] = {"#7cb342", "#aed581"};
  static constexpr const char* kUser[] = {"#1e88e5", "#64b5f6", "#1565c0", "#90caf9", "#42a5f5", "#0d47a1"};
  static constexpr const char* kKernel[] = {"#fb8c00", "#ffb74d", "#ef6c00", "#ffcc80", "#f57c00", "#ffa726"};
  switch (part) {
    case Part::free: return kFree[index % std::size(kFree)];
    case Part::user: return kUser[index % std::size(kUser)];
    case Part::kernel: return kKernel[index % std::size(kKernel)];
    case Part::unexplained: return "url(#unexplained-hatch)";
  }
  return "#999";
}

std::string number(double v, const char* format = "%.1f") {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string ledger_bar(const std::string& method, const std::vector<ReportRow>& rows, double memtotal) {
  const double total = memtotal > 0 ? memtotal : 1;
  std::string svg = "<svg class=\"ledger-bar\" data-method=\"" + html_escape(method) + "\" viewBox=\"0 0 " +
                    number(kBarWidth, "%.0f") + " " + number(kBarHeight, "%.0f") +
                    "\" width=\"100%\" role=\"img\" aria-label=\"ledger of method " + html_escape(method) + "\">\n";
  double x = 0;
  std::size_t shade[4] = {};
  for (const auto& row : rows) {
    if (row.bytes <= 0) continue;  // a negative remainder (counter drift) has no width
    Part part = part_of(row.name);
    double width = row.bytes / total * kBarWidth;
    // The unexplained part stays visible however small it is: it is what the page is for.
    if (part == Part::unexplained) width = std::max(width, 4.0);
    std::string title = html_escape(row.name) + ": " + human_bytes(row.bytes) + " (" + percent(row.bytes / total) + ")";
    svg += "  <rect class=\"segment " + std::string(part_name(part)) + "\" data-category=\"" + html_escape(row.name) +
           "\" x=\"" + number(x, "%.2f") + "\" y=\"0\" width=\"" + number(std::max(width, 0.0), "%.2f") +
           "\" height=\"" + number(kBarHeight, "%.0f") + "\" fill=\"" +
           colour(part, shade[static_cast<int>(part)]++) + "\"";
    if (part == Part::unexplained) svg += " stroke=\"#b71c1c\" stroke-width=\"2\"";
    svg += "><title>" + title + "</title></rect>\n";
    x += width;
  }
  svg += "</svg>\n";
  return svg;
}

std::string legend(const std::vector<ReportRow>& rows, double memtotal) {
  const double total = memtotal > 0 ? memtotal : 1;
  std::string out = "<table class=\"legend\"><thead><tr><th>category</th><th>part</th><th class=\"num\">size</th>"
                    "<th class=\"num\">share</th></tr></thead><tbody>\n";
  for (const auto& row : rows) {
    if (row.bytes == 0 && row.name != "unexplained") continue;
    Part part = part_of(row.name);
    out += "<tr class=\"" + std::string(part_name(part)) + "\"><td>" + html_escape(row.name) + "</td><td>" +
           std::string(part_name(part)) + "</td><td class=\"num\">" + human_bytes(row.bytes) +
           "</td><td class=\"num\">" + percent(row.bytes / total) + "</td></tr>\n";
  }
  return out + "</tbody></table>\n";
}

constexpr std::string_view kStyle = R"(body{font:15px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1040px;color:#212121;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e0e0e0}
h3{font-size:15px;margin:18px 0 6px}.sub{color:#616161;margin:0 0 16px}
.headline{font-size:20px;margin:12px 0}.headline b{color:#c62828}
.method{margin:14px 0 4px;font-weight:600}.ledger-bar{display:block;border:1px solid #bdbdbd;background:#fafafa}
.keys{margin:6px 0 10px;font-size:13px;color:#424242}.keys span{display:inline-block;margin-right:14px}
.keys i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px;border:1px solid #9e9e9e}
table{border-collapse:collapse;font-size:13px;margin:4px 0 8px}td,th{padding:2px 10px 2px 0;text-align:left}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}tr.unexplained td{font-weight:700;color:#b71c1c}
details{margin:6px 0}.verdict li{margin:4px 0}.abnormal{color:#b71c1c;font-weight:600}.note{color:#8d6e00}
.ok{color:#2e7d32;font-weight:600}.contributors{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:4px 24px}
a{color:#1565c0}footer{margin-top:28px;color:#757575;font-size:13px})";

}  // namespace

std::string render_landing_page(const Report& r, const LandingPageOptions& options) {
  const double total = r.memtotal > 0 ? r.memtotal : 1;
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                     "<meta http-equiv=\"refresh\" content=\"" + std::to_string(options.refresh_seconds) + "\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>memledger_exporter</title>\n<style>" + std::string(kStyle) + "</style></head>\n<body>\n";
  html += "<h1>memledger_exporter</h1>\n<p class=\"sub\">Every byte of this host's memory: categories that sum to "
          "MemTotal, and the part no kernel counter claims. <a href=\"" + html_escape(options.telemetry_path) +
          "\">Metrics</a></p>\n";
  double unexplained = r.ledger_bytes("unexplained");
  html += "<p class=\"headline\" id=\"unexplained\">Unexplained (" + html_escape(r.method) + "): <b>" +
          human_bytes(unexplained) + "</b> of " + human_bytes(r.memtotal) + " MemTotal (" + percent(unexplained / total) +
          ")</p>\n";

  html += "<h2>Ledger</h2>\n<div class=\"keys\"><span><i style=\"background:#7cb342\"></i>free</span>"
          "<span><i style=\"background:#1e88e5\"></i>user</span><span><i style=\"background:#fb8c00\"></i>kernel</span>"
          "<span><i style=\"background:repeating-linear-gradient(45deg,#e53935 0 3px,#ffcdd2 3px 6px)\"></i>"
          "unexplained</span></div>\n";
  if (r.ledgers.empty()) {
    html += "<p>No ledger: the ledger collector is disabled or failed (see the verdict).</p>\n";
  } else {
    // The hatch pattern for the unexplained segments, defined once for every bar.
    html += "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>"
            "<pattern id=\"unexplained-hatch\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" "
            "patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"#ffcdd2\"/>"
            "<rect width=\"4\" height=\"8\" fill=\"#e53935\"/></pattern></defs></svg>\n";
    std::vector<std::string> methods;
    for (const auto& m : r.unexplained_by_method) methods.push_back(m.name);
    for (const auto& method : methods) {
      auto it = r.ledgers.find(method);
      if (it == r.ledgers.end()) continue;
      double u = 0;
      for (const auto& row : it->second) {
        if (row.name == "unexplained") u = row.bytes;
      }
      html += "<div class=\"method\">method " + html_escape(method) + ": unexplained " + human_bytes(u) + "</div>\n";
      html += ledger_bar(method, it->second, r.memtotal);
      html += "<details" + std::string(method == r.method ? " open" : "") + "><summary>categories of " +
              html_escape(method) + "</summary>\n" + legend(it->second, r.memtotal) + "</details>\n";
    }
  }

  html += "<h2>Verdict</h2>\n<ul class=\"verdict\">\n";
  for (const auto& finding : r.verdict) {
    html += std::string("<li class=\"") + (finding.abnormal ? "abnormal" : "note") + "\">" +
            (finding.abnormal ? "[abnormal] " : "[note] ") + html_escape(finding.text) + "</li>\n";
  }
  if (!r.abnormal()) {
    html += "<li class=\"ok\">[ok] nothing looks abnormal: unexplained is " + human_bytes(unexplained) + " (" +
            percent(unexplained / total) + " of MemTotal)</li>\n";
  }
  html += "</ul>\n";

  if (!r.sections.empty()) {
    html += "<h2>Top contributors</h2>\n<div class=\"contributors\">\n";
    for (const auto& s : r.sections) {
      html += "<section data-section=\"" + html_escape(s.key) + "\"><h3>" + html_escape(s.title) +
              (s.total ? " of " + human_bytes(*s.total) : "") + "</h3><table><tbody>\n";
      for (const auto& row : s.rows) {
        html += "<tr><td>" + html_escape(row.name) + "</td><td class=\"num\">" + human_bytes(row.bytes) + "</td></tr>\n";
      }
      html += "</tbody></table></section>\n";
    }
    html += "</div>\n";
  }
  html += "<footer>Refreshes every " + std::to_string(options.refresh_seconds) +
          " s. The same numbers: <a href=\"" + html_escape(options.telemetry_path) + "\">" +
          html_escape(options.telemetry_path) + "</a>, and <code>memledger_exporter explain</code> on the host."
          "</footer>\n</body></html>\n";
  return html;
}

}  // namespace memledger
