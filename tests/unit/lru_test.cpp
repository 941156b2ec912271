#include <catch2/catch.hpp>
#include <unistd.h>

#include <string>

#include "collectors/lru.h"
#include "procfs/vmstat.h"
#include "procfs/meminfo.h"
#include "procfs/node.h"
#include "procfs/text.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::find_sample;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

const std::string kFixtures = std::string(MEMLEDGER_FIXTURES) + "/lru/";

SourceRoots roots_at(const std::string& tree) {
  return SourceRoots{kFixtures + tree + "/proc", kFixtures + tree + "/sys"};
}

std::string read_fixture(const std::string& relative) {
  std::string text;
  REQUIRE(read_whole_file(kFixtures + relative, text) == 0);
  return text;
}

std::size_t parse_error_line(std::string_view text) {
  try {
    parse_vmstat(text);
  } catch (const ParseError& e) {
    return e.line();
  }
  FAIL("no ParseError");
  return 0;
}

}  // namespace

TEST_CASE("parse_vmstat keeps every counter in file order") {
  auto vmstat = parse_vmstat("nr_free_pages 1261640\nnr_isolated_anon 0\nnr_isolated_file 7\n");
  REQUIRE(vmstat.counters.size() == 3);
  CHECK(vmstat.counters[0].first == "nr_free_pages");
  CHECK(vmstat.counters[2].second == 7);
  CHECK(vmstat.get("nr_free_pages") == 1261640);
  CHECK(vmstat.get("nr_isolated_anon") == 0);
  CHECK_FALSE(vmstat.get("nr_balloon_pages"));
}

TEST_CASE("parse_vmstat reads signed values") {
  // Per-node vmstat printed signed values on some kernels.
  CHECK(parse_vmstat("nr_isolated_file -3\n").get("nr_isolated_file") == -3);
}

TEST_CASE("parse_vmstat reads this machine's /proc/vmstat and node vmstat") {
  auto global = parse_vmstat(read_fixture("linux-6.18-firecracker/proc/vmstat"));
  CHECK(global.counters.size() == 192);
  CHECK(global.get("nr_isolated_anon") == 0);
  CHECK(global.get("nr_isolated_file") == 0);
  CHECK(global.get("nr_balloon_pages") == 0);
  CHECK(global.counters.front().first == "nr_free_pages");
  auto node = parse_vmstat(read_fixture("linux-6.18-firecracker/sys/devices/system/node/node0/vmstat"));
  CHECK(node.get("nr_free_pages").has_value());
  CHECK(node.get("nr_isolated_anon") == 0);
}

TEST_CASE("parse_vmstat rejects bad input with the line number") {
  CHECK(parse_error_line("nr_free_pages 1\nnr_dirty\n") == 2);
  CHECK(parse_error_line("nr_free_pages 1\nnr_dirty x\n") == 2);
  CHECK(parse_error_line("nr_free_pages 1\nnr_dirty 1 2\n") == 2);
  CHECK(parse_error_line("nr_free_pages 1\nnr_dirty 99999999999999999999\n") == 2);
  CHECK(parse_error_line("nr_free_pages 1\nnr_dir") == 2);
  CHECK(parse_error_line("") == 0);
  CHECK(parse_error_line("\n\n") == 0);
  CHECK_THROWS_AS(parse_vmstat(std::string_view("\x7f" "ELF\x02\x01\0\0\n", 9)), ParseError);
}

TEST_CASE("the lru collector exports global, isolated and per-node LRU lists") {
  Snapshot snapshot(roots_at("two-nodes"));
  MetricSink sink;
  kLruCollector.make_from(Config{})->collect(snapshot, sink);

  CHECK(gauge_value(sink, "memledger_lru_bytes", {{"lru", "active_anon"}}) == 1520.0 * 1024);
  CHECK(gauge_value(sink, "memledger_lru_bytes", {{"lru", "inactive_anon"}}) == 3744.0 * 1024);
  CHECK(gauge_value(sink, "memledger_lru_bytes", {{"lru", "active_file"}}) == 7140.0 * 1024);
  CHECK(gauge_value(sink, "memledger_lru_bytes", {{"lru", "inactive_file"}}) == 5252.0 * 1024);
  CHECK(gauge_value(sink, "memledger_lru_bytes", {{"lru", "unevictable"}}) == 12428.0 * 1024);
  CHECK(sample_count(sink, "memledger_lru_bytes") == 5);

  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  CHECK(gauge_value(sink, "memledger_lru_isolated_bytes", {{"type", "anon"}}) == 3 * page);
  CHECK(gauge_value(sink, "memledger_lru_isolated_bytes", {{"type", "file"}}) == 5 * page);

  CHECK(gauge_value(sink, "memledger_lru_node_bytes", {{"node", "0"}, {"lru", "active_anon"}}) ==
        1200.0 * 1024);
  CHECK(gauge_value(sink, "memledger_lru_node_bytes", {{"node", "1"}, {"lru", "unevictable"}}) ==
        2428.0 * 1024);
  // "online" and "possible" sit next to node0 and node1 and are not nodes.
  CHECK(sample_count(sink, "memledger_lru_node_bytes") == 2 * 5);
  for (std::string_view lru : {"active_anon", "inactive_anon", "active_file", "inactive_file", "unevictable"}) {
    CHECK(gauge_value(sink, "memledger_lru_node_bytes", {{"node", "0"}, {"lru", lru}}) +
              gauge_value(sink, "memledger_lru_node_bytes", {{"node", "1"}, {"lru", lru}}) ==
          gauge_value(sink, "memledger_lru_bytes", {{"lru", lru}}));
  }
}

TEST_CASE("the lru collector shares the meminfo reading of the scrape") {
  Snapshot snapshot(roots_at("linux-6.18-firecracker"));
  const std::string& meminfo = snapshot.text(Root::proc, "meminfo");
  MetricSink sink;
  kLruCollector.make_from(Config{})->collect(snapshot, sink);
  // meminfo, vmstat, node0/meminfo: each read once, meminfo not re-read.
  CHECK(snapshot.files_read() == 3);
  CHECK(&snapshot.text(Root::proc, "meminfo") == &meminfo);
  CHECK(gauge_value(sink, "memledger_lru_bytes", {{"lru", "unevictable"}}) == 15800.0 * 1024);
  CHECK(gauge_value(sink, "memledger_lru_node_bytes", {{"node", "0"}, {"lru", "active_file"}}) ==
        145356.0 * 1024);
  CHECK(sample_count(sink, "memledger_lru_node_bytes") == 5);
}

TEST_CASE("the lru collector names the file that is cut off or lacks a list") {
  Snapshot truncated(SourceRoots{kFixtures + "two-nodes/proc", kFixtures + "truncated-node/sys"});
  MetricSink sink;
  try {
    kLruCollector.make_from(Config{})->collect(truncated, sink);
    FAIL("no CollectError");
  } catch (const CollectError& e) {
    CHECK(e.file() == kFixtures + "truncated-node/sys/devices/system/node/node1/meminfo");
    CHECK(e.line() == 9);
  }

  // 2.6.21: no anon/file split of the lists yet (2.6.28).
  Snapshot old_kernel(SourceRoots{kFixtures + "linux-2.6.21/proc", kFixtures + "linux-2.6.21/sys"});
  try {
    kLruCollector.make_from(Config{})->collect(old_kernel, sink);
    FAIL("no CollectError");
  } catch (const CollectError& e) {
    CHECK(e.file() == kFixtures + "linux-2.6.21/proc/meminfo");
    CHECK(std::string(e.what()).find("Active(anon)") != std::string::npos);
  }
}
