#include <catch2/catch.hpp>

#include <numeric>
#include <string>

#include "collectors/ledger.h"
#include "ledger/ledger.h"
#include "collectors/ledger_emit.h"
#include "procfs/kernel_release.h"

using namespace memledger;

namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;

// A 6.18-like meminfo in which every kernel counter has a distinct, easy value.
std::string modern_meminfo(std::string extra = "") {
  return "MemTotal:       1048576 kB\n"
         "MemFree:         500000 kB\n"
         "Buffers:           1000 kB\n"
         "Cached:          200000 kB\n"
         "SwapCached:           0 kB\n"
         "Active:          120000 kB\n"
         "Inactive:        130000 kB\n"
         "Active(anon):     40000 kB\n"
         "Inactive(anon):   50000 kB\n"
         "Active(file):     80000 kB\n"
         "Inactive(file):   80000 kB\n"
         "Unevictable:       2000 kB\n"
         "Mlocked:           1500 kB\n"
         "Zswap:                0 kB\n"
         "Zswapped:             0 kB\n"
         "AnonPages:        52000 kB\n"
         "Mapped:           30000 kB\n"
         "Shmem:             9000 kB\n"
         "KReclaimable:     21000 kB\n"
         "Slab:             50000 kB\n"
         "SReclaimable:     20000 kB\n"
         "SUnreclaim:       30000 kB\n"
         "KernelStack:       4000 kB\n"
         "PageTables:        3000 kB\n"
         "SecPageTables:      500 kB\n"
         "Bounce:               0 kB\n"
         "VmallocTotal:   34359738367 kB\n"
         "VmallocUsed:      14000 kB\n"
         "VmallocChunk:         0 kB\n"
         "Percpu:             700 kB\n"
         "AnonHugePages:     8192 kB\n"
         "Balloon:              0 kB\n"
         "HugePages_Total:       0\n"
         "Hugepagesize:       2048 kB\n"
         "Hugetlb:              0 kB\n" +
         extra;
}

std::string with(std::string meminfo, const std::string& field, const std::string& value) {
  auto pos = meminfo.find(field + ":");
  REQUIRE(pos != std::string::npos);
  auto end = meminfo.find('\n', pos);
  meminfo.replace(pos, end - pos, field + ": " + value);
  return meminfo;
}

std::string without(std::string meminfo, const std::string& field) {
  auto pos = meminfo.find(field + ":");
  REQUIRE(pos != std::string::npos);
  meminfo.erase(pos, meminfo.find('\n', pos) - pos + 1);
  return meminfo;
}

LedgerInputs inputs_for(const std::string& meminfo) {
  LedgerInputs in;
  in.meminfo = parse_meminfo(meminfo);
  in.page_size = 4096;
  in.kernel = KernelVersion{6, 18};
  VmallocSummary vmalloc;
  vmalloc.vmalloc_bytes = 14000 * KiB;
  vmalloc.kernel_stack_bytes = 4000 * KiB;
  in.vmalloc = vmalloc;
  in.per_cpu_free_pages = 0;
  in.vmstat = parse_vmstat("nr_isolated_anon 0\nnr_isolated_file 0\nnr_zspages 0\nnr_balloon_pages 0\n");
  return in;
}

std::int64_t category(const Ledger& ledger, std::string_view name) {
  for (const auto& e : ledger.entries) {
    if (e.category == name) return e.bytes;
  }
  FAIL("no category " << name);
  return 0;
}

std::int64_t sum(const Ledger& ledger) {
  return std::accumulate(ledger.entries.begin(), ledger.entries.end(), std::int64_t{0},
                         [](std::int64_t acc, const LedgerEntry& e) { return acc + e.bytes; });
}

// Kernel part of the modern fixture with the corrections: slab 50000, kreclaimable other
// 1000, stack 4000, page tables 3000, sec 500, vmalloc 14000-4000, percpu 700.
constexpr std::int64_t kKernelKiB = 50000 + 1000 + 4000 + 3000 + 500 + 10000 + 700;

}  // namespace

TEST_CASE("every method's categories are disjoint and sum to MemTotal exactly") {
  auto in = inputs_for(modern_meminfo());
  for (const Ledger& ledger :
       {compute_lru_ledger(in), compute_cache_ledger(in), compute_pss_ledger(in, 70000 * KiB)}) {
    INFO(method_name(ledger.method));
    CHECK(sum(ledger) == static_cast<std::int64_t>(1048576 * KiB));
    CHECK(ledger.entries.back().category == "unexplained");
    CHECK(ledger.entries.back().bytes == ledger.unexplained);
    CHECK(ledger.fallbacks.empty());
  }
}

