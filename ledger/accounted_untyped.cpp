#include "ledger/accounted_untyped.h"

#include <algorithm>

namespace memledger {

std::int64_t AccountedUntyped::total() const {
  return static_cast<std::int64_t>(per_cpu_free_lists + free_outside_zones + vmalloc + kernel_stack_unmapped + percpu +
         secondary_page_tables + page_tables_unflagged + zsmalloc + unaccepted +
         unflagged_reservations) +
         kernel_reclaimable_other;
}

std::int64_t black_hole_estimate(const PageCensus& census, std::uint64_t page_size,
                                 const AccountedUntyped& accounted) {
  return static_cast<std::int64_t>(census.count(PageClass::untyped) * page_size) -
         accounted.total();
}

AccountedUntyped accounted_untyped(const LedgerInputs& in, const PageCensus& census) {
  const Meminfo& m = in.meminfo;
  const std::uint64_t page_size = in.page_size;
  AccountedUntyped a;
  a.vmalloc = m.bytes_or_zero("VmallocUsed");
  a.percpu = m.bytes_or_zero("Percpu");
  a.secondary_page_tables = m.bytes_or_zero("SecPageTables");
  a.unaccepted = m.bytes_or_zero("Unaccepted");
  if (auto kreclaimable = m.bytes("KReclaimable")) {
    a.kernel_reclaimable_other =
        static_cast<std::int64_t>(*kreclaimable) - static_cast<std::int64_t>(m.bytes_or_zero("SReclaimable"));
  }
  // Kernels without KPF_PGTABLE (before 4.17) leave page tables flagless.
  if (census.page_table_pages == 0) a.page_tables_unflagged = m.bytes_or_zero("PageTables");
  if (in.per_cpu_free_pages) a.per_cpu_free_lists = *in.per_cpu_free_pages * page_size;
  if (in.zone_free_pages) {
    std::uint64_t zone_free = *in.zone_free_pages * page_size;
    std::uint64_t memfree = m.bytes_or_zero("MemFree");
    a.free_outside_zones = memfree - std::min(memfree, zone_free);
  }
  if (in.vmstat) {
    auto zspages = in.vmstat->get("nr_zspages").value_or(0);
    a.zsmalloc = zspages > 0 ? static_cast<std::uint64_t>(zspages) * page_size : 0;
  }
  if (census.ram_pages > 0) {
    std::uint64_t outside = census.count(PageClass::reserved);
    if (in.balloon == BalloonPlacement::outside_memtotal) outside += census.count(PageClass::offline);
    std::uint64_t ram = census.ram_pages * page_size;
    std::uint64_t accounted_outside = m.bytes_or_zero("MemTotal") + outside * page_size;
    a.unflagged_reservations = ram - std::min(ram, accounted_outside);
  }
  // Stacks of CONFIG_VMAP_STACK kernels are in VmallocUsed already; only the rest is new.
  if (in.vmalloc) {
    std::uint64_t stacks = m.bytes_or_zero("KernelStack");
    a.kernel_stack_unmapped = stacks - std::min(stacks, in.vmalloc->kernel_stack_bytes);
  }
  return a;
}

}  // namespace memledger
