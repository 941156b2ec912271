#include "exporter/explain.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>
#include <thread>

#include "exporter/logging.h"
#include "procfs/errors.h"
#include "collectors/metric_sink.h"
#include "collectors/registry.h"
#include "procfs/snapshot.h"
#include "procfs/text.h"
#include "config/config.h"
#include "exporter/scrape.h"

namespace memledger {

namespace {

using Families = std::vector<prometheus::MetricFamily>;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr std::size_t kTopRows = 5;
constexpr int kBarWidth = 30;

// Verdict thresholds (README, "explain").
constexpr double kUnexplainedShare = 0.02;           // of MemTotal ...
constexpr double kUnexplainedFloor = 256 * kMiB;     // ... and at least this much
constexpr double kUnexplainedGrowth = 32 * kMiB;     // over --interval
constexpr double kSunreclaimShare = 0.10;
constexpr double kTmpfsShare = 0.10;
constexpr double kShmemUnattributedShare = 0.05;
constexpr double kHeldOpenFloor = 64 * kMiB;         // deleted open files, orphaned SysV
constexpr double kFragmentedRatio = 0.5;              // unusable free index at order 3
constexpr double kFragmentedZoneShare = 0.01;         // zones with at least this much free
constexpr double kCgroupResidualFloor = 256 * kMiB;

// ---- reading the families ----------------------------------------------------------

const prometheus::MetricFamily* find_family(const Families& families, std::string_view name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string_view label_of(const prometheus::ClientMetric& m, std::string_view name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return {};
}

double value_of(const prometheus::MetricFamily& f, const prometheus::ClientMetric& m) {
  return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
}

bool has_labels(const prometheus::ClientMetric& m, std::initializer_list<LabelPair> wanted) {
  for (const auto& [name, value] : wanted) {
    if (label_of(m, name) != value) return false;
  }
  return true;
}

std::optional<double> lookup(const Families& families, std::string_view family,
                             std::initializer_list<LabelPair> labels = {}) {
  const auto* f = find_family(families, family);
  if (!f) return std::nullopt;
  for (const auto& m : f->metric) {
    if (has_labels(m, labels)) return value_of(*f, m);
  }
  return std::nullopt;
}

struct Row {
  std::string name;
  double bytes = 0;
};

// Samples of a family matching `labels`, named by `key`, in exposition order.
std::vector<Row> rows_of(const Families& families, std::string_view family, std::string_view key,
                         std::initializer_list<LabelPair> labels = {}) {
  std::vector<Row> rows;
  const auto* f = find_family(families, family);
  if (!f) return rows;
  for (const auto& m : f->metric) {
    if (has_labels(m, labels)) rows.push_back({std::string(label_of(m, key)), value_of(*f, m)});
  }
  return rows;
}

// The largest rows first, at most kTopRows; a row named "other" (the exporter's remainder)
// is kept aside and appended last.
std::vector<Row> top_rows(std::vector<Row> rows) {
  std::optional<Row> other;
  auto it = std::find_if(rows.begin(), rows.end(), [](const Row& r) { return r.name == "other"; });
  if (it != rows.end()) {
    other = *it;
    rows.erase(it);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.bytes > b.bytes; });
  if (rows.size() > kTopRows) rows.resize(kTopRows);
  if (other && other->bytes != 0) rows.push_back(*other);
  return rows;
}

// ---- the report ---------------------------------------------------------------------

struct Section {
  std::string key;    // JSON name
  std::string title;  // for people
  std::vector<Row> rows;
  std::optional<double> total;  // what the rows are a breakdown of, when one figure says it
};

struct Finding {
  bool abnormal = false;  // else a note
  std::string text;
};

struct Report {
  double memtotal = 0;
  std::string method = "lru";
  std::vector<Row> ledger;                  // in the exporter's order
  std::map<std::string, double> change;      // category -> change over the interval
  std::vector<Row> unexplained_by_method;
  std::vector<Row> uncertainty_by_method;
  std::vector<Section> sections;
  std::vector<Finding> verdict;
  std::vector<std::string> failed;
  double interval_seconds = 0;
};

std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = std::abs(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%s%.0f B", bytes < 0 ? "-" : "", v);
  } else {
    std::snprintf(buf, sizeof buf, "%s%.1f %s", bytes < 0 ? "-" : "", v, units[unit]);
  }
  return buf;
}

std::string percent(double share) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", share * 100);
  return buf;
}

