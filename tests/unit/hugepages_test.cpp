#include <catch2/catch.hpp>

#include <string>

#include "collectors/hugepages.h"
#include "procfs/hugepages.h"
#include "procfs/sysfs_value.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::find_sample;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

const std::string kFixtures = std::string(MEMLEDGER_FIXTURES) + "/hugepages/";

SourceRoots sysfs_at(const std::string& tree) {
  return SourceRoots{kFixtures + tree + "/proc", kFixtures + tree + "/sys"};
}

}  // namespace

TEST_CASE("hugepage_size_from_dir_name reads the kB size out of a pool directory name") {
  CHECK(hugepage_size_from_dir_name("hugepages-2048kB") == 2u << 20);
  CHECK(hugepage_size_from_dir_name("hugepages-1048576kB") == 1u << 30);
  CHECK(hugepage_size_from_dir_name("hugepages-64kB") == 64u << 10);
  CHECK(hugepage_size_from_dir_name("hugepages-16777216kB") == 16ull << 30);
  CHECK_FALSE(hugepage_size_from_dir_name("hugepages-kB"));
  CHECK_FALSE(hugepage_size_from_dir_name("hugepages-0kB"));
  CHECK_FALSE(hugepage_size_from_dir_name("hugepages-2048"));
  CHECK_FALSE(hugepage_size_from_dir_name("hugepages-2048MB"));
  CHECK_FALSE(hugepage_size_from_dir_name("hugepages--2048kB"));
  CHECK_FALSE(hugepage_size_from_dir_name("hugepages-20x8kB"));
  CHECK_FALSE(hugepage_size_from_dir_name("nr_hugepages"));
  CHECK_FALSE(hugepage_size_from_dir_name("hugepages-99999999999999999999kB"));
}

TEST_CASE("hugepage_size_label picks the largest binary unit that divides the size") {
  CHECK(hugepage_size_label(2u << 20) == "2MiB");
  CHECK(hugepage_size_label(1u << 30) == "1GiB");
  CHECK(hugepage_size_label(16ull << 30) == "16GiB");
  CHECK(hugepage_size_label(32u << 20) == "32MiB");
  CHECK(hugepage_size_label(64u << 10) == "64KiB");
  CHECK(hugepage_size_label(1536u << 10) == "1536KiB");
  CHECK(hugepage_size_label(1000) == "1000");
}

TEST_CASE("parse_sysfs_u64 takes exactly one number, the newline optional") {
  CHECK(parse_sysfs_u64("0\n") == 0);
  CHECK(parse_sysfs_u64("1024\n") == 1024);
  CHECK_THROWS_AS(parse_sysfs_u64(""), ParseError);
  CHECK(parse_sysfs_u64("12") == 12);
  CHECK_THROWS_AS(parse_sysfs_u64("-1\n"), ParseError);
  CHECK_THROWS_AS(parse_sysfs_u64("12 pages\n"), ParseError);
  CHECK_THROWS_AS(parse_sysfs_u64("1\n2\n"), ParseError);
  CHECK_THROWS_AS(parse_sysfs_u64(std::string_view("\x7f" "ELF\0\n", 6)), ParseError);
}

TEST_CASE("read_hugepage_pools reads global and per-node pools of two sizes") {
  Snapshot snapshot(sysfs_at("two-sizes-two-nodes"));
  auto pools = read_hugepage_pools(snapshot);
  REQUIRE(pools.size() == 6);

  // Global pools first, smaller page size first.
  CHECK_FALSE(pools[0].node);
  CHECK(pools[0].page_size_bytes == 2u << 20);
  CHECK(pools[0].total == 512);
  CHECK(pools[0].free == 384);
  CHECK(pools[0].reserved == 100);
  CHECK(pools[0].surplus == 2);
  CHECK_FALSE(pools[1].node);
  CHECK(pools[1].page_size_bytes == 1u << 30);
  CHECK(pools[1].total == 4);
  CHECK(pools[1].free == 3);
  CHECK(pools[1].reserved == 1);

  CHECK(pools[2].node == 0);
  CHECK(pools[2].page_size_bytes == 2u << 20);
  CHECK(pools[2].total == 256);
  CHECK(pools[2].free == 200);
  CHECK(pools[2].surplus == 1);
  CHECK(pools[2].reserved == 0);
  CHECK(pools[3].node == 0);
  CHECK(pools[3].page_size_bytes == 1u << 30);
  CHECK(pools[4].node == 1);
  CHECK(pools[4].free == 184);
  CHECK(pools[5].node == 1);
  CHECK(pools[5].page_size_bytes == 1u << 30);
  CHECK(pools[5].free == 2);

  // Only the global pools count; nodes are a breakdown of the same pages.
  CHECK(hugetlb_total_bytes(pools) == 512ull * (2u << 20) + 4ull * (1u << 30));
}

TEST_CASE("read_hugepage_pools is empty on a kernel without hugetlbfs") {
  Snapshot snapshot(sysfs_at("no-such-tree"));
  CHECK(read_hugepage_pools(snapshot).empty());
  CHECK(hugetlb_total_bytes({}) == 0);
}

TEST_CASE("read_hugepage_pools names the sysfs file that holds garbage") {
  auto error_of = [](const std::string& tree) {
    Snapshot snapshot(sysfs_at(tree));
    try {
      read_hugepage_pools(snapshot);
    } catch (const CollectError& e) {
      return e.file();
    }
    FAIL("no CollectError");
    return std::string();
  };
  CHECK(error_of("garbage") ==
        kFixtures + "garbage/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
  CHECK(error_of("truncated") ==
        kFixtures + "truncated/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
}

TEST_CASE("the hugepages collector exports global pools, bytes and per-node pools") {
  Snapshot snapshot(sysfs_at("two-sizes-two-nodes"));
  MetricSink sink;
  kHugepagesCollector.make_from(Config{})->collect(snapshot, sink);

  CHECK(gauge_value(sink, "memledger_hugepages_pages", {{"size", "2MiB"}, {"state", "total"}}) == 512);
  CHECK(gauge_value(sink, "memledger_hugepages_pages", {{"size", "2MiB"}, {"state", "reserved"}}) == 100);
  CHECK(gauge_value(sink, "memledger_hugepages_pages", {{"size", "1GiB"}, {"state", "free"}}) == 3);
  CHECK(gauge_value(sink, "memledger_hugepages_pages", {{"size", "1GiB"}, {"state", "surplus"}}) == 0);
  CHECK(gauge_value(sink, "memledger_hugepages_bytes", {{"size", "1GiB"}, {"state", "total"}}) ==
        4.0 * (1u << 30));
  CHECK(gauge_value(sink, "memledger_hugepages_bytes", {{"size", "2MiB"}, {"state", "free"}}) ==
        384.0 * (2u << 20));
  CHECK(gauge_value(sink, "memledger_hugepages_node_pages",
              {{"size", "2MiB"}, {"node", "1"}, {"state", "free"}}) == 184);
  CHECK(gauge_value(sink, "memledger_hugepages_node_pages",
              {{"size", "1GiB"}, {"node", "0"}, {"state", "total"}}) == 2);
  // The kernel keeps no reservations per node, so none are exported.
  CHECK_FALSE(find_sample(sink, "memledger_hugepages_node_pages",
                          {{"size", "2MiB"}, {"node", "0"}, {"state", "reserved"}}));
  CHECK(sample_count(sink, "memledger_hugepages_pages") == 2 * 4);
  CHECK(sample_count(sink, "memledger_hugepages_bytes") == 2 * 4);
  CHECK(sample_count(sink, "memledger_hugepages_node_pages") == 2 * 2 * 3);
}
