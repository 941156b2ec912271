#include "exporter/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <string_view>

#include "collectors/metric_sink.h"

namespace memledger {

namespace {

using Families = std::vector<prometheus::MetricFamily>;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr std::size_t kTopRows = 5;

// Verdict thresholds (README, "explain").
constexpr double kUnexplainedShare = 0.02;           // of MemTotal ...
constexpr double kUnexplainedFloor = 256 * kMiB;     // ... and at least this much
constexpr double kUnexplainedGrowth = 32 * kMiB;     // over the interval
constexpr double kSunreclaimShare = 0.10;
constexpr double kTmpfsShare = 0.10;
constexpr double kShmemUnattributedShare = 0.05;
constexpr double kHeldOpenFloor = 64 * kMiB;         // deleted open files, orphaned SysV
constexpr double kFragmentedRatio = 0.5;              // unusable free index at order 3
constexpr double kFragmentedZoneShare = 0.01;         // zones with at least this much free
constexpr double kCgroupResidualFloor = 256 * kMiB;
constexpr double kGrowthFloor = 1 * kMiB;  // smaller changes are a live host's noise
constexpr std::size_t kGrowthRows = 8;

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


// Samples of a family matching `labels`, named by `key`, in exposition order.
std::vector<ReportRow> rows_of(const Families& families, std::string_view family, std::string_view key,
                         std::initializer_list<LabelPair> labels = {}) {
  std::vector<ReportRow> rows;
  const auto* f = find_family(families, family);
  if (!f) return rows;
  for (const auto& m : f->metric) {
    if (has_labels(m, labels)) rows.push_back({std::string(label_of(m, key)), value_of(*f, m)});
  }
  return rows;
}

// The largest rows first, at most kTopRows; a row named "other" (the exporter's remainder)
// is kept aside and appended last.
std::vector<ReportRow> top_rows(std::vector<ReportRow> rows) {
  std::optional<ReportRow> other;
  auto it = std::find_if(rows.begin(), rows.end(), [](const ReportRow& r) { return r.name == "other"; });
  if (it != rows.end()) {
    other = *it;
    rows.erase(it);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const ReportRow& a, const ReportRow& b) { return a.bytes > b.bytes; });
  if (rows.size() > kTopRows) rows.resize(kTopRows);
  if (other && other->bytes != 0) rows.push_back(*other);
  return rows;
}

std::string names_of(const std::vector<ReportRow>& rows, std::size_t n);

}  // namespace