std::string signed_human(double bytes) { return (bytes >= 0 ? "+" : "") + human(bytes); }

double ledger_bytes(const Report& r, std::string_view category) {
  for (const auto& row : r.ledger) {
    if (row.name == category) return row.bytes;
  }
  return 0;
}

std::string names_of(const std::vector<Row>& rows, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < rows.size() && i < n; ++i) {
    if (rows[i].name == "other") continue;
    if (!out.empty()) out += ", ";
    out += rows[i].name + " " + human(rows[i].bytes);
  }
  return out;
}

const Section* section(const Report& r, std::string_view key) {
  for (const auto& s : r.sections) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

// Rows at 0 say nothing; a section without rows is left out.
void add_section(Report& r, std::string key, std::string title, std::vector<Row> rows,
                 std::optional<double> total = std::nullopt) {
  rows.erase(std::remove_if(rows.begin(), rows.end(), [](const Row& row) { return row.bytes == 0; }), rows.end());
  if (rows.empty()) return;
  r.sections.push_back({std::move(key), std::move(title), std::move(rows), total});
}

void build_sections(Report& r, const Families& f) {
  add_section(r, "slab_caches", "Slab caches", top_rows(rows_of(f, "memledger_slab_cache_bytes", "cache")),
              lookup(f, "memledger_slab_bytes"));
  auto groups = rows_of(f, "memledger_process_memory_bytes", "group", {{"kind", "pss"}});
  std::string group_title = "Process groups (PSS)";
  if (groups.empty()) {
    groups = rows_of(f, "memledger_process_memory_bytes", "group", {{"kind", "rss"}});
    group_title = "Process groups (RSS)";
  }
  add_section(r, "process_groups", group_title, top_rows(std::move(groups)));

  std::vector<Row> shmem = top_rows(rows_of(f, "memledger_tmpfs_used_bytes", "mountpoint"));
  for (auto& row : shmem) row.name = "tmpfs " + row.name;
  if (auto sysv = lookup(f, "memledger_sysv_shm_bytes", {{"state", "resident"}}); sysv && *sysv > 0) {
    shmem.push_back({"System V segments", *sysv});
  }
  if (auto memfd = lookup(f, "memledger_memfd_bytes"); memfd && *memfd > 0) shmem.push_back({"memfd files", *memfd});
  if (auto rest = lookup(f, "memledger_shmem_unattributed_bytes")) shmem.push_back({"not attributed", *rest});
  add_section(r, "shmem", "Shmem (tmpfs mounts, System V, memfd)", std::move(shmem),
              lookup(f, "memledger_meminfo_bytes", {{"field", "Shmem"}}));

  add_section(r, "vmalloc_callers", "vmalloc callers",
              top_rows(rows_of(f, "memledger_vmalloc_caller_bytes", "caller")),
              lookup(f, "memledger_meminfo_bytes", {{"field", "VmallocUsed"}}));

  auto residual = rows_of(f, "memledger_cgroup_kernel_residual_bytes", "cgroup");
  if (!residual.empty()) {
    add_section(r, "cgroup_kernel_residual", "Cgroups: charged kernel memory no counter names",
                top_rows(std::move(residual)));
  } else {
    add_section(r, "cgroup_kmem", "Cgroups: kernel memory (v1 kmem)",
                top_rows(rows_of(f, "memledger_cgroup_kernel_bytes", "cgroup", {{"item", "kmem"}})));
  }

  std::vector<Row> sites;
  if (const auto* family = find_family(f, "memledger_allocinfo_bytes")) {
    for (const auto& m : family->metric) {
      std::string name(label_of(m, "site"));
      if (auto fn = label_of(m, "function"); !fn.empty()) name += " " + std::string(fn);
      if (auto mod = label_of(m, "module"); !mod.empty()) name += " [" + std::string(mod) + "]";
      sites.push_back({name, m.gauge.value});
    }
  }
  add_section(r, "alloc_sites", "Kernel allocation sites (/proc/allocinfo)", top_rows(std::move(sites)));

  add_section(r, "balloon", "Balloon drivers", rows_of(f, "memledger_balloon_bytes", "driver"));

  std::vector<Row> census;
  if (auto hole = lookup(f, "memledger_pagecensus_black_hole_bytes")) census.push_back({"black hole estimate", *hole});
  add_section(r, "page_census", "Page census (/proc/kpageflags)", std::move(census));
}

void build_verdict(Report& r, const Families& f, const ExplainInput& in) {
  const double total = r.memtotal > 0 ? r.memtotal : 1;
  auto& v = r.verdict;
  if (!r.ledger.empty()) {
    double unexplained = ledger_bytes(r, "unexplained");
    if (unexplained > std::max(kUnexplainedShare * total, kUnexplainedFloor)) {
      std::string where;
      if (const auto* s = section(r, "cgroup_kernel_residual")) where += "; cgroups holding it: " + names_of(s->rows, 3);
      if (const auto* s = section(r, "cgroup_kmem")) {
        where += "; cgroups with the most kernel memory (v1 kmem, slab included): " + names_of(s->rows, 2);
      }
      if (const auto* s = section(r, "alloc_sites")) where += "; largest kernel call sites: " + names_of(s->rows, 3);
      if (auto hole = lookup(f, "memledger_pagecensus_black_hole_bytes")) {
        where += "; the page census counts " + human(*hole) + " of unnamed pages";
      }
      v.push_back({true, human(unexplained) + " (" + percent(unexplained / total) +
                             " of MemTotal) is in use but no kernel counter records it: pipe buffers, "
                             "network page pools, driver allocations, a balloon without a counter" + where});
    }
    if (auto it = r.change.find("unexplained"); it != r.change.end() && it->second > kUnexplainedGrowth) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.0f s", in.interval_seconds);
      v.push_back({true, "unexplained grew by " + human(it->second) + " in " + seconds});
    }
    double sunreclaim = ledger_bytes(r, "slab_unreclaimable");
    if (sunreclaim > kSunreclaimShare * total) {
      std::string caches;
      if (const auto* s = section(r, "slab_caches")) caches = "; largest caches: " + names_of(s->rows, 3);
      v.push_back({true, "unreclaimable slab (SUnreclaim) holds " + human(sunreclaim) + " (" +
                             percent(sunreclaim / total) + " of MemTotal): the kernel cannot give it back" + caches});
    }
    if (double balloon = ledger_bytes(r, "balloon"); balloon > 0) {
      v.push_back({true, "a balloon driver holds " + human(balloon) + " inside MemTotal: the hypervisor has "
                         "taken that memory back (seed 000)"});
    }
  }
  for (const auto& row : rows_of(f, "memledger_balloon_bytes", "driver")) {
    if (row.bytes <= 0) continue;
    if (lookup(f, "memledger_balloon_inside_memtotal", {{"driver", row.name}}).value_or(1) == 0) {
      v.push_back({false, row.name + " has taken " + human(row.bytes) + " out of MemTotal"});
    }
  }
  double tmpfs = 0;
  std::string largest_mount;
  double largest = -1;
  for (const auto& row : rows_of(f, "memledger_tmpfs_used_bytes", "mountpoint")) {
    tmpfs += row.bytes;
    if (row.bytes > largest) {
      largest = row.bytes;
      largest_mount = row.name;
    }
  }
  if (tmpfs > kTmpfsShare * total) {
    v.push_back({true, "tmpfs mounts hold " + human(tmpfs) + " (" + percent(tmpfs / total) +
                           " of MemTotal), most of it under " + largest_mount + " (" + human(largest) +
                           "): files in RAM that belong to no process (seed 004)"});
  }
  double held_open = 0, held_files = 0;
  for (const auto& row : rows_of(f, "memledger_tmpfs_deleted_open_bytes", "mountpoint")) held_open += row.bytes;
  for (const auto& row : rows_of(f, "memledger_tmpfs_deleted_open_files", "mountpoint")) held_files += row.bytes;
  if (held_open > kHeldOpenFloor) {
    char files[32];
    std::snprintf(files, sizeof files, "%.0f", held_files);
    v.push_back({true, std::string(files) + " deleted tmpfs files still held open keep " + human(held_open) +
                           " in use until their processes close them"});
  }
  if (auto orphaned = lookup(f, "memledger_sysv_shm_orphaned_bytes"); orphaned && *orphaned > kHeldOpenFloor) {
    v.push_back({true, "System V segments no process has attached hold " + human(*orphaned) + " (ipcs -m; ipcrm)"});
  }
  if (auto rest = lookup(f, "memledger_shmem_unattributed_bytes"); rest && *rest > kShmemUnattributedShare * total) {
    v.push_back({false, human(*rest) + " of Shmem is in no tmpfs mount, segment or memfd: shared anonymous "
                        "mappings or GPU buffers"});
  }
  for (const auto& row : rows_of(f, "memledger_cgroup_kernel_residual_bytes", "cgroup")) {
    if (row.bytes > kCgroupResidualFloor) {
      v.push_back({true, "cgroup " + row.name + " is charged " + human(row.bytes) +
                             " of kernel memory no counter names (pipe buffers, raw page allocations)"});
    }
  }
  if (const auto* zones = find_family(f, "memledger_buddyinfo_unusable_free_ratio")) {
    for (const auto& m : zones->metric) {
      if (label_of(m, "order") != "3" || m.gauge.value <= kFragmentedRatio) continue;
      std::string node(label_of(m, "node")), zone(label_of(m, "zone"));
      double free = lookup(f, "memledger_buddyinfo_free_bytes", {{"node", node}, {"zone", zone}}).value_or(0);
      if (free < kFragmentedZoneShare * total) continue;
      v.push_back({false, "free memory of node " + node + " zone " + zone + " is fragmented: " +
                              percent(m.gauge.value) + " of its " + human(free) +
                              " free sits in blocks under 8 pages; larger allocations may stall in "
                              "compaction (seed 003)"});
    }
  }
  for (const auto& failed : r.failed) v.push_back({false, "collector " + failed});
}

