#include <catch2/catch.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "collectors/allocinfo.h"
#include "collectors/cgroup.h"
#include "collectors/shmem.h"
#include "collectors/pagecensus.h"
#include "procfs/kpageflags.h"
#include "ledger/accounted_untyped.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::find_sample;
using memledger::testing::gauge_value;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t bit(int b) { return std::uint64_t{1} << b; }

// A procfs root holding a kpageflags file written from a list of flag words, and the
// meminfo and zoneinfo the census reads after its scan.
class FakeProc {
 public:
  explicit FakeProc(const std::vector<std::uint64_t>& flags) {
    char pattern[] = "/tmp/memledger-census-XXXXXX";
    root_ = ::mkdtemp(pattern);
    fs::create_directories(root_ / "proc");
    std::ofstream(root_ / "proc/kpageflags", std::ios::binary)
        .write(reinterpret_cast<const char*>(flags.data()), static_cast<std::streamsize>(flags.size() * 8));
    std::ofstream(root_ / "proc/meminfo") << "MemTotal: 1000 kB\nVmallocUsed: 8 kB\nPercpu: 4 kB\n";
    // Every frame of the file is RAM (4 KiB pages; the test scales with the real size).
    const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    char range[64];
    std::snprintf(range, sizeof range, "%08llx-%08llx : System RAM\n", 0ull,
                  static_cast<unsigned long long>(flags.size() * page - 1));
    std::ofstream(root_ / "proc/iomem") << "00000000-00000000 : Reserved\n" << (flags.empty() ? "" : range);
    std::ofstream(root_ / "proc/zoneinfo") << "Node 0, zone   Normal\n"
                                              "  pages free     10\n"
                                              "        spanned  100\n"
                                              "        present  100\n"
                                              "        managed  90\n"
                                              "  pagesets\n"
                                              "    cpu: 0\n"
                                              "              count: 1\n";
  }
  ~FakeProc() { fs::remove_all(root_); }
  SourceRoots roots() const { return {root_ / "proc", root_ / "sys"}; }

 private:
  fs::path root_;
};

}  // namespace

TEST_CASE("classify_page puts every page in exactly one class, first match wins") {
  CHECK(classify_page(bit(kpf::kNopage)) == PageClass::no_page);
  CHECK(classify_page(bit(kpf::kReserved) | bit(kpf::kLru)) == PageClass::reserved);
  CHECK(classify_page(bit(kpf::kOffline)) == PageClass::offline);
  CHECK(classify_page(bit(kpf::kHwpoison) | bit(kpf::kBuddy)) == PageClass::hwpoison);
  CHECK(classify_page(bit(kpf::kBuddy)) == PageClass::free);
  CHECK(classify_page(bit(kpf::kSlab)) == PageClass::typed);
  CHECK(classify_page(bit(kpf::kCompoundTail)) == PageClass::typed);
  CHECK(classify_page(bit(kpf::kPgtable)) == PageClass::typed);
  CHECK(classify_page(bit(kpf::kOwnerPrivate)) == PageClass::typed);
  CHECK(classify_page(0) == PageClass::untyped);
  // Idle tracking and per-arch bits name no use.
  CHECK(classify_page(bit(kpf::kIdle) | bit(kpf::kArch) | bit(kpf::kSoftdirty)) == PageClass::untyped);
}

TEST_CASE("the black hole is the untyped pages minus the ones the counters account for") {
  PageCensus census;
  std::vector<std::uint64_t> flags(1000, 0);
  flags[0] = bit(kpf::kPgtable);
  census.add(flags.data(), flags.size(), 0, {});
  CHECK(census.count(PageClass::untyped) == 999);
  CHECK(census.page_table_pages == 1);
  AccountedUntyped accounted;
  accounted.per_cpu_free_lists = 100 * 4096;
  accounted.vmalloc = 200 * 4096;
  accounted.percpu = 10 * 4096;
  CHECK(black_hole_estimate(census, 4096, accounted) == (999 - 310) * 4096);
  accounted.vmalloc = 2000 * 4096;
  CHECK(black_hole_estimate(census, 4096, accounted) < 0);  // signed, not clamped
}

TEST_CASE("parse_iomem_system_ram keeps the top-level System RAM ranges, in page frames") {
  auto ram = parse_iomem_system_ram(
      "00000000-00000fff : Reserved\n"
      "00001000-0009fbff : System RAM\n"
      "00100000-bfffffff : System RAM\n"
      "  01000000-0220ffff : Kernel code\n"
      "c0001000-eebfffff : PCI Bus 0000:00\n"
      "100000000-63fffffff : System RAM\n",
      4096);
  REQUIRE(ram.size() == 3);
  CHECK(ram[0].first == 1);
  CHECK(ram[0].end == 0x9f);  // the partial last page is not RAM the kernel can use
  CHECK(ram[1].first == 0x100);
  CHECK(ram[1].end == 0xc0000);
  CHECK(ram[2].end == 0x640000);
  // Without CAP_SYS_ADMIN every address reads as zero: no ranges, count everything.
  CHECK(parse_iomem_system_ram("00000000-00000000 : System RAM\n00000000-00000000 : Reserved\n", 4096).empty());
  CHECK_THROWS_AS(parse_iomem_system_ram("zz-10 : System RAM\n", 4096), ParseError);
}

TEST_CASE("frames outside the RAM ranges count as no_page, whatever their flags") {
  std::vector<std::uint64_t> flags(16, 0);  // the memmap of a hole reads as flagless
  PageCensus census;
  census.add(flags.data(), 8, 100, {{102, 104}, {106, 200}});
  census.add(flags.data() + 8, 8, 108, {{102, 104}, {106, 200}});
  CHECK(census.count(PageClass::untyped) == 2 + 10);
  CHECK(census.count(PageClass::no_page) == 4);
}

