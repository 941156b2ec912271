#include <catch2/catch.hpp>

#include <string>

#include "collectors/registry.h"
#include "collectors/cgroup.h"
#include "procfs/cgroup.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::find_sample;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

constexpr std::int64_t MiB = 1024 * 1024;

SourceRoots roots_of(const std::string& tree) {
  std::string base = std::string(MEMLEDGER_FIXTURES) + "/cgroup/" + tree;
  return SourceRoots{base + "/proc", base + "/sys"};
}

std::uint64_t item(const CgroupKernelMemory& cgroup, std::string_view name) {
  for (const auto& [key, value] : cgroup.items) {
    if (key == name) return value;
  }
  FAIL("no item " << name);
  return 0;
}

const CgroupKernelMemory& find(const CgroupScan& scan, const std::string& path) {
  for (const auto& c : scan.cgroups) {
    if (c.path == path) return c;
  }
  FAIL("no cgroup " << path);
  return scan.cgroups.front();
}

}  // namespace

TEST_CASE("the v2 residual is kernel minus its named parts, and sock is not one of them") {
  auto c = cgroup_v2_kernel_memory("/a",
                                   "anon 1000\nkernel 10000\nkernel_stack 1000\npagetables 500\n"
                                   "sec_pagetables 100\npercpu 200\nsock 4000\nvmalloc 300\nzswap 50\n"
                                   "slab_reclaimable 2000\nslab_unreclaimable 3000\nslab 5000\n");
  REQUIRE(c.residual);
  CHECK(*c.residual == 10000 - 1000 - 500 - 100 - 200 - 300 - 50 - 2000 - 3000);
  CHECK(c.rank_bytes == 2850);
  CHECK(item(c, "sock") == 4000);
  CHECK(item(c, "kernel") == 10000);

  // Per-CPU charge batching can leave the parts ahead of kernel: signed, ranked as 0.
  auto negative = cgroup_v2_kernel_memory("/b", "kernel 100\nslab_unreclaimable 4096\n");
  CHECK(*negative.residual == 100 - 4096);
  CHECK(negative.rank_bytes == 0);

  // Before 5.18 there is no "kernel": no residual, ranked by the parts it has.
  auto old = cgroup_v2_kernel_memory("/c", "anon 5\nkernel_stack 10\nslab_unreclaimable 20\nsock 7\n");
  CHECK_FALSE(old.residual);
  CHECK(old.rank_bytes == 30);
  CHECK_THROWS_AS(cgroup_v2_kernel_memory("/d", "kernel x\n"), ParseError);
}

TEST_CASE("a v2 tree: every cgroup but the root, the pipe hog on top by residual") {
  Snapshot snapshot(roots_of("v2-linux-6.18-handmade"));
  auto scan = scan_cgroups(snapshot);
  CHECK(scan.version == 2);
  CHECK(scan.cgroups.size() == 8);
  const auto& hog = find(scan, "/system.slice/pipe-hog.service");
  CHECK(*hog.residual == 200 * MiB);
  CHECK(*find(scan, "/machine.slice/vm-42.scope").residual == MiB + MiB / 4);
  CHECK(item(find(scan, "/machine.slice/vm-42.scope"), "sec_pagetables") == 24 * MiB);

  auto top = top_cgroups(scan.cgroups, 3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].path == "/system.slice");  // hierarchical: the parent includes the hog
  CHECK(top[1].path == "/system.slice/pipe-hog.service");
  CHECK(top[2].path == "/machine.slice");  // tie with vm-42.scope, broken by path
}

TEST_CASE("the cgroup collector exports the top N with their parts and residual") {
  auto collector = testing::make_collector(kCgroupCollector, "top_cgroups: 2");
  Snapshot snapshot(roots_of("v2-linux-6.18-handmade"));
  MetricSink sink;
  collector->collect(snapshot, sink);
  CHECK(gauge_value(sink, "memledger_cgroups_scanned", {{"version", "2"}}) == 8);
  CHECK(gauge_value(sink, "memledger_cgroup_kernel_residual_bytes",
                    {{"cgroup", "/system.slice/pipe-hog.service"}}) == 200 * MiB);
  CHECK(gauge_value(sink, "memledger_cgroup_kernel_bytes",
                    {{"cgroup", "/system.slice/pipe-hog.service"}, {"item", "sock"}}) == 3 * MiB);
  CHECK(sample_count(sink, "memledger_cgroup_kernel_residual_bytes") == 2);
  CHECK_FALSE(find_sample(sink, "memledger_cgroup_kernel_residual_bytes", {{"cgroup", "/machine.slice"}}));
}

TEST_CASE("v2 before 5.18: parts without a residual") {
  Snapshot snapshot(roots_of("v2-linux-5.10-handmade"));
  auto scan = scan_cgroups(snapshot);
  CHECK(scan.version == 2);
  REQUIRE(scan.cgroups.size() == 3);
  const auto& nginx = find(scan, "/system.slice/nginx.service");
  CHECK_FALSE(nginx.residual);
  CHECK(nginx.rank_bytes == 3 * MiB + 5 * MiB + MiB + 2 * MiB + MiB / 4);
}

TEST_CASE("cgroup v1 on this VM: kmem per cgroup, the hybrid unified tree without memory ignored") {
  Snapshot snapshot(roots_of("v1-linux-6.18-firecracker"));
  auto scan = scan_cgroups(snapshot);
  CHECK(scan.version == 1);
  REQUIRE(scan.cgroups.size() == 8);
  const auto& parent = find(scan, "/process_api");
  CHECK(item(parent, "kmem") == 309219328u);
  CHECK(item(parent, "kmem_tcp") == 0u);
  CHECK_FALSE(parent.residual);
  auto top = top_cgroups(scan.cgroups, 2);
  CHECK(top[0].path == "/process_api");
  CHECK(top[1].path == "/process_api/bdf6dd30a8fb9c8659b6de32af4d36ea");
}

TEST_CASE("no memory controller: the collector reports nothing and succeeds") {
  Snapshot snapshot(roots_of("absent"));
  MetricSink sink;
  kCgroupCollector.make_from(Config{})->collect(snapshot, sink);
  CHECK(sink.families().empty());
}

TEST_CASE("absurd memory.stat values saturate instead of overflowing (fuzzer finding)") {
  auto c = cgroup_v2_kernel_memory(
      "/x", "kernel 1\nvmalloc 9223372036854775807\npercpu 9223372036854775807\n");
  REQUIRE(c.residual);
  CHECK(*c.residual == 1 - INT64_MAX);
}
