#include <catch2/catch.hpp>

#include <string>

#include "collectors/registry.h"
#include "collectors/allocinfo.h"
#include "procfs/allocinfo.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

SourceRoots roots_of(const std::string& tree) {
  std::string base = std::string(MEMLEDGER_FIXTURES) + "/allocinfo/" + tree;
  return SourceRoots{base + "/proc", base + "/sys"};
}

}  // namespace

TEST_CASE("parse_allocinfo reads counters, site, module and function") {
  auto sites = parse_allocinfo(
      "allocinfo - version: 1.0\n"
      "#     <size>  <calls> <tag info>\n"
      "         512        1 arch/x86/events/rapl.c:681 func:init_rapl_pmus \n"
      "          32        1 fs/xfs/xfs_mount.c:87 [xfs] func:xfs_uuid_mount \n");
  REQUIRE(sites.size() == 2);
  CHECK(sites[0].bytes == 512);
  CHECK(sites[0].allocations == 1);
  CHECK(sites[0].site == "arch/x86/events/rapl.c:681");
  CHECK(sites[0].module.empty());
  CHECK(sites[0].function == "init_rapl_pmus");
  CHECK(sites[1].module == "xfs");
  CHECK(sites[0].accurate);
}

TEST_CASE("parse_allocinfo understands the 2.0 markers of incomplete counters") {
  auto sites = parse_allocinfo(
      "allocinfo - version: 2.0\n"
      "#     <size>  <calls> <tag info>\n"
      "        4096        1 mm/slub.c:10 func:a accurate:no \n"
      "       8192*       2* mm/slub.c:20 func:b \n"
      "         -64        0 mm/percpu.c:5 func:c \n");
  REQUIRE(sites.size() == 3);
  CHECK_FALSE(sites[0].accurate);
  CHECK_FALSE(sites[1].accurate);
  CHECK(sites[1].bytes == 8192);
  CHECK(sites[2].bytes == -64);
  CHECK_THROWS_AS(parse_allocinfo("allocinfo - version: 3.0\n"), ParseError);
  CHECK_THROWS_AS(parse_allocinfo("allocinfo - version: 1.0\n  12 x mm/a.c:1 func:f\n"), ParseError);
  CHECK_THROWS_AS(parse_allocinfo("allocinfo - version: 1.0\n  12 1 func:f\n"), ParseError);
}

TEST_CASE("top_alloc_sites keeps the largest by name and sums the rest as other") {
  std::vector<AllocSite> sites(4);
  sites[0] = {"a.c:1", "", "f", 100, 1, true};
  sites[1] = {"b.c:1", "", "g", 300, 3, true};
  sites[2] = {"c.c:1", "", "h", 200, 2, true};
  sites[3] = {"b.c:1", "", "g", 5, 1, true};  // the same site twice: merged
  auto top = top_alloc_sites(sites, 2);
  REQUIRE(top.size() == 3);
  CHECK(top[0].site == "b.c:1");
  CHECK(top[0].bytes == 305);
  CHECK(top[1].site == "c.c:1");
  CHECK(top[2].site == "other");
  CHECK(top[2].bytes == 100);
  CHECK(top[2].allocations == 1);
}

TEST_CASE("the allocinfo collector names the pipe buffers of a host that has them") {
  Snapshot snapshot(roots_of("linux-6.12-handmade"));
  MetricSink sink;
  testing::make_collector(kAllocinfoCollector, "top_sites: 3")->collect(snapshot, sink);
  CHECK(gauge_value(sink, "memledger_allocinfo_bytes",
                    {{"site", "fs/pipe.c:825"}, {"module", ""}, {"function", "alloc_pipe_info"}}) ==
        256.0 * 1024 * 1024);
  CHECK(gauge_value(sink, "memledger_allocinfo_allocations",
                    {{"site", "fs/pipe.c:825"}, {"module", ""}, {"function", "alloc_pipe_info"}}) == 65536);
  CHECK(sample_count(sink, "memledger_allocinfo_bytes") == 4);
  CHECK(gauge_value(sink, "memledger_allocinfo_bytes", {{"site", "other"}, {"module", ""}, {"function", ""}}) ==
        16777216 + 8388608 + 4194304 + 512 + 128 + 32 + 80);
}

TEST_CASE("a kernel without /proc/allocinfo: nothing reported, no failure") {
  Snapshot snapshot(roots_of("absent"));
  MetricSink sink;
  kAllocinfoCollector.make_from(Config{})->collect(snapshot, sink);
  CHECK(sink.families().empty());
}
