#pragma once
// The ledger: MemTotal split into disjoint categories that sum to it exactly, one of
// them the unexplained remainder. Three methods (LRU lists, page cache, PSS), each a pure
// function of one scrape's readings; the formulas and the kernel sources behind each
// correction are in README.md ("The ledger").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/balloon.h"
#include "procfs/kernel_release.h"
#include "procfs/meminfo.h"
#include "procfs/snapshot.h"
#include "procfs/vmallocinfo.h"
#include "procfs/vmstat.h"

namespace memledger {


// One scrape's readings the ledger is computed from. Optional parts are nullopt when the
// file could not be read or parsed; the ledger then falls back and says so.
struct LedgerInputs {
  Meminfo meminfo;
  std::uint64_t page_size = 4096;
  std::optional<KernelVersion> kernel;
  std::optional<VmallocSummary> vmalloc;               // /proc/vmallocinfo (root only)
  std::optional<std::uint64_t> hugetlb_sysfs_bytes;    // all pool sizes, from sysfs
  std::optional<std::uint64_t> per_cpu_free_pages;     // /proc/zoneinfo "count:" lines
  std::optional<std::uint64_t> zone_free_pages;        // /proc/zoneinfo "pages free"
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


}  // namespace memledger
