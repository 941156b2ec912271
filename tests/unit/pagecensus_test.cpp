#include <catch2/catch.hpp>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "collectors/pagecensus.h"
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
  census.add(flags.data(), flags.size());
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

TEST_CASE("the census runs in the background and the scrape serves its last result") {
  std::vector<std::uint64_t> flags;
  for (int i = 0; i < 100; ++i) flags.push_back(bit(kpf::kBuddy));
  for (int i = 0; i < 50; ++i) flags.push_back(bit(kpf::kLru) | bit(kpf::kActive));
  for (int i = 0; i < 30; ++i) flags.push_back(bit(kpf::kOffline));
  for (int i = 0; i < 7; ++i) flags.push_back(bit(kpf::kReserved));
  for (int i = 0; i < 5; ++i) flags.push_back(bit(kpf::kNopage));
  for (int i = 0; i < 200; ++i) flags.push_back(0);
  FakeProc proc(flags);
  Config config;
  config.pagecensus.interval_seconds = 3600;
  auto collector = make_pagecensus_collector(config);
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
  // were seen flagged, and this meminfo has no PageTables line).
  const double accounted = page + 12 * 1024;
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
  Config config;
  auto collector = make_pagecensus_collector(config);
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
