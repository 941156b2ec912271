#pragma once
// The ledger: MemTotal split into disjoint categories that sum to it exactly, one of
// them the unexplained remainder. Three methods (seed 001's equations) with the
// corrections of KERNEL-FACTS.md; the formulas are in README.md ("The ledger").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/balloon.h"
#include "collectors/collector.h"
#include "collectors/lru.h"
#include "collectors/meminfo.h"
#include "collectors/vmalloc.h"
#include "config/config.h"

namespace memledger {

struct KernelVersion {
  int major = 0;
  int minor = 0;
  bool at_least(int want_major, int want_minor) const {
    return major > want_major || (major == want_major && minor >= want_minor);
  }
};

// "6.18.44-fc-v669\n" -> {6, 18}; nullopt when it does not start with two numbers.
std::optional<KernelVersion> parse_kernel_release(std::string_view osrelease);

// One scrape's readings the ledger is computed from. Optional parts are nullopt when the
// file could not be read or parsed; the ledger then falls back and says so.
struct LedgerInputs {
  Meminfo meminfo;
  std::uint64_t page_size = 4096;
  std::optional<KernelVersion> kernel;
  std::optional<VmallocSummary> vmalloc;               // /proc/vmallocinfo (root only)
  std::optional<std::uint64_t> hugetlb_sysfs_bytes;    // all pool sizes, from sysfs
  std::optional<std::uint64_t> per_cpu_free_pages;     // /proc/zoneinfo "count:" lines
  std::optional<Vmstat> vmstat;                        // /proc/vmstat
  BalloonPlacement balloon = BalloonPlacement::inside_memtotal;
  // What the drivers whose pages stay in MemTotal report themselves (vmw debugfs, vmstat
  // inflate/deflate events...): the only record on kernels without a Balloon line.
  std::optional<std::uint64_t> balloon_driver_bytes;
};

enum class LedgerMethod { lru, cache, pss };
std::string_view method_name(LedgerMethod method);

struct LedgerEntry {
  std::string_view category;
  std::int64_t bytes;  // signed: only "unexplained" may go negative (counter drift)
};

struct Ledger {
  LedgerMethod method = LedgerMethod::lru;
  std::uint64_t memtotal = 0;
  std::vector<LedgerEntry> entries;  // disjoint, sum to memtotal; the last is "unexplained"
  std::int64_t unexplained = 0;
  // The true remainder lies in [unexplained, unexplained + uncertainty] (SwapCached pages
  // counted whole although the mapped ones are also in AnonPages / Pss).
  std::uint64_t uncertainty = 0;
  // Inputs that were unavailable, so a fallback was used: "vmallocinfo", "zoneinfo", ...
  std::vector<std::string_view> fallbacks;
};

Ledger compute_lru_ledger(const LedgerInputs& inputs);
Ledger compute_cache_ledger(const LedgerInputs& inputs);
Ledger compute_pss_ledger(const LedgerInputs& inputs, std::uint64_t pss_total_bytes);

// Reads every input through the snapshot (each file once per scrape, shared with the
// collectors that export the same files). Throws CollectError when /proc/meminfo fails.
// Computed once per snapshot: the ledger and the process collector's pss ledger share it.
const LedgerInputs& read_ledger_inputs(Snapshot& snapshot);

// memledger_ledger_bytes{method,category}, memledger_unexplained_bytes{method},
// memledger_unexplained_uncertainty_bytes{method}, memledger_ledger_fallback{method,input}.
void emit_ledger(MetricSink& sink, const Ledger& ledger);

std::unique_ptr<Collector> make_ledger_collector(const Config& config);

}  // namespace memledger
