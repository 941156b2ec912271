#include <catch2/catch.hpp>
#include <unistd.h>

#include <string>

#include "collectors/zoneinfo.h"
#include "procfs/zoneinfo.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::find_sample;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

const std::string kFixtures = std::string(MEMLEDGER_FIXTURES) + "/zoneinfo/";

std::vector<Zone> parse_fixture(const std::string& kernel) {
  std::string text;
  REQUIRE(read_whole_file(kFixtures + kernel + "/zoneinfo", text) == 0);
  return parse_zoneinfo(text);
}

std::size_t parse_error_line(std::string_view text) {
  try {
    parse_zoneinfo(text);
  } catch (const ParseError& e) {
    return e.line();
  }
  FAIL("no ParseError");
  return 0;
}

constexpr std::string_view kSmallZone =
    "Node 0, zone      DMA\n"
    "  pages free     3840\n"
    "        min      48\n"
    "        spanned  4095\n"
    "        present  3998\n"
    "        managed  3840\n"
    "        protection: (0, 3019, 5195, 5195, 5195)\n"
    "      nr_free_pages 3840\n"
    "  pagesets\n"
    "    cpu: 0\n"
    "              count:    7\n"
    "              high:     0\n"
    "    cpu: 1\n"
    "              count:    5\n"
    "  vm stats threshold: 4\n"
    "  start_pfn:           1\n";

}  // namespace

TEST_CASE("parse_zoneinfo reads the page counts and sums the per-CPU lists of a zone") {
  auto zones = parse_zoneinfo(kSmallZone);
  REQUIRE(zones.size() == 1);
  CHECK(zones[0].node == 0);
  CHECK(zones[0].name == "DMA");
  CHECK(zones[0].free_pages == 3840);
  CHECK(zones[0].spanned_pages == 4095);
  CHECK(zones[0].present_pages == 3998);
  CHECK(zones[0].managed_pages == 3840);
  CHECK(zones[0].has_managed);
  CHECK(zones[0].pcp_pages == 12);
  CHECK(per_cpu_free_list_pages(zones) == 12);
}

TEST_CASE("parse_zoneinfo reads this machine's 6.18 zoneinfo") {
  auto zones = parse_fixture("linux-6.18-firecracker");
  REQUIRE(zones.size() == 5);
  const char* names[] = {"DMA", "DMA32", "Normal", "Movable", "Device"};
  for (std::size_t i = 0; i < zones.size(); ++i) {
    CHECK(zones[i].node == 0);
    CHECK(zones[i].name == names[i]);
    CHECK(zones[i].has_managed);
  }
  CHECK(zones[1].free_pages == 772915);
  CHECK(zones[1].spanned_pages == 1044480);
  CHECK(zones[1].present_pages == 782336);
  CHECK(zones[2].free_pages == 344887);
  CHECK(zones[2].managed_pages == 557056);
  CHECK(zones[2].present_pages == 5505024);
  CHECK(zones[2].pcp_pages == 26897 + 27753);
  CHECK(zones[3].spanned_pages == 0);
  CHECK(per_cpu_free_list_pages(zones) == 54650);
}

TEST_CASE("parse_zoneinfo reads two NUMA nodes with per-node stats (4.11)") {
  auto zones = parse_fixture("linux-4.11-two-nodes");
  REQUIRE(zones.size() == 2);
  CHECK(zones[0].node == 0);
  CHECK(zones[0].name == "DMA");
  CHECK(zones[0].free_pages == 53520);
  CHECK(zones[0].managed_pages == 65218);
  CHECK(zones[0].pcp_pages == 2);
  CHECK(zones[1].node == 1);
  CHECK(zones[1].name == "Movable");
  CHECK(zones[1].free_pages == 65536);
  CHECK(zones[1].managed_pages == 65536);
  CHECK(zones[1].pcp_pages == 0);
}

TEST_CASE("parse_zoneinfo reads 3.10 and 3.6, which has no managed line") {
  auto rhel7 = parse_fixture("linux-3.10");
  REQUIRE(rhel7.size() == 2);
  CHECK(rhel7[1].managed_pages == 466896);
  CHECK(rhel7[1].pcp_pages == 111);

  auto zones = parse_fixture("linux-3.6");
  REQUIRE(zones.size() == 3);
  for (const auto& zone : zones) CHECK_FALSE(zone.has_managed);
  CHECK(zones[2].name == "Normal");
  CHECK(zones[2].free_pages == 1343098);
  CHECK(zones[2].present_pages == 3483648);
  CHECK(zones[2].spanned_pages == 3538944);
  // Twelve CPUs: 156+177+159+161+146+98+59+54+40+32+46+57.
  CHECK(zones[2].pcp_pages == 1185);
  CHECK(per_cpu_free_list_pages(zones) == 1229);
}

