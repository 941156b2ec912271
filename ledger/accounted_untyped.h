#pragma once
// The page census's side of the ledger: of the pages /proc/kpageflags shows with no type
// flag, those the kernel's counters account for anyway (per-CPU free lists, vmalloc,
// percpu...). One function over the same inputs as the ledger, with its sign conventions.
#include <cstdint>

#include "ledger/ledger.h"
#include "procfs/kpageflags.h"

namespace memledger {

// The flagless pages the kernel accounts for elsewhere, in bytes: subtracted from a page
// census's untyped pages to estimate the black hole without MemTotal.
struct AccountedUntyped {
  std::uint64_t per_cpu_free_lists = 0;  // zoneinfo "count:" (not PageBuddy)
  // MemFree beyond the zones' free pages: memory the kernel counts as free before it has
  // initialized its page structures (lazy deferred init on some hypervisor kernels).
  std::uint64_t free_outside_zones = 0;
  std::uint64_t vmalloc = 0;             // VmallocUsed (vmapped task stacks included)
  std::uint64_t kernel_stack_unmapped = 0;  // KernelStack not in vmalloc areas (no VMAP_STACK)
  std::uint64_t percpu = 0;
  std::uint64_t secondary_page_tables = 0;
  std::uint64_t page_tables_unflagged = 0;  // PageTables when the kernel has no KPF_PGTABLE
  std::uint64_t zsmalloc = 0;               // vmstat nr_zspages
  // KReclaimable - SReclaimable, signed as in the ledger (per-CPU counter drift).
  std::int64_t kernel_reclaimable_other = 0;
  std::uint64_t unaccepted = 0;             // Unaccepted (confidential VMs), inside MemFree
  // RAM outside MemTotal that carries no PG_reserved: boot allocations (the memmap
  // itself) inside lazily initialized memory. RAM - MemTotal - reserved pages - balloon
  // pages that left MemTotal; 0 when the RAM ranges are unknown.
  std::uint64_t unflagged_reservations = 0;
  std::int64_t total() const;
};

// untyped pages x page size - accounted.total(). Signed: the census and the counters are
// not read at the same instant.
std::int64_t black_hole_estimate(const PageCensus& census, std::uint64_t page_size,
                                 const AccountedUntyped& accounted);

// The accounted untyped terms for `census`, from the ledger inputs of the snapshot read
// right after it.
AccountedUntyped accounted_untyped(const LedgerInputs& inputs, const PageCensus& census);

}  // namespace memledger