TEST_CASE("the lru method: MemFree, LRU lists, hugetlb and kernel counters") {
  auto ledger = compute_lru_ledger(inputs_for(modern_meminfo()));
  // 1048576 - 500000 free - 252000 lru - kernel
  CHECK(ledger.unexplained == (1048576 - 500000 - 252000 - kKernelKiB) * static_cast<std::int64_t>(KiB));
}

TEST_CASE("vmapped kernel stacks are counted once, not in KernelStack and VmallocUsed both") {
  auto in = inputs_for(modern_meminfo());
  auto ledger = compute_lru_ledger(in);
  CHECK(category(ledger, "kernel_stack") == 4000 * static_cast<std::int64_t>(KiB));
  CHECK(category(ledger, "vmalloc") == 10000 * static_cast<std::int64_t>(KiB));
  // Without vmallocinfo (not root) a 5.3+ kernel is assumed to vmap its stacks.
  in.vmalloc.reset();
  auto fallback = compute_lru_ledger(in);
  CHECK(category(fallback, "vmalloc") == 10000 * static_cast<std::int64_t>(KiB));
  CHECK(fallback.fallbacks == std::vector<std::string_view>{"vmallocinfo"});
}

TEST_CASE("huge pages of every size count, not only the default size") {
  // One 1 GiB page plus two default 2 MiB pages: HugePages_Total only sees the 2 MiB ones.
  auto meminfo = with(with(modern_meminfo(), "Hugetlb", "1052672 kB"), "HugePages_Total", "2");
  meminfo = with(meminfo, "MemTotal", std::to_string(1048576 + 1052672) + " kB");
  auto ledger = compute_lru_ledger(inputs_for(meminfo));
  CHECK(category(ledger, "hugetlb") == static_cast<std::int64_t>(1024 * MiB + 4 * MiB));
  CHECK(ledger.unexplained == compute_lru_ledger(inputs_for(modern_meminfo())).unexplained);

  SECTION("kernels before 4.16 have no Hugetlb line: the sysfs pools are summed") {
    auto in = inputs_for(without(meminfo, "Hugetlb"));
    in.hugetlb_sysfs_bytes = 1024 * MiB + 4 * MiB;
    CHECK(category(compute_lru_ledger(in), "hugetlb") == static_cast<std::int64_t>(1028 * MiB));
    in.hugetlb_sysfs_bytes.reset();
    auto fallback = compute_lru_ledger(in);
    CHECK(category(fallback, "hugetlb") == static_cast<std::int64_t>(4 * MiB));
    CHECK(fallback.fallbacks == std::vector<std::string_view>{"hugepages_sysfs"});
  }
}

TEST_CASE("VmallocUsed is read according to the kernel's era") {
  SECTION("4.4 to 5.2: VmallocUsed is 0, vmallocinfo's vmalloc pages are used") {
    auto in = inputs_for(with(modern_meminfo(), "VmallocUsed", "0 kB"));
    in.kernel = KernelVersion{4, 19};
    CHECK(category(compute_lru_ledger(in), "vmalloc") == 10000 * static_cast<std::int64_t>(KiB));
  }
  SECTION("up to 4.3: VmallocUsed is address space (ioremap included), never RAM") {
    auto in = inputs_for(with(modern_meminfo(), "VmallocUsed", "351900 kB"));
    in.kernel = KernelVersion{3, 10};
    CHECK(category(compute_lru_ledger(in), "vmalloc") == 10000 * static_cast<std::int64_t>(KiB));
    in.vmalloc.reset();
    auto fallback = compute_lru_ledger(in);
    CHECK(category(fallback, "vmalloc") == 0);
    CHECK(category(fallback, "kernel_stack") == 4000 * static_cast<std::int64_t>(KiB));
  }
}

TEST_CASE("pages on the per-CPU free lists are free memory that MemFree leaves out") {
  auto in = inputs_for(modern_meminfo());
  auto before = compute_lru_ledger(in).unexplained;
  in.per_cpu_free_pages = 4696;
  auto ledger = compute_lru_ledger(in);
  CHECK(category(ledger, "per_cpu_free_lists") == 4696 * 4096);
  CHECK(ledger.unexplained == before - 4696 * 4096);
}