Report build_report(const ExplainInput& in) {
  Report r;
  r.interval_seconds = in.interval_seconds;
  r.failed = in.failed_collectors;
  const Families& f = in.families;
  r.memtotal = lookup(f, "memledger_meminfo_bytes", {{"field", "MemTotal"}}).value_or(0);
  r.ledger = rows_of(f, "memledger_ledger_bytes", "category", {{"method", r.method}});
  if (!in.earlier.empty()) {
    for (const auto& row : rows_of(in.earlier, "memledger_ledger_bytes", "category", {{"method", r.method}})) {
      r.change[row.name] = ledger_bytes(r, row.name) - row.bytes;
    }
  }
  r.unexplained_by_method = rows_of(f, "memledger_unexplained_bytes", "method");
  // The headline method first, then as README lists them.
  auto rank = [](const Row& row) { return row.name == "lru" ? 0 : row.name == "cache" ? 1 : 2; };
  std::stable_sort(r.unexplained_by_method.begin(), r.unexplained_by_method.end(),
                   [&](const Row& a, const Row& b) { return rank(a) < rank(b); });
  r.uncertainty_by_method = rows_of(f, "memledger_unexplained_uncertainty_bytes", "method");
  build_sections(r, f);
  build_verdict(r, f, in);
  return r;
}

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
  out += paint("1", "Memory ledger") + ": MemTotal " + human(r.memtotal) + ", method " + r.method +
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
      std::string line = pad_right(row.name, width) + "  " + pad_left(human(row.bytes), 10) + "  " +
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
      methods += m.name + " " + human(m.bytes);
      for (const auto& u : r.uncertainty_by_method) {
        if (u.name == m.name && u.bytes > 0) methods += " (up to +" + human(u.bytes) + ")";
      }
    }
    if (!methods.empty()) out += "\nUnexplained by method: " + methods + "\n";
  }

  if (!r.sections.empty()) out += "\n" + paint("1", "Top contributors") + "\n";
  for (const auto& s : r.sections) {
    out += "  " + paint("1", s.title) + (s.total ? " of " + human(*s.total) : "") + "\n";
    std::size_t width = 0;
    for (const auto& row : s.rows) width = std::max(width, row.name.size());
    width = std::min<std::size_t>(width, 60);
    for (const auto& row : s.rows) {
      std::string name = row.name.size() > 60 ? row.name.substr(0, 57) + "..." : row.name;
      out += "    " + pad_right(name, width) + "  " + pad_left(human(row.bytes), 10) + "\n";
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
           human(ledger_bytes(r, "unexplained")) + " (" +
           percent(ledger_bytes(r, "unexplained") / (r.memtotal > 0 ? r.memtotal : 1)) + " of MemTotal)\n";
  }
  return out;
}

