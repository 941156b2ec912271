#include "exporter/explain.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "collectors/registry.h"
#include "exporter/cli.h"
#include "exporter/scrape.h"

namespace memledger {

namespace {

constexpr int kBarWidth = 30;

std::string signed_human(double bytes) { return (bytes >= 0 ? "+" : "") + human_bytes(bytes); }

// ---- text ---------------------------------------------------------------------------

struct Paint {
  bool on;
  std::string operator()(std::string_view code, const std::string& s) const {
    return on ? "\x1b[" + std::string(code) + "m" + s + "\x1b[0m" : s;
  }
};

std::string pad_right(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string pad_left(std::string s, std::size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

std::string bar(double share) {
  int n = static_cast<int>(std::lround(std::clamp(share, 0.0, 1.0) * kBarWidth));
  if (n == 0 && share > 0.002) n = 1;  // visible from 0.2%
  return std::string(static_cast<std::size_t>(n), '#');
}

std::string render_text(const Report& r, bool color) {
  Paint paint{color};
  std::string out;
  out += paint("1", "Memory ledger") + ": MemTotal " + human_bytes(r.memtotal) + ", method " + r.method +
         " (categories are disjoint and sum to MemTotal)\n\n";
  if (r.ledger.empty()) {
    out += "  no ledger: the ledger collector is disabled or failed (see below)\n";
  } else {
    std::size_t width = 11;
    for (const auto& row : r.ledger) width = std::max(width, row.name.size());
    const bool changes = !r.change.empty();
    std::string header = pad_right("category", width) + "  " + pad_left("size", 10) + "  " + pad_left("share", 6);
    if (changes) header += "  " + pad_left("change", 11);
    out += paint("1", header) + "\n";
    std::size_t hidden = 0;
    for (const auto& row : r.ledger) {
      bool unexplained = row.name == "unexplained";
      if (row.bytes == 0 && !unexplained) {
        ++hidden;
        continue;
      }
      double share = row.bytes / (r.memtotal > 0 ? r.memtotal : 1);
      std::string line = pad_right(row.name, width) + "  " + pad_left(human_bytes(row.bytes), 10) + "  " +
                         pad_left(percent(share), 6);
      if (changes) {
        auto it = r.change.find(row.name);
        line += "  " + pad_left(it == r.change.end() ? "" : signed_human(it->second), 11);
      }
      line += "  " + bar(share);
      out += (unexplained ? paint("1", line) : line) + "\n";
    }
    if (hidden > 0) out += "(" + std::to_string(hidden) + " categories at 0 not shown)\n";
    std::string methods;
    for (const auto& m : r.unexplained_by_method) {
      if (!methods.empty()) methods += ", ";
      methods += m.name + " " + human_bytes(m.bytes);
      for (const auto& u : r.uncertainty_by_method) {
        if (u.name == m.name && u.bytes > 0) methods += " (up to +" + human_bytes(u.bytes) + ")";
      }
    }
    if (!methods.empty()) out += "\nUnexplained by method: " + methods + "\n";
  }

  if (r.interval_seconds > 0) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.0f s", r.interval_seconds);
    out += "\n" + paint("1", std::string("Grew in the last ") + seconds) + "\n";
    if (r.grew.empty()) out += "    nothing grew by 1 MiB or more\n";
    std::size_t width = 0;
    for (const auto& row : r.grew) width = std::max(width, std::min<std::size_t>(row.name.size(), 60));
    for (const auto& row : r.grew) {
      std::string name = row.name.size() > 60 ? row.name.substr(0, 57) + "..." : row.name;
      out += "    " + pad_right(name, width) + "  " + pad_left(signed_human(row.bytes), 11) + "\n";
    }
  }

  if (!r.sections.empty()) out += "\n" + paint("1", "Top contributors") + "\n";
  for (const auto& s : r.sections) {
    out += "  " + paint("1", s.title) + (s.total ? " of " + human_bytes(*s.total) : "") + "\n";
    std::size_t width = 0;
    for (const auto& row : s.rows) width = std::max(width, row.name.size());
    width = std::min<std::size_t>(width, 60);
    for (const auto& row : s.rows) {
      std::string name = row.name.size() > 60 ? row.name.substr(0, 57) + "..." : row.name;
      out += "    " + pad_right(name, width) + "  " + pad_left(human_bytes(row.bytes), 10) + "\n";
    }
  }

  out += "\n" + paint("1", "Verdict") + "\n";
  bool abnormal = false;
  for (const auto& finding : r.verdict) {
    abnormal = abnormal || finding.abnormal;
    std::string tag = finding.abnormal ? paint("1;31", "[abnormal]") : paint("33", "[note]");
    out += "  " + tag + " " + finding.text + "\n";
  }
  if (!abnormal) {
    out += "  " + paint("32", "[ok]") + " nothing looks abnormal: unexplained is " +
           human_bytes(r.ledger_bytes("unexplained")) + " (" +
           percent(r.ledger_bytes("unexplained") / (r.memtotal > 0 ? r.memtotal : 1)) + " of MemTotal)\n";
  }
  return out;
}

// ---- JSON ---------------------------------------------------------------------------

// Byte figures are integers in the exposition: keep them integers in JSON.
nlohmann::ordered_json number(double v) {
  if (std::floor(v) == v && std::abs(v) < 9.0e15) return static_cast<std::int64_t>(v);
  return v;
}

nlohmann::ordered_json rows_json(const std::vector<ReportRow>& rows, const char* key) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& row : rows) out.push_back({{key, row.name}, {"bytes", number(row.bytes)}});
  return out;
}

std::string render_json(const Report& r) {
  nlohmann::ordered_json categories = nlohmann::ordered_json::array();
  for (const auto& row : r.ledger) {
    nlohmann::ordered_json c = {{"category", row.name},
                        {"bytes", number(row.bytes)},
                        {"share", r.memtotal > 0 ? row.bytes / r.memtotal : 0.0}};
    if (auto it = r.change.find(row.name); it != r.change.end()) c["change_bytes"] = number(it->second);
    categories.push_back(std::move(c));
  }
  nlohmann::ordered_json out;
  out["memtotal_bytes"] = number(r.memtotal);
  out["ledger"] = {{"method", r.method},
                   {"categories", std::move(categories)},
                   {"unexplained_by_method", rows_json(r.unexplained_by_method, "method")},
                   {"uncertainty_by_method", rows_json(r.uncertainty_by_method, "method")}};
  if (r.interval_seconds > 0) {
    out["interval_seconds"] = number(r.interval_seconds);
    out["grew"] = rows_json(r.grew, "name");
  }
  nlohmann::ordered_json contributors = nlohmann::ordered_json::object();
  for (const auto& s : r.sections) {
    nlohmann::ordered_json section = {{"rows", rows_json(s.rows, "name")}};
    if (s.total) section["total_bytes"] = number(*s.total);
    contributors[s.key] = std::move(section);
  }
  out["contributors"] = std::move(contributors);
  nlohmann::ordered_json verdict = nlohmann::ordered_json::array();
  for (const auto& f : r.verdict) verdict.push_back({{"abnormal", f.abnormal}, {"finding", f.text}});
  out["verdict"] = std::move(verdict);
  out["failed_collectors"] = r.failed;
  // Label values are valid UTF-8 already (the metric sink sanitizes them); replace anyway.
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string render_explain(const ExplainInput& input, const ExplainStyle& style) {
  Report report = build_report(input);
  return style.json ? render_json(report) : render_text(report, style.color);
}

int run_explain(const std::vector<std::string>& args) {
  CliResult cli = parse_cli(args, CliMode::explain);
  if (!cli.error.empty()) {
    std::fprintf(stderr, "memledger_exporter explain: %s\n", cli.error.c_str());
    return 2;
  }
  const CliOptions& options = cli.options;
  if (options.show_help) {
    std::cout << explain_help();
    return 0;
  }
  Config config;
  try {
    config = options.config_file ? load_exporter_config_file(*options.config_file) : default_config();
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "memledger_exporter explain: invalid configuration: %s\n", e.what());
    return 1;
  }
  // The same collect-once path as a scrape: collectors on the worker pool over one
  // Snapshot, failures isolated.
  ScrapeRunner runner(options.roots, build_collectors(config, options.collector_overrides));
  ExplainInput input;
  if (options.explain.interval_seconds > 0) {
    input.earlier = runner.scrape()->families;
    input.interval_seconds = options.explain.interval_seconds;
    std::this_thread::sleep_for(std::chrono::duration<double>(options.explain.interval_seconds));
  }
  auto collection = runner.scrape();
  input.families = collection->families;
  input.failed_collectors = collection->failures;
  ExplainStyle style;
  style.json = options.explain.json;
  style.color = !style.json && ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  std::cout << render_explain(input, style);
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}

}  // namespace memledger
