#pragma once
// The blackhole collector: eBPF on the page allocator's tracepoints (bpf/blackhole.bpf.c)
// keeps every live non-movable page allocation with its kernel stack, process and order;
// a background reconciler drops the pages that became accounted memory (/proc/kpageflags:
// slab, LRU, page tables...) or that a /proc/meminfo line counts (vmalloc, percpu), so
// what remains is the black hole, named by call site and process group.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collectors/collector.h"
#include "collectors/registry.h"

namespace memledger {

// A tracked page frame still counts when kpageflags names no use the ledger accounts
// for: not free, not on an LRU, not slab, page table, hugetlb, balloon, reserved or RAM
// hole. Compound (page frags) and mapped kernel pages (ring buffers) still count: the
// lru ledger accounts for neither.
bool page_counts_as_black_hole(std::uint64_t kpageflags);

// One entry of /proc/<pid>/pagemap (Documentation/admin-guide/mm/pagemap.rst): the page
// frame number when the page is present and the PFN is shown (it reads as 0 without
// CAP_SYS_ADMIN).
std::optional<std::uint64_t> pagemap_pfn(std::uint64_t entry);

// struct page pointers to page frame numbers under CONFIG_SPARSEMEM_VMEMMAP (x86_64,
// arm64, ...): page_to_pfn(page) = page - vmemmap (include/asm-generic/memory_model.h).
// The base is learned from one pointer whose pfn is known.
struct VmemmapLayout {
  std::uint64_t base = 0;
  std::uint64_t page_struct_size = 64;
  static std::optional<VmemmapLayout> from_pair(std::uint64_t page_pointer, std::uint64_t pfn,
                                                std::uint64_t page_struct_size);
  std::optional<std::uint64_t> pfn(std::uint64_t page_pointer) const;
};

// The collector's options (see its declaration for the defaults).
struct BlackholeConfig {
  double reconcile_interval_seconds = 10;  // between two passes over the tracked pages
  double reconcile_budget_seconds = 2;     // a pass stops after this; the rest waits
  std::uint64_t max_tracked_pages = 65536;   // entries of the BPF map of live allocations
  std::uint64_t max_stacks = 16384;          // distinct kernel stacks kept
  std::size_t top_series = 30;               // (site, group) pairs exported by name
  std::uint64_t sample_period = 16;          // record one non-movable allocation in this many
};

using SiteGroup = std::pair<std::string, std::string>;  // (site, group)

// The largest `top_n` (site, group) pairs by bytes; the rest summed into ("other",
// "other"), so the series add up to the total.
std::vector<std::pair<SiteGroup, std::uint64_t>> top_black_hole_series(
    const std::map<SiteGroup, std::uint64_t>& bytes, std::size_t top_n);

extern const CollectorInfo kBlackholeCollector;

}  // namespace memledger