// ---- JSON ---------------------------------------------------------------------------

// Byte figures are integers in the exposition; anything else keeps its fraction.
std::string json_number(double v) {
  char buf[40];
  if (std::floor(v) == v && std::abs(v) < 9.0e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

std::string json_rows(const std::vector<Row>& rows, std::string_view key) {
  std::string out = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i) out += ",";
    out += "{" + json_quote(key) + ":" + json_quote(rows[i].name) + ",\"bytes\":" + json_number(rows[i].bytes) + "}";
  }
  return out + "]";
}

std::string render_json(const Report& r) {
  std::string out = "{\"memtotal_bytes\":" + json_number(r.memtotal);
  out += ",\"ledger\":{\"method\":" + json_quote(r.method) + ",\"categories\":[";
  for (std::size_t i = 0; i < r.ledger.size(); ++i) {
    if (i) out += ",";
    const auto& row = r.ledger[i];
    out += "{\"category\":" + json_quote(row.name) + ",\"bytes\":" + json_number(row.bytes) +
           ",\"share\":" + json_number(r.memtotal > 0 ? row.bytes / r.memtotal : 0);
    if (auto it = r.change.find(row.name); it != r.change.end()) {
      out += ",\"change_bytes\":" + json_number(it->second);
    }
    out += "}";
  }
  out += "],\"unexplained_by_method\":" + json_rows(r.unexplained_by_method, "method");
  out += ",\"uncertainty_by_method\":" + json_rows(r.uncertainty_by_method, "method") + "}";
  if (r.interval_seconds > 0) out += ",\"interval_seconds\":" + json_number(r.interval_seconds);
  out += ",\"contributors\":{";
  for (std::size_t i = 0; i < r.sections.size(); ++i) {
    if (i) out += ",";
    const auto& s = r.sections[i];
    out += json_quote(s.key) + ":{\"rows\":" + json_rows(s.rows, "name");
    if (s.total) out += ",\"total_bytes\":" + json_number(*s.total);
    out += "}";
  }
  out += "},\"verdict\":[";
  for (std::size_t i = 0; i < r.verdict.size(); ++i) {
    if (i) out += ",";
    out += "{\"abnormal\":" + std::string(r.verdict[i].abnormal ? "true" : "false") +
           ",\"finding\":" + json_quote(r.verdict[i].text) + "}";
  }
  out += "],\"failed_collectors\":[";
  for (std::size_t i = 0; i < r.failed.size(); ++i) {
    if (i) out += ",";
    out += json_quote(r.failed[i]);
  }
  return out + "]}\n";
}

