#include <catch2/catch.hpp>

#include <string>

#include "collectors/registry.h"
#include "collectors/meminfo.h"
#include "collectors/vmalloc.h"
#include "procfs/meminfo.h"
#include "procfs/vmallocinfo.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

constexpr std::uint64_t kPage = 4096;

std::string fixture_dir(std::string_view name) {
  return std::string(MEMLEDGER_FIXTURES) + "/vmalloc/" + std::string(name);
}

std::string read_fixture(std::string_view dir, std::string_view file) {
  std::string text;
  REQUIRE(read_whole_file(fixture_dir(dir) + "/" + std::string(file), text) == 0);
  return text;
}

std::uint64_t caller_bytes(const VmallocSummary& s, std::string_view caller) {
  for (const auto& [name, bytes] : s.bytes_by_caller) {
    if (name == caller) return bytes;
  }
  FAIL("no caller " << caller);
  return 0;
}

std::size_t error_line(std::string_view text) {
  try {
    parse_vmallocinfo(text, kPage);
  } catch (const ParseError& e) {
    return e.line();
  }
  FAIL("no ParseError for: " << text);
  return 0;
}

}  // namespace

TEST_CASE("parse_vmallocinfo sorts areas into kinds, callers and stacks") {
  auto s = parse_vmallocinfo(
      "0x00000000ce07e169-0x0000000038ad171e   20480 kernel_clone+0x94/0x3e0 pages=4 vmalloc N0=4\n"
      "0x000000005a8fcf74-0x00000000bc839b51    8192 acpi_os_map_iomem+0x1bc/0x1e0 phys=0x00000000000a0000 ioremap\n"
      "0x000000006e1ffee6-0x00000000d96481d5 2097152 pcpu_get_vm_areas+0x0/0x1050 vmalloc\n"
      "0x0000000094cfe086-0x000000000953fe62 2105344 htab_map_alloc+0x2e4/0x5a0 pages=513 vmalloc vpages N0=513\n"
      "0x00000000716a7527-0x000000005a8fcf74   20480 irq_init_percpu_irqstack+0xca/0x100 vmap\n"
      "0x0000000082c3470b-0x00000000fb0de6e9   20480 unpurged vm_area\n"
      "0x0000000011111111-0x0000000022222222   65536 vm_map_ram\n",
      kPage);
  CHECK(s.areas == 6);
  CHECK(s.vmalloc_bytes == (4 + 513) * kPage);
  CHECK(s.bytes_by_kind.at("vmalloc") == (4 + 513) * kPage);
  CHECK(s.bytes_by_kind.at("vmap") == 0);
  CHECK(s.bytes_by_kind.at("vm_map_ram") == 0);
  CHECK_FALSE(s.bytes_by_kind.count("ioremap"));
  CHECK(s.ioremap_address_bytes == 8192);
  CHECK(s.kernel_stack_bytes == 4 * kPage);
  CHECK(s.kernel_stack_areas == 1);
  REQUIRE(s.bytes_by_caller.size() == 2);  // callers without pages are left out
  CHECK(s.bytes_by_caller[0] == std::pair<std::string, std::uint64_t>{"htab_map_alloc", 513 * kPage});
  CHECK(s.bytes_by_caller[1] == std::pair<std::string, std::uint64_t>{"kernel_clone", 4 * kPage});
}

