#include "ledger/ledger.h"

#include <algorithm>
#include <type_traits>

#include "procfs/hugepages.h"
#include "procfs/text.h"
#include "procfs/zoneinfo.h"

namespace memledger {

std::string_view method_name(LedgerMethod method) {
  switch (method) {
    case LedgerMethod::lru: return "lru";
    case LedgerMethod::cache: return "cache";
    case LedgerMethod::pss: return "pss";
  }
  return "unknown";
}

namespace {

std::int64_t as_signed(std::uint64_t v) { return static_cast<std::int64_t>(v); }

class LedgerBuilder {
 public:
  LedgerBuilder(const LedgerInputs& in, LedgerMethod method) : in_(in) {
    ledger_.method = method;
    ledger_.memtotal = in.meminfo.bytes_or_zero("MemTotal");
  }

  std::uint64_t field(std::string_view name) const { return in_.meminfo.bytes_or_zero(name); }

  void add(std::string_view category, std::int64_t bytes) {
    ledger_.entries.push_back({category, bytes});
    accounted_ += bytes;
  }

  void fallback(std::string_view input) {
    if (std::find(ledger_.fallbacks.begin(), ledger_.fallbacks.end(), input) == ledger_.fallbacks.end()) {
      ledger_.fallbacks.push_back(input);
    }
  }

  std::uint64_t vmstat_bytes(std::string_view counter) {
    if (!in_.vmstat) {
      fallback("vmstat");
      return 0;
    }
    auto pages = in_.vmstat->get(counter).value_or(0);
    return pages > 0 ? static_cast<std::uint64_t>(pages) * in_.page_size : 0;
  }

  // MemFree leaves out pages parked on the per-CPU free lists: they are free too.
  void add_free() {
    add("free", as_signed(field("MemFree")));
    if (!in_.per_cpu_free_pages) fallback("zoneinfo");
    add("per_cpu_free_lists", as_signed(in_.per_cpu_free_pages.value_or(0) * in_.page_size));
  }

  // HugePages_* describe the default size only; Hugetlb (4.16+) and sysfs cover all sizes.
  void add_hugetlb() {
    std::uint64_t bytes;
    if (auto hugetlb = in_.meminfo.bytes("Hugetlb")) {
      bytes = *hugetlb;
    } else if (in_.hugetlb_sysfs_bytes) {
      bytes = *in_.hugetlb_sysfs_bytes;
    } else {
      fallback("hugepages_sysfs");
      bytes = in_.meminfo.count("HugePages_Total").value_or(0) * field("Hugepagesize");
    }
    add("hugetlb", as_signed(bytes));
  }

  // The kernel's own memory, identical in every method.
  void add_kernel() {
    add("slab_reclaimable", as_signed(field("SReclaimable")));
    add("slab_unreclaimable", as_signed(field("SUnreclaim")));
    // KReclaimable (4.20+) already includes SReclaimable: only the rest is new.
    std::int64_t kreclaimable_other = 0;
    if (auto kreclaimable = in_.meminfo.bytes("KReclaimable")) {
      kreclaimable_other = as_signed(*kreclaimable) - as_signed(field("SReclaimable"));
    }
    add("kernel_reclaimable_other", kreclaimable_other);
    add("kernel_stack", as_signed(field("KernelStack") + field("ShadowCallStack")));
    add("page_tables", as_signed(field("PageTables")));
    add("secondary_page_tables", as_signed(field("SecPageTables")));
    add_vmalloc();
    add("percpu", as_signed(field("Percpu")));
    add("hardware_corrupted", as_signed(field("HardwareCorrupted")));
    add("bounce", as_signed(field("Bounce")));
    // Zswap is the zswap pool; nr_zspages counts every zsmalloc page (zswap's and zram's):
    // the larger one covers both without adding the zswap pool twice. Zswapped is the
    // uncompressed size of what is stored, not RAM.
    add("compressed_swap", as_signed(std::max(field("Zswap"), vmstat_bytes("nr_zspages"))));
    add_balloon();
  }

  void add_vmalloc() {
    const bool modern = !in_.kernel || in_.kernel->at_least(5, 3);
    std::uint64_t total;
    if (modern) {
      total = field("VmallocUsed");  // 5.3+: pages really allocated by vmalloc
    } else if (in_.vmalloc) {
      total = in_.vmalloc->vmalloc_bytes;  // VmallocUsed is 0 (4.4-5.2) or address space
    } else {
      fallback("vmallocinfo");
      total = 0;
    }
    // Vmapped task stacks are in KernelStack and in VmallocUsed: keep them in kernel_stack.
    // Stacks freed into the kernel's per-CPU stack cache are still vmalloc areas but no
    // longer in KernelStack: the overlap is at most KernelStack.
    std::uint64_t stacks;
    if (in_.vmalloc) {
      stacks = std::min(in_.vmalloc->kernel_stack_bytes, field("KernelStack"));
    } else {
      fallback("vmallocinfo");
      stacks = modern ? field("KernelStack") : 0;  // CONFIG_VMAP_STACK is the default
    }
    add("vmalloc", as_signed(total - std::min(stacks, total)));
  }