TEST_CASE("parse_zoneinfo counts both the hot and the cold per-CPU list of 2.6.21") {
  auto zones = parse_fixture("linux-2.6.21");
  REQUIRE(zones.size() == 2);
  CHECK(zones[1].name == "DMA32");
  CHECK(zones[1].free_pages == 4968);
  CHECK(zones[1].present_pages == 512796);
  CHECK(zones[1].pcp_pages == 129 + 15);
  CHECK_FALSE(zones[1].has_managed);
}

TEST_CASE("parse_zoneinfo rejects bad input with the line number") {
  std::string small(kSmallZone);
  CHECK(parse_error_line("") == 0);
  CHECK(parse_error_line("\n") == 0);
  // Without its final newline the file reads the same (hand-edited fixture trees).
  CHECK(parse_zoneinfo(small.substr(0, small.size() - 1)).size() == parse_zoneinfo(small).size());
  CHECK(parse_error_line(std::string_view("\x7f" "ELF\x02\x01\x01\0\n", 9)) == 1);
  CHECK(parse_error_line("  pages free 3\n") == 1);
  CHECK(parse_error_line("Node x, zone DMA\n") == 1);
  CHECK(parse_error_line("Node 0 zone DMA\n") == 1);
  CHECK(parse_error_line("Node 0, Region 0, zone DMA\n") == 1);
  CHECK(parse_error_line(small + "garbage here\n") == 17);
  CHECK(parse_error_line("Node 0, zone DMA\n  pages free     x\n") == 2);
  CHECK(parse_error_line("Node 0, zone DMA\n  pages used 3\n") == 2);
  CHECK(parse_error_line("Node 0, zone DMA\n        spanned  4095 pages\n") == 2);
  CHECK(parse_error_line(small + "              count:    -1\n") == 17);
  // Cut off at a line boundary before the zone's size lines: reported at the zone header.
  CHECK(parse_error_line(small + "Node 0, zone    DMA32\n  pages free     772915\n") == 17);
  CHECK(parse_error_line("Node 0, zone DMA\n  pages free 1\n        present  3998\n") == 1);
}

TEST_CASE("the zoneinfo collector exports zones and the per-CPU free list total in bytes") {
  Snapshot snapshot(SourceRoots{kFixtures + "linux-6.18-firecracker", "/nonexistent"});
  MetricSink sink;
  kZoneinfoCollector.make_from(Config{})->collect(snapshot, sink);
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));

  CHECK(gauge_value(sink, "memledger_per_cpu_free_list_bytes", {}) == 54650 * page);
  CHECK(gauge_value(sink, "memledger_zone_bytes",
                    {{"node", "0"}, {"zone", "Normal"}, {"state", "per_cpu_free"}}) == 54650 * page);
  CHECK(gauge_value(sink, "memledger_zone_bytes",
                    {{"node", "0"}, {"zone", "Normal"}, {"state", "managed"}}) == 557056 * page);
  CHECK(gauge_value(sink, "memledger_zone_bytes",
                    {{"node", "0"}, {"zone", "DMA32"}, {"state", "free"}}) == 772915 * page);
  CHECK(gauge_value(sink, "memledger_zone_bytes",
                    {{"node", "0"}, {"zone", "DMA"}, {"state", "spanned"}}) == 4095 * page);
  CHECK(gauge_value(sink, "memledger_zone_bytes",
                    {{"node", "0"}, {"zone", "DMA"}, {"state", "present"}}) == 3998 * page);
  CHECK(sample_count(sink, "memledger_zone_bytes") == 5 * 5);
}

TEST_CASE("the zoneinfo collector leaves out managed where the kernel lacks it") {
  Snapshot snapshot(SourceRoots{kFixtures + "linux-3.6", "/nonexistent"});
  MetricSink sink;
  kZoneinfoCollector.make_from(Config{})->collect(snapshot, sink);
  CHECK_FALSE(find_sample(sink, "memledger_zone_bytes",
                          {{"node", "0"}, {"zone", "Normal"}, {"state", "managed"}}));
  CHECK(sample_count(sink, "memledger_zone_bytes") == 3 * 4);
}

TEST_CASE("the zoneinfo collector names the file when it is unreadable") {
  Snapshot snapshot(SourceRoots{kFixtures + "no-such-kernel", "/nonexistent"});
  MetricSink sink;
  try {
    kZoneinfoCollector.make_from(Config{})->collect(snapshot, sink);
    FAIL("no CollectError");
  } catch (const CollectError& e) {
    CHECK(e.file() == kFixtures + "no-such-kernel/zoneinfo");
  }
}