TEST_CASE("on this machine (6.18) vmalloc pages equal VmallocUsed exactly") {
  // Both files read back to back while nothing else ran.
  auto s = parse_vmallocinfo(read_fixture("linux-6.18-firecracker", "vmallocinfo"), kPage);
  auto meminfo = parse_meminfo(read_fixture("linux-6.18-firecracker", "meminfo"));
  CHECK(s.vmalloc_bytes == meminfo.bytes("VmallocUsed"));
  CHECK(s.bytes_by_kind.at("vmalloc") == s.vmalloc_bytes);
  CHECK(s.kernel_stack_areas > 80);
  CHECK(s.kernel_stack_bytes == s.kernel_stack_areas * 4 * kPage);  // 16 KiB stacks
  // Stacks of live tasks plus a few cached per CPU: at least KernelStack.
  CHECK(s.kernel_stack_bytes >= meminfo.bytes("KernelStack"));
  CHECK(s.ioremap_address_bytes > 0);
  std::uint64_t by_caller = 0;
  for (const auto& [caller, bytes] : s.bytes_by_caller) by_caller += bytes;
  std::uint64_t by_kind = 0;
  for (const auto& [kind, bytes] : s.bytes_by_kind) by_kind += bytes;
  CHECK(by_caller == by_kind);
}

TEST_CASE("parse_vmallocinfo reads a 4.14-style file: _do_fork stacks, modules, vmalloc_user") {
  auto s = parse_vmallocinfo(read_fixture("linux-4.14-handmade", "vmallocinfo"), kPage);
  CHECK(s.areas == 19);
  CHECK(s.vmalloc_bytes == 1193 * kPage);
  CHECK(s.kernel_stack_bytes == 16 * kPage);  // three _do_fork, one fork_idle
  CHECK(s.kernel_stack_areas == 4);
  CHECK(s.ioremap_address_bytes == 8192 + 8192 + 1048576);
  CHECK(s.bytes_by_kind.size() == 3);
  CHECK(s.bytes_by_kind.at("vmalloc") == 1193 * kPage);  // "vmalloc user" counts as vmalloc
  CHECK(s.bytes_by_kind.at("vmap") == 0);
  CHECK(s.bytes_by_kind.at("vm_map_ram") == 0);
  REQUIRE(s.bytes_by_caller.size() == 9);
  CHECK(s.bytes_by_caller[0].first == "alloc_large_system_hash");
  CHECK(s.bytes_by_caller[0].second == 544 * kPage);
  CHECK(s.bytes_by_caller[1].first == "drm_ht_create [drm]");
  CHECK(caller_bytes(s, "vb2_vmalloc_alloc [videobuf2_vmalloc]") == 75 * kPage);
  CHECK(caller_bytes(s, "_do_fork") == 12 * kPage);
  CHECK(caller_bytes(s, "load_module") == 9 * kPage);
  CHECK(s.bytes_by_caller[6].first == "fork_idle");  // ties broken by name
  CHECK(s.bytes_by_caller[7].first == "swap_cgroup_swapon");
}

TEST_CASE("parse_vmallocinfo reads a 2.6-style file: no stacks, NUMA nodes, areas without flags") {
  auto s = parse_vmallocinfo(read_fixture("linux-2.6.32-handmade", "vmallocinfo"), kPage);
  CHECK(s.areas == 12);
  CHECK(s.vmalloc_bytes == 815 * kPage);
  CHECK(s.kernel_stack_bytes == 0);
  CHECK(s.kernel_stack_areas == 0);
  CHECK(s.ioremap_address_bytes == 8192 + 12288);
  CHECK(s.bytes_by_kind.at("other") == 0);  // init_vdso_vars: no flag at all
  CHECK(caller_bytes(s, "sys_init_module") == 30 * kPage);
  CHECK(caller_bytes(s, "xt_alloc_table_info [x_tables]") == 4 * kPage);
}