// ---- the subcommand -----------------------------------------------------------------

// One collection, as ScrapeRunner makes it: every collector over the same Snapshot, a
// failed collector's samples dropped and its reason kept.
Families collect_once(const SourceRoots& roots, std::vector<std::unique_ptr<Collector>>& collectors,
                      std::vector<std::string>& failures) {
  Snapshot snapshot(roots);
  MetricSink out;
  failures.clear();
  for (auto& collector : collectors) {
    MetricSink sink;
    try {
      collector->collect(snapshot, sink);
      out.absorb(std::move(sink));
    } catch (const CollectError& e) {
      std::string where = e.file().empty() ? "" : " (" + e.file() + (e.line() ? ":" + std::to_string(e.line()) : "") + ")";
      failures.push_back(std::string(collector->name()) + " failed: " + e.what() + where);
    } catch (const std::exception& e) {
      failures.push_back(std::string(collector->name()) + " failed: " + e.what());
    }
  }
  return out.take();
}

const char* kUsage =
    "usage: memledger_exporter explain [--json] [--interval=SECONDS] [--path.procfs=DIR]\n"
    "                                  [--path.sysfs=DIR] [--config.file=FILE]\n"
    "                                  [--collector.NAME] [--no-collector.NAME]\n"
    "\n"
    "Collects once and prints the ledger (size, share of MemTotal), the top contributors\n"
    "of each category and what looks abnormal. --interval collects twice, SECONDS apart,\n"
    "and shows how each category changed. --json prints the same report as JSON.\n";

}  // namespace