  void add_balloon() {
    std::uint64_t bytes = 0;
    if (in_.balloon == BalloonPlacement::inside_memtotal) {
      if (auto line = in_.meminfo.bytes("Balloon")) {
        bytes = *line;
      } else if (in_.balloon_driver_bytes) {
        bytes = *in_.balloon_driver_bytes;  // vmw_balloon before 6.15 (drivers/misc/vmw_balloon.c)
      } else {
        bytes = vmstat_bytes("nr_balloon_pages");
      }
    }
    add("balloon", as_signed(bytes));
  }

  Ledger finish(std::uint64_t uncertainty) {
    ledger_.unexplained = as_signed(ledger_.memtotal) - accounted_;
    ledger_.entries.push_back({"unexplained", ledger_.unexplained});
    ledger_.uncertainty = uncertainty;
    return std::move(ledger_);
  }

 private:
  const LedgerInputs& in_;
  Ledger ledger_;
  std::int64_t accounted_ = 0;
};

}  // namespace

Ledger compute_lru_ledger(const LedgerInputs& inputs) {
  LedgerBuilder b(inputs, LedgerMethod::lru);
  b.add_free();
  b.add("lru_active_anon", as_signed(b.field("Active(anon)")));
  b.add("lru_inactive_anon", as_signed(b.field("Inactive(anon)")));
  b.add("lru_active_file", as_signed(b.field("Active(file)")));
  b.add("lru_inactive_file", as_signed(b.field("Inactive(file)")));
  b.add("lru_unevictable", as_signed(b.field("Unevictable")));
  // Pages briefly taken off the LRU by reclaim or migration are still user pages.
  b.add("lru_isolated",
        as_signed(b.vmstat_bytes("nr_isolated_anon") + b.vmstat_bytes("nr_isolated_file")));
  b.add_hugetlb();
  b.add_kernel();
  return b.finish(0);
}

Ledger compute_cache_ledger(const LedgerInputs& inputs) {
  LedgerBuilder b(inputs, LedgerMethod::cache);
  b.add_free();
  b.add("page_cache", as_signed(b.field("Cached")));
  b.add("buffers", as_signed(b.field("Buffers")));
  b.add("anon", as_signed(b.field("AnonPages")));
  // Cached excludes the swap cache; its mapped pages are in AnonPages already, the
  // unmapped ones nowhere else. Counting all of it makes unexplained a lower bound.
  b.add("swap_cache", as_signed(b.field("SwapCached")));
  b.add_hugetlb();
  b.add_kernel();
  return b.finish(b.field("SwapCached"));
}

Ledger compute_pss_ledger(const LedgerInputs& inputs, std::uint64_t pss_total_bytes) {
  LedgerBuilder b(inputs, LedgerMethod::pss);
  b.add_free();
  b.add("process_pss", as_signed(pss_total_bytes));
  b.add("page_cache_unmapped", as_signed(b.field("Cached")) - as_signed(b.field("Mapped")));
  b.add("buffers", as_signed(b.field("Buffers")));
  b.add("swap_cache", as_signed(b.field("SwapCached")));
  b.add_hugetlb();
  b.add_kernel();
  return b.finish(b.field("SwapCached"));
}

namespace {

// Optional inputs: a missing or broken file leaves nullopt and the ledger falls back.
// Their own collectors report the error; the ledger must not fail for them.
template <class Read>
auto optional_input(Read&& read) -> std::optional<std::decay_t<decltype(read())>> {
  try {
    return read();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

LedgerInputs parse_ledger_inputs(Snapshot& snapshot) {
  LedgerInputs in;
  in.page_size = snapshot.page_size();
  in.meminfo = read_meminfo(snapshot);
  in.kernel = read_kernel_release(snapshot);
  in.vmalloc = optional_input([&] { return read_vmallocinfo(snapshot); });
  if (!in.meminfo.has("Hugetlb")) {
    auto pools = optional_input([&] { return read_hugepage_pools(snapshot); });
    if (pools && !pools->empty()) in.hugetlb_sysfs_bytes = hugetlb_total_bytes(*pools);
  }
  if (auto zones = optional_input([&] { return read_zoneinfo(snapshot); })) {
    in.per_cpu_free_pages = per_cpu_free_list_pages(*zones);
    std::uint64_t free_pages = 0;
    for (const auto& zone : *zones) free_pages += zone.free_pages;
    in.zone_free_pages = free_pages;
  }
  in.vmstat = optional_input([&] { return read_vmstat(snapshot); });
  // A malformed driver file: the balloon collector reports it; the Balloon line and
  // nr_balloon_pages still count.
  if (auto balloon = optional_input([&] { return read_balloon(snapshot); })) {
    in.balloon = balloon->placement();
    in.balloon_driver_bytes = balloon->bytes_inside_memtotal();
  }
  return in;
}

}  // namespace

const LedgerInputs& read_ledger_inputs(Snapshot& snapshot) {
  return snapshot.derived<LedgerInputs>("ledger_inputs", [&] { return parse_ledger_inputs(snapshot); });
}

}  // namespace memledger