TEST_CASE("every task-stack caller is recognised, with or without compiler suffixes") {
  for (std::string_view caller :
       {"kernel_clone+0x94/0x3e0", "_do_fork+0xde/0x3b0", "fork_idle+0x74/0x120",
        "create_io_thread+0x5c/0x90", "vhost_task_create+0x8e/0x150",
        "copy_process.part.31+0x15ff/0x2a40", "dup_task_struct.constprop.0+0x4d/0x1f0",
        "alloc_thread_stack_node+0x7c/0x110", "copy_process.isra.0+0x11/0x1a00"}) {
    CAPTURE(caller);
    auto s = parse_vmallocinfo("0x1-0x2 20480 " + std::string(caller) + " pages=4 vmalloc N0=4\n",
                               kPage);
    CHECK(s.kernel_stack_areas == 1);
    CHECK(s.kernel_stack_bytes == 4 * kPage);
  }
  for (std::string_view caller : {"kernel_clone_helper+0x1/0x2", "do_fork+0x1/0x2",
                                  "n_tty_open+0x14/0xa0", "copy_process_x+0x1/0x2"}) {
    CAPTURE(caller);
    auto s = parse_vmallocinfo("0x1-0x2 20480 " + std::string(caller) + " pages=4 vmalloc N0=4\n",
                               kPage);
    CHECK(s.kernel_stack_areas == 0);
  }
  // A stack caller's non-vmalloc area (a vmap) is not a stack.
  auto vmap = parse_vmallocinfo("0x1-0x2 20480 kernel_clone+0x94/0x3e0 pages=4 vmap\n", kPage);
  CHECK(vmap.kernel_stack_areas == 0);
  CHECK(vmap.bytes_by_kind.at("vmap") == 4 * kPage);
}

TEST_CASE("parse_vmallocinfo keeps flags a newer kernel adds, and callers it cannot name") {
  auto s = parse_vmallocinfo(
      "0x(____ptrval____)-0x(____ptrval____)   20480 0x86e28000100e7c60 pages=4 vmalloc N0=4\n"
      "0x1-0x2 8192 dma_common_pages_remap+0x4f/0x80 dma-coherent\n"
      "0x3-0x4 8192 some_new_user+0x1/0x2 pages=2 shiny_flag N0=2\n"
      "0x5-0x6 8192 pages=1 vmalloc N0=1\n",
      kPage);
  CHECK(s.areas == 4);
  CHECK(s.bytes_by_kind.at("vmalloc") == 5 * kPage);
  CHECK(s.bytes_by_kind.at("dma-coherent") == 0);
  CHECK(s.bytes_by_kind.at("shiny_flag") == 2 * kPage);
  CHECK(caller_bytes(s, "0x86e28000100e7c60") == 4 * kPage);
  CHECK(caller_bytes(s, "unknown") == 1 * kPage);
}

TEST_CASE("top_vmalloc_callers: the largest callers plus other sum to the total") {
  auto s = parse_vmallocinfo(read_fixture("linux-6.18-firecracker", "vmallocinfo"), kPage);
  std::uint64_t total = 0;
  for (const auto& [kind, bytes] : s.bytes_by_kind) total += bytes;
  for (std::size_t limit : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{20},
                            std::size_t{100000}}) {
    CAPTURE(limit);
    auto top = top_vmalloc_callers(s, limit);
    REQUIRE(top.size() == std::min(limit, s.bytes_by_caller.size()) + 1);
    CHECK(top.back().first == "other");
    std::uint64_t sum = 0;
    for (const auto& [caller, bytes] : top) sum += bytes;
    CHECK(sum == total);
    for (std::size_t i = 1; i + 1 < top.size(); ++i) CHECK(top[i - 1].second >= top[i].second);
  }
  VmallocSummary clash;
  clash.bytes_by_caller = {{"big", 10}, {"other", 5}, {"small", 1}};
  auto top = top_vmalloc_callers(clash, 2);
  REQUIRE(top.size() == 3);
  CHECK(top[0] == std::pair<std::string, std::uint64_t>{"big", 10});
  CHECK(top[1] == std::pair<std::string, std::uint64_t>{"small", 1});
  CHECK(top[2] == std::pair<std::string, std::uint64_t>{"other", 5});
}