std::string human_bytes(double bytes) {
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


double Report::ledger_bytes(std::string_view category) const {
  for (const auto& row : ledger) {
    if (row.name == category) return row.bytes;
  }
  return 0;
}

bool Report::abnormal() const {
  return std::any_of(verdict.begin(), verdict.end(), [](const Finding& f) { return f.abnormal; });
}

namespace {

std::string names_of(const std::vector<ReportRow>& rows, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < rows.size() && i < n; ++i) {
    if (rows[i].name == "other") continue;
    if (!out.empty()) out += ", ";
    out += rows[i].name + " " + human_bytes(rows[i].bytes);
  }
  return out;
}

const ReportSection* section(const Report& r, std::string_view key) {
  for (const auto& s : r.sections) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

// Rows at 0 say nothing; a section without rows is left out.
void add_section(Report& r, std::string key, std::string title, std::vector<ReportRow> rows,
                 std::optional<double> total = std::nullopt) {
  rows.erase(std::remove_if(rows.begin(), rows.end(), [](const ReportRow& row) { return row.bytes == 0; }), rows.end());
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

  std::vector<ReportRow> shmem = top_rows(rows_of(f, "memledger_tmpfs_used_bytes", "mountpoint"));
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

  std::vector<ReportRow> sites;
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

  std::vector<ReportRow> census;
  if (auto hole = lookup(f, "memledger_pagecensus_black_hole_bytes")) census.push_back({"black hole estimate", *hole});
  add_section(r, "page_census", "Page census (/proc/kpageflags)", std::move(census));

  std::vector<ReportRow> traced;
  if (const auto* family = find_family(f, "memledger_blackhole_bytes")) {
    for (const auto& m : family->metric) {
      traced.push_back({std::string(label_of(m, "site")) + " by " + std::string(label_of(m, "group")), m.gauge.value});
    }
  }
  add_section(r, "blackhole", "Untyped kernel pages by call site and process (eBPF)", top_rows(std::move(traced)),
              lookup(f, "memledger_blackhole_tracked_bytes"));
  std::vector<ReportRow> sockets;
  if (const auto* family = find_family(f, "memledger_socket_memory_bytes")) {
    for (const auto& m : family->metric) {
      sockets.push_back({std::string(label_of(m, "protocol")) + " sockets of " + std::string(label_of(m, "group")),
                         m.gauge.value});
    }
  }
  add_section(r, "socket_buffers", "Socket buffers by process", top_rows(std::move(sockets)));
}

// Plain words for the kernel functions that allocate untyped pages (no NR_* counter
// accounts them, so they land in unexplained).
std::string_view site_words(std::string_view site) {
  static const std::pair<std::string_view, std::string_view> kWords[] = {
      // fs/pipe.c: a pipe buffer is a whole page from alloc_page(); anon_pipe_write since
      // the 6.15 split of pipeanon_fops, pipe_write before.
      {"anon_pipe_write", "pipe buffers"},
      {"pipe_write", "pipe buffers"},
      // net/core/sock.c: skb_page_frag_refill() fills the per-socket or per-task page
      // frag that tcp_sendmsg_locked() (net/ipv4/tcp.c) copies user data into.
      {"skb_page_frag_refill", "TCP send buffers (page frags)"},
      {"sk_page_frag_refill", "TCP send buffers (page frags)"},
      {"tcp_sendmsg_locked", "TCP send buffers (page frags)"},
      // net/core/page_pool.c: receive buffers of page-pool drivers.
      {"page_pool_alloc_pages", "network page pool pages"},
      {"__page_pool_alloc_pages_slow", "network page pool pages"},
      {"io_mem_alloc", "io_uring rings"},                 // io_uring/memmap.c
      {"rb_allocate_cpu_buffer", "ftrace ring buffers"},  // kernel/trace/ring_buffer.c
      {"perf_mmap_alloc_page", "perf ring buffers"},      // kernel/events/ring_buffer.c
      {"dma_direct_alloc", "DMA coherent buffers"},       // kernel/dma/direct.c
      {"balloon_page_alloc", "balloon pages"},            // mm/balloon_compaction.c
  };
  for (const auto& [function, words] : kWords) {
    if (site == function) return words;
  }
  return "kernel pages";
}

// The series whose growth --interval reports, each named for a person.
struct GrowthSource {
  std::string_view family;
  std::string (*name)(const prometheus::ClientMetric& m);
};

std::string label_string(const prometheus::ClientMetric& m, std::string_view name) {
  return std::string(label_of(m, name));
}

const GrowthSource kGrowthSources[] = {
    {"memledger_blackhole_bytes",
     [](const prometheus::ClientMetric& m) {
       return std::string(site_words(label_of(m, "site"))) + " (" + label_string(m, "site") + ") by " +
              label_string(m, "group");
     }},
    {"memledger_socket_memory_bytes",
     [](const prometheus::ClientMetric& m) {
       return label_string(m, "protocol") + " socket buffers of " + label_string(m, "group");
     }},
    {"memledger_page_pool_inflight_bytes",
     [](const prometheus::ClientMetric& m) { return "page pool pages in flight on " + label_string(m, "interface"); }},
    {"memledger_slab_cache_bytes",
     [](const prometheus::ClientMetric& m) { return "slab cache " + label_string(m, "cache"); }},
    {"memledger_process_memory_bytes",
     [](const prometheus::ClientMetric& m) {
       return label_of(m, "kind") == "pss" ? "processes " + label_string(m, "group") + " (PSS)" : std::string();
     }},
    {"memledger_tmpfs_used_bytes",
     [](const prometheus::ClientMetric& m) { return "tmpfs " + label_string(m, "mountpoint"); }},
    {"memledger_vmalloc_caller_bytes",
     [](const prometheus::ClientMetric& m) { return "vmalloc by " + label_string(m, "caller"); }},
    {"memledger_cgroup_kernel_residual_bytes",
     [](const prometheus::ClientMetric& m) { return "kernel memory charged to cgroup " + label_string(m, "cgroup"); }},
};

// What grew between two collections: every source series, matched by its name, that
// gained at least kGrowthFloor (a series absent before counts from 0).
std::vector<ReportRow> growth(const Families& earlier, const Families& now) {
  std::vector<ReportRow> grew;
  for (const auto& source : kGrowthSources) {
    std::map<std::string, double> before;
    if (const auto* family = find_family(earlier, source.family)) {
      for (const auto& m : family->metric) {
        if (auto name = source.name(m); !name.empty()) before[name] += value_of(*family, m);
      }
    }
    const auto* family = find_family(now, source.family);
    if (!family) continue;
    for (const auto& m : family->metric) {
      std::string name = source.name(m);
      if (name.empty()) continue;
      auto it = before.find(name);
      double delta = value_of(*family, m) - (it == before.end() ? 0 : it->second);
      if (delta >= kGrowthFloor) grew.push_back({std::move(name), delta});
    }
  }
  std::stable_sort(grew.begin(), grew.end(), [](const ReportRow& a, const ReportRow& b) { return a.bytes > b.bytes; });
  if (grew.size() > kGrowthRows) grew.resize(kGrowthRows);
  return grew;
}

// When the eBPF tracer, the socket locators or the page pools explain at least half of
// `unexplained`, the culprit in words: "256.0 MiB of pipe buffers written by plumber, in anon_pipe_write".
std::optional<std::string> name_culprit(const Families& f, double unexplained) {
  if (unexplained <= 0) return std::nullopt;
  struct Candidate {
    std::string site, group;
    double bytes = 0;
  };
  std::optional<std::string> named;
  if (const auto* family = find_family(f, "memledger_blackhole_bytes")) {
    double total = 0;
    Candidate top;
    for (const auto& m : family->metric) {
      total += m.gauge.value;
      if (label_of(m, "site") != "other" && m.gauge.value > top.bytes) {
        top = {std::string(label_of(m, "site")), std::string(label_of(m, "group")), m.gauge.value};
      }
    }
    if (total >= 0.5 * unexplained && top.bytes > 0) {
      std::string writer = top.group == "other" ? "processes outside the top groups" : top.group;
      named = human_bytes(top.bytes) + " of " + std::string(site_words(top.site)) + " written by " + writer +
              ", in " + top.site;
      if (total > top.bytes * 1.05) named->append(" (the tracer names " + human_bytes(total) + " in all)");
      return named;
    }
  }
  if (const auto* family = find_family(f, "memledger_socket_memory_bytes")) {
    double total = 0;
    Candidate top;
    for (const auto& m : family->metric) {
      total += m.gauge.value;
      if (label_of(m, "group") != "other" && m.gauge.value > top.bytes) {
        top = {std::string(label_of(m, "protocol")), std::string(label_of(m, "group")), m.gauge.value};
      }
    }
    if (total >= 0.5 * unexplained && top.bytes > 0) {
      return human_bytes(top.bytes) + " of " + top.site + " socket buffers held by " + top.group +
             " (queued data no process has read or the peer has not acknowledged)";
    }
  }
  // Page-pool pages come from the page allocator without an NR_* counter
  // (net/core/page_pool.c); the netdev netlink family reports those in flight.
  if (const auto* family = find_family(f, "memledger_page_pool_inflight_bytes")) {
    double total = 0;
    Candidate top;
    for (const auto& m : family->metric) {
      total += m.gauge.value;
      if (m.gauge.value > top.bytes) top = {{}, std::string(label_of(m, "interface")), m.gauge.value};
    }
    if (total >= 0.5 * unexplained && top.bytes > 0) {
      return human_bytes(top.bytes) + " of network page pool pages in flight on " + top.group +
             " (receive buffers the driver or the stack still holds)";
    }
  }
  return std::nullopt;
}

void build_verdict(Report& r, const Families& f, const ReportInput& in) {
  const double total = r.memtotal > 0 ? r.memtotal : 1;
  auto& v = r.verdict;
  if (!r.ledger.empty()) {
    double unexplained = r.ledger_bytes("unexplained");
    if (unexplained > std::max(kUnexplainedShare * total, kUnexplainedFloor)) {
      std::string where;
      if (const auto* s = section(r, "cgroup_kernel_residual")) where += "; cgroups holding it: " + names_of(s->rows, 3);
      if (const auto* s = section(r, "cgroup_kmem")) {
        where += "; cgroups with the most kernel memory (v1 kmem, slab included): " + names_of(s->rows, 2);
      }
      if (const auto* s = section(r, "alloc_sites")) where += "; largest kernel call sites: " + names_of(s->rows, 3);
      if (auto hole = lookup(f, "memledger_pagecensus_black_hole_bytes")) {
        where += "; the page census counts " + human_bytes(*hole) + " of unnamed pages";
      }
      std::string head = human_bytes(unexplained) + " (" + percent(unexplained / total) +
                         " of MemTotal) is in use but no kernel counter records it";
      if (auto culprit = name_culprit(f, unexplained)) {
        v.push_back({true, head + ": " + *culprit});
      } else {
        v.push_back({true, head + ": pipe buffers, network page pools, driver allocations, a balloon "
                               "without a counter" + where});
      }
    }
    if (auto it = r.change.find("unexplained"); it != r.change.end() && it->second > kUnexplainedGrowth) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.0f s", in.interval_seconds);
      std::string finding = "unexplained grew by " + human_bytes(it->second) + " in " + seconds;
      if (auto culprit = name_culprit(f, r.ledger_bytes("unexplained"))) finding += ": " + *culprit;
      v.push_back({true, finding});
    }
    double sunreclaim = r.ledger_bytes("slab_unreclaimable");
    if (sunreclaim > kSunreclaimShare * total) {
      std::string caches;
      if (const auto* s = section(r, "slab_caches")) caches = "; largest caches: " + names_of(s->rows, 3);
      v.push_back({true, "unreclaimable slab (SUnreclaim) holds " + human_bytes(sunreclaim) + " (" +
                             percent(sunreclaim / total) + " of MemTotal): the kernel cannot give it back" + caches});
    }
    if (double balloon = r.ledger_bytes("balloon"); balloon > 0) {
      v.push_back({true, "a balloon driver holds " + human_bytes(balloon) + " inside MemTotal: the hypervisor has "
                         "taken that memory back"});
    }
  }
  for (const auto& row : rows_of(f, "memledger_balloon_bytes", "driver")) {
    if (row.bytes <= 0) continue;
    if (lookup(f, "memledger_balloon_inside_memtotal", {{"driver", row.name}}).value_or(1) == 0) {
      v.push_back({false, row.name + " has taken " + human_bytes(row.bytes) + " out of MemTotal"});
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
    v.push_back({true, "tmpfs mounts hold " + human_bytes(tmpfs) + " (" + percent(tmpfs / total) +
                           " of MemTotal), most of it under " + largest_mount + " (" + human_bytes(largest) +
                           "): files in RAM that belong to no process"});
  }
  double held_open = 0, held_files = 0;
  for (const auto& row : rows_of(f, "memledger_tmpfs_deleted_open_bytes", "mountpoint")) held_open += row.bytes;
  for (const auto& row : rows_of(f, "memledger_tmpfs_deleted_open_files", "mountpoint")) held_files += row.bytes;
  if (held_open > kHeldOpenFloor) {
    char files[32];
    std::snprintf(files, sizeof files, "%.0f", held_files);
    v.push_back({true, std::string(files) + " deleted tmpfs files still held open keep " + human_bytes(held_open) +
                           " in use until their processes close them"});
  }
  if (auto orphaned = lookup(f, "memledger_sysv_shm_orphaned_bytes"); orphaned && *orphaned > kHeldOpenFloor) {
    v.push_back({true, "System V segments no process has attached hold " + human_bytes(*orphaned) + " (ipcs -m; ipcrm)"});
  }
  if (auto rest = lookup(f, "memledger_shmem_unattributed_bytes"); rest && *rest > kShmemUnattributedShare * total) {
    v.push_back({false, human_bytes(*rest) + " of Shmem is in no tmpfs mount, segment or memfd: shared anonymous "
                        "mappings or GPU buffers"});
  }
  for (const auto& row : rows_of(f, "memledger_cgroup_kernel_residual_bytes", "cgroup")) {
    if (row.bytes > kCgroupResidualFloor) {
      v.push_back({true, "cgroup " + row.name + " is charged " + human_bytes(row.bytes) +
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
                              percent(m.gauge.value) + " of its " + human_bytes(free) +
                              " free sits in blocks under 8 pages; larger allocations may stall in "
                              "compaction"});
    }
  }
  for (const auto& failed : r.failed) v.push_back({false, "collector " + failed});
}

}  // namespace

Report build_report(const ReportInput& in) {
  Report r;
  r.interval_seconds = in.interval_seconds;
  r.failed = in.failed_collectors;
  const Families& f = in.families;
  r.memtotal = lookup(f, "memledger_meminfo_bytes", {{"field", "MemTotal"}}).value_or(0);
  r.ledger = rows_of(f, "memledger_ledger_bytes", "category", {{"method", r.method}});
  for (const auto& m : rows_of(f, "memledger_unexplained_bytes", "method")) {
    r.ledgers[m.name] = rows_of(f, "memledger_ledger_bytes", "category", {{"method", m.name}});
  }
  if (!in.earlier.empty()) {
    for (const auto& row : rows_of(in.earlier, "memledger_ledger_bytes", "category", {{"method", r.method}})) {
      r.change[row.name] = r.ledger_bytes(row.name) - row.bytes;
    }
    r.grew = growth(in.earlier, f);
  }
  r.unexplained_by_method = rows_of(f, "memledger_unexplained_bytes", "method");
  // The headline method first, then as README lists them.
  auto rank = [](const ReportRow& row) { return row.name == "lru" ? 0 : row.name == "cache" ? 1 : 2; };
  std::stable_sort(r.unexplained_by_method.begin(), r.unexplained_by_method.end(),
                   [&](const ReportRow& a, const ReportRow& b) { return rank(a) < rank(b); });
  r.uncertainty_by_method = rows_of(f, "memledger_unexplained_uncertainty_bytes", "method");
  build_sections(r, f);
  build_verdict(r, f, in);
  return r;
}

}  // namespace memledger
