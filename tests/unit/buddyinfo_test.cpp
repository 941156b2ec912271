#include <catch2/catch.hpp>

#include <string>

#include "collectors/buddyinfo.h"
#include "procfs/buddyinfo.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

SourceRoots roots_of(const std::string& tree) {
  std::string base = std::string(MEMLEDGER_FIXTURES) + "/buddyinfo/" + tree;
  return SourceRoots{base + "/proc", base + "/sys", 4096};
}

}  // namespace

TEST_CASE("parse_buddyinfo reads every zone and however many orders the kernel prints") {
  auto zones = parse_buddyinfo(
      "Node 0, zone      DMA      1      2      0 \n"
      "Node 1, zone   Normal      4      0      0      1      0      0      0      0      0      0      0      0      0      2\n");
  REQUIRE(zones.size() == 2);
  CHECK(zones[0].node == 0);
  CHECK(zones[0].zone == "DMA");
  CHECK(zones[0].free_blocks == std::vector<std::uint64_t>{1, 2, 0});
  CHECK(zones[0].free_pages() == 5);
  CHECK(zones[1].node == 1);
  CHECK(zones[1].free_blocks.size() == 14);  // a larger MAX_ORDER
  CHECK(zones[1].largest_free_order() == 13);
  CHECK(zones[1].free_pages() == 4 + 8 + 2 * 8192);
  CHECK_THROWS_AS(parse_buddyinfo("Node 0 zone DMA 1 2\n"), ParseError);
  CHECK_THROWS_AS(parse_buddyinfo("Node 0, zone DMA\n"), ParseError);
  CHECK_THROWS_AS(parse_buddyinfo("Node 0, zone DMA 1 x\n"), ParseError);
  // The last line may lack its newline (hand-edited fixture trees).
  CHECK(parse_buddyinfo("Node 0, zone DMA 1 2").at(0).free_pages() == 1 + 2 * 2);
  CHECK_THROWS_AS(parse_buddyinfo(""), ParseError);
}

TEST_CASE("the unusable free space index says how much free memory an order cannot use") {
  BuddyZone zone;
  zone.free_blocks = {4, 2, 1};  // 4 + 4 + 4 = 12 free pages
  CHECK(zone.unusable_free_ratio(0) == 0);
  CHECK(zone.unusable_free_ratio(1) == Approx(4.0 / 12));
  CHECK(zone.unusable_free_ratio(2) == Approx(8.0 / 12));
  CHECK(zone.unusable_free_ratio(3) == 1);
  BuddyZone empty;
  empty.free_blocks = {0, 0};
  CHECK(empty.unusable_free_ratio(1) == 0);
  CHECK(empty.largest_free_order() == -1);
}

TEST_CASE("seed 003 case 2: lots of free memory, none of it in large blocks") {
  Snapshot snapshot(roots_of("seed003-fragmented-linux-3.10"));
  MetricSink sink;
  kBuddyinfoCollector.make_from(Config{})->collect(snapshot, sink);
  const LabelPair normal[] = {{"node", "0"}, {"zone", "Normal"}};
  CHECK(gauge_value(sink, "memledger_buddyinfo_largest_free_order", {normal[0], normal[1]}) == 7);
  // 52348 + 2*31027 + 4*12004 + 8*3016 pages sit in blocks under 16 pages.
  const double small = 52348 + 2 * 31027 + 4 * 12004 + 8 * 3016;
  const double total = small + 16 * 44 + 32 + 64 + 128 * 2;
  CHECK(gauge_value(sink, "memledger_buddyinfo_unusable_free_ratio",
                    {normal[0], normal[1], {"order", "4"}}) == Approx(small / total));
  CHECK(gauge_value(sink, "memledger_buddyinfo_unusable_free_ratio",
                    {normal[0], normal[1], {"order", "9"}}) == 1);
  CHECK(gauge_value(sink, "memledger_buddyinfo_free_bytes", {normal[0], normal[1]}) == total * 4096);
}

TEST_CASE("this VM's buddyinfo: one series per zone and order") {
  Snapshot snapshot(roots_of("linux-6.18-firecracker"));
  MetricSink sink;
  kBuddyinfoCollector.make_from(Config{})->collect(snapshot, sink);
  CHECK(sample_count(sink, "memledger_buddyinfo_free_blocks") == 3 * 11);
  CHECK(sample_count(sink, "memledger_buddyinfo_unusable_free_ratio") == 3 * 10);
  CHECK(gauge_value(sink, "memledger_buddyinfo_free_blocks",
                    {{"node", "0"}, {"zone", "Normal"}, {"order", "10"}}) == 737);
}