TEST_CASE("Percpu and SecPageTables are kernel memory") {
  auto base = compute_lru_ledger(inputs_for(modern_meminfo())).unexplained;
  auto no_percpu = compute_lru_ledger(inputs_for(with(modern_meminfo(), "Percpu", "0 kB")));
  CHECK(no_percpu.unexplained - base == 700 * static_cast<std::int64_t>(KiB));
  auto no_sec = compute_lru_ledger(inputs_for(with(modern_meminfo(), "SecPageTables", "0 kB")));
  CHECK(no_sec.unexplained - base == 500 * static_cast<std::int64_t>(KiB));
}

TEST_CASE("only the non-slab part of KReclaimable is added") {
  auto ledger = compute_lru_ledger(inputs_for(modern_meminfo()));
  CHECK(category(ledger, "kernel_reclaimable_other") == 1000 * static_cast<std::int64_t>(KiB));
  CHECK(category(ledger, "slab_reclaimable") == 20000 * static_cast<std::int64_t>(KiB));
}

TEST_CASE("compressed swap: the zswap pool or zsmalloc pages, never both, never Zswapped") {
  auto meminfo = with(with(modern_meminfo(), "Zswap", "8000 kB"), "Zswapped", "30000 kB");
  auto in = inputs_for(meminfo);
  CHECK(category(compute_lru_ledger(in), "compressed_swap") == 8000 * static_cast<std::int64_t>(KiB));
  in.vmstat = parse_vmstat("nr_zspages 3000\n");  // zram's pool plus zswap's: 12000 kB
  CHECK(category(compute_lru_ledger(in), "compressed_swap") == 12000 * static_cast<std::int64_t>(KiB));
}

TEST_CASE("a balloon inside MemTotal is its own category, outside it is not subtracted") {
  auto meminfo = with(modern_meminfo(), "Balloon", "262144 kB");
  auto in = inputs_for(meminfo);
  auto base = compute_lru_ledger(inputs_for(modern_meminfo()));
  in.meminfo = parse_meminfo(with(meminfo, "MemFree", std::to_string(500000 - 262144) + " kB"));
  auto inside = compute_lru_ledger(in);
  CHECK(category(inside, "balloon") == static_cast<std::int64_t>(256 * MiB));
  CHECK(inside.unexplained == base.unexplained);

  // The seed 000 incident on a kernel without a Balloon line: vmstat still shows it.
  auto old = inputs_for(without(with(meminfo, "MemFree", std::to_string(500000 - 262144) + " kB"), "Balloon"));
  old.vmstat = parse_vmstat("nr_balloon_pages 65536\n");
  CHECK(category(compute_lru_ledger(old), "balloon") == static_cast<std::int64_t>(256 * MiB));

  in.balloon = BalloonPlacement::outside_memtotal;  // MemTotal already shrank
  in.meminfo = parse_meminfo(with(with(meminfo, "MemTotal", std::to_string(1048576 - 262144) + " kB"),
                                  "MemFree", std::to_string(500000 - 262144) + " kB"));
  auto outside = compute_lru_ledger(in);
  CHECK(category(outside, "balloon") == 0);
  CHECK(outside.unexplained == base.unexplained);
}

TEST_CASE("subsets of other counters are never added") {
  auto base = compute_lru_ledger(inputs_for(modern_meminfo()));
  auto meminfo = with(with(with(modern_meminfo(), "Shmem", "99999 kB"), "AnonHugePages", "40000 kB"),
                      "Mlocked", "2000 kB");
  CHECK(compute_lru_ledger(inputs_for(meminfo)).unexplained == base.unexplained);
  CHECK(compute_cache_ledger(inputs_for(meminfo)).unexplained ==
        compute_cache_ledger(inputs_for(modern_meminfo())).unexplained);
}

TEST_CASE("the cache method reports its SwapCached uncertainty") {
  auto in = inputs_for(with(modern_meminfo(), "SwapCached", "6000 kB"));
  auto ledger = compute_cache_ledger(in);
  CHECK(ledger.uncertainty == 6000 * KiB);
  CHECK(category(ledger, "swap_cache") == 6000 * static_cast<std::int64_t>(KiB));
  CHECK(compute_lru_ledger(in).uncertainty == 0);
}