std::string render_explain(const ExplainInput& input, const ExplainStyle& style) {
  Report report = build_report(input);
  return style.json ? render_json(report) : render_text(report, style.color);
}

int run_explain(const std::vector<std::string>& args) {
  bool json = false;
  double interval = 0;
  SourceRoots roots;
  std::optional<std::string> config_file;
  std::map<std::string, bool, std::less<>> overrides;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> value;
    if (auto eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto take = [&]() -> std::optional<std::string> {
      if (value) return value;
      if (i + 1 < args.size()) return args[++i];
      std::fprintf(stderr, "memledger_exporter explain: flag %s needs a value\n", flag.c_str());
      return std::nullopt;
    };
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (flag == "--json" && !value) {
      json = true;
    } else if (flag == "--interval") {
      auto v = take();
      if (!v) return 2;
      char* end = nullptr;
      interval = std::strtod(v->c_str(), &end);
      if (v->empty() || *end != '\0' || !(interval >= 0) || interval > 3600) {
        std::fprintf(stderr, "memledger_exporter explain: --interval wants seconds between 0 and 3600\n");
        return 2;
      }
    } else if (flag == "--path.procfs" || flag == "--path.sysfs" || flag == "--config.file") {
      auto v = take();
      if (!v) return 2;
      if (flag == "--path.procfs") roots.procfs = *v;
      if (flag == "--path.sysfs") roots.sysfs = *v;
      if (flag == "--config.file") config_file = *v;
    } else if (!value && (text::starts_with(flag, "--collector.") || text::starts_with(flag, "--no-collector."))) {
      bool enable = text::starts_with(flag, "--collector.");
      std::string name = flag.substr(enable ? 12 : 15);
      const auto& catalog = collector_catalog();
      if (std::none_of(catalog.begin(), catalog.end(), [&](const CollectorInfo* c) { return c->name() == name; })) {
        std::fprintf(stderr, "memledger_exporter explain: unknown collector \"%s\"\n", name.c_str());
        return 2;
      }
      overrides[name] = enable;
    } else {
      std::fprintf(stderr, "memledger_exporter explain: unknown argument %s\n%s", args[i].c_str(), kUsage);
      return 2;
    }
  }
  Config config;
  try {
    config = config_file ? load_exporter_config_file(*config_file) : default_config();
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "memledger_exporter explain: invalid configuration: %s\n", e.what());
    return 1;
  }
  auto collectors = build_collectors(config, overrides);
  ExplainInput input;
  if (interval > 0) {
    input.earlier = collect_once(roots, collectors, input.failed_collectors);
    input.interval_seconds = interval;
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  }
  input.families = collect_once(roots, collectors, input.failed_collectors);
  ExplainStyle style;
  style.json = json;
  style.color = !json && ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  std::cout << render_explain(input, style);
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}

}  // namespace memledger