TEST_CASE("parse_vmallocinfo rejects bad input with the line number") {
  const std::string good = "0x1-0x2 8192 foo+0x1/0x2 pages=1 vmalloc N0=1\n";
  CHECK(error_line("") == 0);
  CHECK(error_line(good + "0x1-0x2 8192 foo+0x1/0x2 pages=1 vmal") == 2);  // truncated
  // Without the final newline, a line that ends in a known flag is complete.
  CHECK(parse_vmallocinfo(good + "0x1-0x2 8192 foo+0x1/0x2 pages=1 vmalloc", kPage).areas == 2);
  CHECK(error_line(good + good + "0x1-0x2 8192 foo+0x1/0x2 pages=x vmalloc\n") == 3);
  CHECK(error_line(good + "0x1-0x2 eight foo+0x1/0x2 pages=1 vmalloc\n") == 2);
  CHECK(error_line(good + "0x1 8192 foo+0x1/0x2 pages=1 vmalloc\n") == 2);
  CHECK(error_line(good + "garbage\n") == 2);
  CHECK(error_line(good + "0x1-0x2 8192 foo+0x1/0x2 pages=1 vmalloc N0=z\n") == 2);
  CHECK(error_line(good + "0x1-0x2 8192 foo+0x1/0x2 pages=1 VMALLOC!\n") == 2);
  CHECK(error_line(good + "0x1-0x2 8192 unpurged vm_area extra\n") == 2);
  CHECK(error_line(good + "0x1-0x2 8192 foo+0x1/0x2 phys= ioremap\n") == 2);
  CHECK(error_line(good + "0x1-0x2\n") == 2);
  CHECK(error_line(std::string_view("\x7f" "ELF\x02\x01\x01\0\0\0\n", 11)) == 1);
  CHECK(error_line(good + "\n") == 2);
}

TEST_CASE("the vmalloc collector exports kinds, top callers, ioremap and stacks") {
  auto collector = testing::make_collector(kVmallocCollector, "top_callers: 2");
  CHECK(collector->name() == "vmalloc");
  Snapshot snapshot(SourceRoots{.procfs = fixture_dir("linux-4.14-handmade"), .page_size = kPage});
  MetricSink sink;
  collector->collect(snapshot, sink);

  CHECK(gauge_value(sink, "memledger_vmalloc_bytes", {{"kind", "vmalloc"}}) == 1193.0 * kPage);
  CHECK(gauge_value(sink, "memledger_vmalloc_bytes", {{"kind", "vmap"}}) == 0);
  CHECK(sample_count(sink, "memledger_vmalloc_bytes") == 3);
  CHECK(gauge_value(sink, "memledger_vmalloc_ioremap_address_space_bytes", {}) == 1064960);
  CHECK(sample_count(sink, "memledger_vmalloc_caller_bytes") == 3);
  CHECK(gauge_value(sink, "memledger_vmalloc_caller_bytes", {{"caller", "alloc_large_system_hash"}}) ==
        544.0 * kPage);
  CHECK(gauge_value(sink, "memledger_vmalloc_caller_bytes", {{"caller", "drm_ht_create [drm]"}}) ==
        512.0 * kPage);
  CHECK(gauge_value(sink, "memledger_vmalloc_caller_bytes", {{"caller", "other"}}) ==
        (1193.0 - 544 - 512) * kPage);
  CHECK(gauge_value(sink, "memledger_vmalloc_kernel_stack_bytes", {}) == 16.0 * kPage);
  CHECK(gauge_value(sink, "memledger_vmalloc_kernel_stack_areas", {}) == 4);
}

TEST_CASE("the vmalloc collector fails naming /proc/vmallocinfo when it cannot be read") {
  auto collector = kVmallocCollector.make_from(Config{});
  auto root = fixture_dir("no-such-dir");
  Snapshot snapshot(SourceRoots{.procfs = root, .page_size = kPage});
  MetricSink sink;
  try {
    collector->collect(snapshot, sink);
    FAIL("no CollectError");
  } catch (const CollectError& e) {
    CHECK(e.file() == root + "/vmallocinfo");
  }
}