TEST_CASE("isolated pages are user pages, not unexplained") {
  auto in = inputs_for(modern_meminfo());
  auto before = compute_lru_ledger(in).unexplained;
  in.vmstat = parse_vmstat("nr_isolated_anon 100\nnr_isolated_file 28\n");
  auto ledger = compute_lru_ledger(in);
  CHECK(category(ledger, "lru_isolated") == 128 * 4096);
  CHECK(ledger.unexplained == before - 128 * 4096);
}

TEST_CASE("unexplained is signed and never clamped") {
  auto in = inputs_for(with(modern_meminfo(), "MemFree", "800000 kB"));
  auto ledger = compute_lru_ledger(in);
  CHECK(ledger.unexplained < 0);
  CHECK(sum(ledger) == static_cast<std::int64_t>(1048576 * KiB));
}

TEST_CASE("the pss method: process PSS plus unmapped page cache") {
  auto ledger = compute_pss_ledger(inputs_for(modern_meminfo()), 70000 * KiB);
  CHECK(category(ledger, "process_pss") == 70000 * static_cast<std::int64_t>(KiB));
  CHECK(category(ledger, "page_cache_unmapped") == (200000 - 30000) * static_cast<std::int64_t>(KiB));
}

TEST_CASE("parse_kernel_release") {
  CHECK(parse_kernel_release("6.18.44-fc-v669\n")->at_least(6, 18));
  CHECK_FALSE(parse_kernel_release("5.2.0")->at_least(5, 3));
  CHECK(parse_kernel_release("3.10.0-514.el7.x86_64")->minor == 10);
  CHECK_FALSE(parse_kernel_release("garbage").has_value());
}

TEST_CASE("ledger over fixture trees reads each file once and balances") {
  for (std::string tree : {"linux-6.18-firecracker", "seed001-linux-3.10"}) {
    INFO(tree);
    std::string root = std::string(MEMLEDGER_FIXTURES) + "/ledger/" + tree;
    Snapshot snapshot(SourceRoots{root + "/proc", root + "/sys"});
    LedgerInputs in = read_ledger_inputs(snapshot);
    std::size_t files = snapshot.files_read();
    // The ledger and the pss ledger ask for the same inputs: parsed once per scrape.
    CHECK(&read_ledger_inputs(snapshot) == &read_ledger_inputs(snapshot));
    CHECK(snapshot.files_read() == files);
    for (const Ledger& ledger : {compute_lru_ledger(in), compute_cache_ledger(in)}) {
      CHECK(sum(ledger) == static_cast<std::int64_t>(*in.meminfo.bytes("MemTotal")));
    }
  }
}

TEST_CASE("the captured 6.18 host: corrections move X from the naive figure") {
  std::string root = std::string(MEMLEDGER_FIXTURES) + "/ledger/linux-6.18-firecracker";
  Snapshot snapshot(SourceRoots{root + "/proc", root + "/sys"});
  LedgerInputs in = read_ledger_inputs(snapshot);
  REQUIRE(in.vmalloc);
  REQUIRE(in.per_cpu_free_pages);
  CHECK(in.balloon == BalloonPlacement::inside_memtotal);  // deflate-on-OOM negotiated
  auto ledger = compute_lru_ledger(in);
  CHECK(ledger.fallbacks.empty());
  const auto& m = in.meminfo;
  std::int64_t naive = static_cast<std::int64_t>(m.bytes_or_zero("MemTotal")) -
                       static_cast<std::int64_t>(
                           m.bytes_or_zero("MemFree") + m.bytes_or_zero("Active") +
                           m.bytes_or_zero("Inactive") + m.bytes_or_zero("Unevictable") +
                           m.bytes_or_zero("Slab") + m.bytes_or_zero("VmallocUsed") +
                           m.bytes_or_zero("PageTables") + m.bytes_or_zero("KernelStack"));
  // Stacks counted twice make the naive X too small; per-CPU lists make it too large.
  // Stacks the kernel keeps cached for reuse are in vmallocinfo but not in KernelStack.
  const auto stacks_in_both = std::min(in.vmalloc->kernel_stack_bytes, m.bytes_or_zero("KernelStack"));
  CHECK(ledger.unexplained ==
        naive + static_cast<std::int64_t>(stacks_in_both) -
            static_cast<std::int64_t>(*in.per_cpu_free_pages * in.page_size) -
            static_cast<std::int64_t>(m.bytes_or_zero("Percpu")));
  CHECK(std::abs(ledger.unexplained) < static_cast<std::int64_t>(64 * MiB));
}