TEST_CASE("the census runs in the background and the scrape serves its last result") {
  std::vector<std::uint64_t> flags;
  for (int i = 0; i < 100; ++i) flags.push_back(bit(kpf::kBuddy));
  for (int i = 0; i < 50; ++i) flags.push_back(bit(kpf::kLru) | bit(kpf::kActive));
  for (int i = 0; i < 30; ++i) flags.push_back(bit(kpf::kOffline));
  for (int i = 0; i < 7; ++i) flags.push_back(bit(kpf::kReserved));
  for (int i = 0; i < 5; ++i) flags.push_back(bit(kpf::kNopage));
  for (int i = 0; i < 200; ++i) flags.push_back(0);
  FakeProc proc(flags);
  auto collector = testing::make_collector(kPagecensusCollector, "interval_seconds: 3600");
  Snapshot snapshot(proc.roots());

  MetricSink sink;
  for (int attempt = 0; attempt < 200; ++attempt) {
    sink = MetricSink();
    collector->collect(snapshot, sink);
    if (find_sample(sink, "memledger_pagecensus_pages", {{"class", "untyped"}})) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  CHECK(gauge_value(sink, "memledger_pagecensus_pages", {{"class", "free"}}) == 100);
  CHECK(gauge_value(sink, "memledger_pagecensus_pages", {{"class", "typed"}}) == 50);
  CHECK(gauge_value(sink, "memledger_pagecensus_pages", {{"class", "offline"}}) == 30);
  CHECK(gauge_value(sink, "memledger_pagecensus_pages", {{"class", "reserved"}}) == 7);
  CHECK(gauge_value(sink, "memledger_pagecensus_pages", {{"class", "no_page"}}) == 5);
  CHECK(gauge_value(sink, "memledger_pagecensus_pages", {{"class", "untyped"}}) == 200);
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  // Accounted: 1 page on a per-CPU list, VmallocUsed 8 kB, Percpu 4 kB (no page tables
  // were seen flagged, and this meminfo has no PageTables line), and the RAM that is
  // neither in MemTotal (1000 kB) nor flagged reserved (7 pages): 392 pages of RAM.
  const double unflagged = 392 * page - 1000 * 1024 - 7 * page;
  const double accounted = page + 12 * 1024 + unflagged;
  CHECK(gauge_value(sink, "memledger_pagecensus_accounted_untyped_bytes", {}) == accounted);
  CHECK(gauge_value(sink, "memledger_pagecensus_black_hole_bytes", {}) == 200 * page - accounted);
  CHECK(find_sample(sink, "memledger_pagecensus_runs_total", {{"outcome", "complete"}})->counter.value == 1);
  CHECK(gauge_value(sink, "memledger_pagecensus_age_seconds", {}) >= 0);
  // The destructor stops the thread while it waits out its hour-long interval.
  auto start = std::chrono::steady_clock::now();
  collector.reset();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("a census that cannot read kpageflags fails the collector, naming the file") {
  FakeProc proc({});
  fs::remove(fs::path(proc.roots().procfs) / "kpageflags");
  auto collector = kPagecensusCollector.make_from(Config{});
  Snapshot snapshot(proc.roots());
  MetricSink sink;
  bool failed = false;
  for (int attempt = 0; attempt < 200 && !failed; ++attempt) {
    try {
      collector->collect(snapshot, sink);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    } catch (const CollectError& e) {
      failed = true;
      CHECK(e.file() == (fs::path(proc.roots().procfs) / "kpageflags").string());
    }
  }
  CHECK(failed);
}

TEST_CASE("the attribution collectors' configuration keys") {
  auto config = parse_exporter_config(
      "collectors:\n"
      "  pagecensus: {enabled: true, interval_seconds: 60, budget_seconds: 5}\n"
      "  shmem: {scan_open_files: false, open_files_refresh_seconds: 0}\n"
      "  cgroup: {top_cgroups: 3}\n"
      "  allocinfo: {top_sites: 7}\n"
      "  balloon: {enabled: false}\n"
      "  buddyinfo: {enabled: true}\n",
      "test");
  CHECK(config.collector_enabled.at("pagecensus"));
  CHECK_FALSE(config.collector_enabled.at("balloon"));
  CHECK(config.options(kPagecensusCollector.schema).seconds("interval_seconds") == 60);
  CHECK(config.options(kPagecensusCollector.schema).seconds("budget_seconds") == 5);
  CHECK_FALSE(shmem_config(config.options(kShmemCollector.schema)).scan_open_files);
  CHECK(shmem_config(config.options(kShmemCollector.schema)).open_files_refresh_seconds == 0);
  CHECK(config.options(kCgroupCollector.schema).count("top_cgroups") == 3);
  CHECK(config.options(kAllocinfoCollector.schema).count("top_sites") == 7);
  CHECK_THROWS_AS(parse_exporter_config("collectors:\n  pagecensus: {interval_seconds: 0.5}\n", "test"), ConfigError);
  CHECK_THROWS_AS(parse_exporter_config("collectors:\n  shmem: {scan_open_files: sometimes}\n", "test"), ConfigError);
  CHECK_THROWS_AS(parse_exporter_config("collectors:\n  buddyinfo: {top: 3}\n", "test"), ConfigError);
  // The declared defaults: the census is off, everything else on.
  CHECK_FALSE(kPagecensusCollector.enabled_by_default());
  CHECK(kShmemCollector.enabled_by_default());
  CHECK(default_config().options(kPagecensusCollector.schema).seconds("interval_seconds") == 900);
}
