#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "collectors/registry.h"
#include "config/config.h"
#include "exporter/explain.h"
#include "exporter/scrape.h"
#include "sample_lookup.h"

using namespace memledger;

namespace {

constexpr double GiB = 1024.0 * 1024 * 1024;
constexpr double MiB = 1024.0 * 1024;

// Every default collector over the captured 6.18 host, as a scrape runs them.
std::vector<prometheus::MetricFamily> collect_fixture_host() {
  std::string root = std::string(MEMLEDGER_FIXTURES) + "/ledger/linux-6.18-firecracker";
  Snapshot snapshot(SourceRoots{root + "/proc", root + "/sys"});
  MetricSink out;
  for (auto& collector : build_collectors(default_config(), {})) {
    MetricSink sink;
    try {
      collector->collect(snapshot, sink);
      out.absorb(std::move(sink));
    } catch (const std::exception&) {
      // Collectors whose files the fixture lacks; explain lists them, not tested here.
    }
  }
  return out.take();
}

std::string integer(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

// A host made of the handful of series the verdict reads.
struct Host {
  MetricSink sink;
  explicit Host(double memtotal) {
    testing::add_gauge(sink, "memledger_meminfo_bytes", {{"field", "MemTotal"}}, memtotal);
  }
  void category(std::string_view name, double bytes) {
    testing::add_gauge(sink, "memledger_ledger_bytes", {{"method", "lru"}, {"category", name}}, bytes);
  }
  std::string render(bool color = false) {
    ExplainInput in;
    in.families = sink.families();
    return render_explain(in, {false, color});
  }
};

}  // namespace

TEST_CASE("explain prints exactly the exporter's numbers: the JSON carries every ledger sample") {
  ExplainInput in;
  in.families = collect_fixture_host();
  std::string json = render_explain(in, {true, false});
  std::size_t categories = 0;
  for (const auto& f : in.families) {
    if (f.name != "memledger_ledger_bytes") continue;
    for (const auto& m : f.metric) {
      std::string method, category;
      for (const auto& l : m.label) {
        if (l.name == "method") method = l.value;
        if (l.name == "category") category = l.value;
      }
      if (method != "lru") continue;
      ++categories;
      INFO(category);
      CHECK(json.find("{\"category\":\"" + category + "\",\"bytes\":" + integer(m.gauge.value) + ",") !=
            std::string::npos);
    }
  }
  CHECK(categories >= 20);
  CHECK(json.front() == '{');
  CHECK(json.find("\"contributors\":{\"slab_caches\":{\"rows\":[{\"name\":") != std::string::npos);
}

TEST_CASE("explain's table shows every non-zero category with its share and a bar") {
  ExplainInput in;
  in.families = collect_fixture_host();
  std::string text = render_explain(in, {false, false});
  CHECK(text.find("Memory ledger: MemTotal 23.5 GiB, method lru") != std::string::npos);
  CHECK(text.find("\nunexplained ") != std::string::npos);
  CHECK(text.find("Unexplained by method: lru ") != std::string::npos);
  CHECK(text.find("  Slab caches of ") != std::string::npos);
  CHECK(text.find("  vmalloc callers of ") != std::string::npos);
  CHECK(text.find("\x1b[") == std::string::npos);  // no colour unless asked
  CHECK(text.find("[ok] nothing looks abnormal") != std::string::npos);
}

TEST_CASE("explain: a large unexplained remainder is abnormal, and says where to look") {
  Host host(16 * GiB);
  host.category("free", 10 * GiB);
  host.category("unexplained", 3 * GiB);
  testing::add_gauge(host.sink, "memledger_cgroup_kernel_residual_bytes", {{"cgroup", "/system.slice/pipe-hog.service"}},
                  2.5 * GiB);
  std::string text = host.render();
  CHECK(text.find("[abnormal] 3.0 GiB (18.8% of MemTotal) is in use but no kernel counter records it") !=
        std::string::npos);
  CHECK(text.find("cgroups holding it: /system.slice/pipe-hog.service 2.5 GiB") != std::string::npos);
  CHECK(text.find("[abnormal] cgroup /system.slice/pipe-hog.service is charged 2.5 GiB") != std::string::npos);
  CHECK(text.find("[ok]") == std::string::npos);
  CHECK(host.render(true).find("\x1b[1;31m[abnormal]\x1b[0m") != std::string::npos);

  // 200 MiB on 16 GiB is under the floor.
  Host quiet(16 * GiB);
  quiet.category("unexplained", 200 * MiB);
  CHECK(quiet.render().find("[ok] nothing looks abnormal: unexplained is 200.0 MiB (1.2% of MemTotal)") !=
        std::string::npos);
}

TEST_CASE("explain: growth over --interval is abnormal even when the level is not") {
  Host before(16 * GiB), after(16 * GiB);
  before.category("unexplained", 100 * MiB);
  after.category("unexplained", 180 * MiB);
  ExplainInput in;
  in.earlier = before.sink.families();
  in.families = after.sink.families();
  in.interval_seconds = 30;
  std::string text = render_explain(in, {false, false});
  CHECK(text.find("[abnormal] unexplained grew by 80.0 MiB in 30 s") != std::string::npos);
  CHECK(text.find("+80.0 MiB") != std::string::npos);  // the change column
  CHECK(render_explain(in, {true, false}).find("\"change_bytes\":83886080") != std::string::npos);
}

TEST_CASE("explain: SUnreclaim, balloon, tmpfs, orphaned segments and fragmentation findings") {
  Host host(8 * GiB);
  host.category("slab_unreclaimable", 1 * GiB);
  host.category("balloon", 2 * GiB);
  host.category("unexplained", 0);
  testing::add_gauge(host.sink, "memledger_slab_cache_bytes", {{"cache", "kmalloc-2k"}}, 900 * MiB);
  testing::add_gauge(host.sink, "memledger_tmpfs_used_bytes", {{"mountpoint", "/dev/shm"}}, 1.5 * GiB);
  testing::add_gauge(host.sink, "memledger_tmpfs_deleted_open_files", {{"mountpoint", "/dev/shm"}}, 3);
  testing::add_gauge(host.sink, "memledger_tmpfs_deleted_open_bytes", {{"mountpoint", "/dev/shm"}}, 700 * MiB);
  testing::add_gauge(host.sink, "memledger_sysv_shm_orphaned_bytes", {}, 128 * MiB);
  testing::add_gauge(host.sink, "memledger_buddyinfo_free_bytes", {{"node", "0"}, {"zone", "Normal"}}, 1 * GiB);
  testing::add_gauge(host.sink, "memledger_buddyinfo_unusable_free_ratio", {{"node", "0"}, {"zone", "Normal"}, {"order", "3"}}, 0.93);
  std::string text = host.render();
  CHECK(text.find("[abnormal] unreclaimable slab (SUnreclaim) holds 1.0 GiB (12.5% of MemTotal)") != std::string::npos);
  CHECK(text.find("largest caches: kmalloc-2k 900.0 MiB") != std::string::npos);
  CHECK(text.find("[abnormal] a balloon driver holds 2.0 GiB inside MemTotal") != std::string::npos);
  CHECK(text.find("[abnormal] tmpfs mounts hold 1.5 GiB (18.8% of MemTotal), most of it under /dev/shm") !=
        std::string::npos);
  CHECK(text.find("[abnormal] 3 deleted tmpfs files still held open keep 700.0 MiB") != std::string::npos);
  CHECK(text.find("[abnormal] System V segments no process has attached hold 128.0 MiB") != std::string::npos);
  CHECK(text.find("[note] free memory of node 0 zone Normal is fragmented: 93.0% of its 1.0 GiB") != std::string::npos);
}

TEST_CASE("explain lists the collectors that failed and works without a ledger") {
  ExplainInput in;
  in.failed_collectors = {"ledger failed: /proc/meminfo: Permission denied"};
  std::string text = render_explain(in, {false, false});
  CHECK(text.find("no ledger: the ledger collector is disabled or failed") != std::string::npos);
  CHECK(text.find("[note] collector ledger failed: /proc/meminfo: Permission denied") != std::string::npos);
  CHECK(render_explain(in, {true, false}).find("\"failed_collectors\":[\"ledger failed: /proc/meminfo: Permission denied\"]") !=
        std::string::npos);
}

TEST_CASE("explain names the culprit when the tracer or the socket locators explain half of unexplained") {
  Host host(16 * GiB);
  host.category("unexplained", 600 * MiB);
  testing::add_gauge(host.sink, "memledger_blackhole_bytes", {{"site", "anon_pipe_write"}, {"group", "plumber"}},
                     256 * MiB);
  testing::add_gauge(host.sink, "memledger_blackhole_bytes", {{"site", "other"}, {"group", "other"}}, 60 * MiB);
  std::string text = host.render();
  CHECK(text.find("[abnormal] 600.0 MiB (3.7% of MemTotal) is in use but no kernel counter records it: "
                  "256.0 MiB of pipe buffers written by plumber, in anon_pipe_write") != std::string::npos);
  CHECK(text.find("network page pools, driver allocations") == std::string::npos);  // no generic list
  CHECK(text.find("Untyped kernel pages by call site and process") != std::string::npos);

  Host sockets(16 * GiB);
  sockets.category("unexplained", 400 * MiB);
  testing::add_gauge(sockets.sink, "memledger_socket_memory_bytes", {{"group", "hoarder"}, {"protocol", "tcp"}},
                     257 * MiB);
  CHECK(sockets.render().find("257.0 MiB of tcp socket buffers held by hoarder") != std::string::npos);

  // A tracer that sees less than half of it: the generic causes stay.
  Host partial(16 * GiB);
  partial.category("unexplained", 1 * GiB);
  testing::add_gauge(partial.sink, "memledger_blackhole_bytes", {{"site", "anon_pipe_write"}, {"group", "x"}},
                     100 * MiB);
  CHECK(partial.render().find("pipe buffers, network page pools, driver allocations") != std::string::npos);
}

TEST_CASE("explain names the culprit of growth over --interval") {
  Host before(24 * GiB), after(24 * GiB);
  before.category("unexplained", 20 * MiB);
  after.category("unexplained", 276 * MiB);
  testing::add_gauge(after.sink, "memledger_blackhole_bytes", {{"site", "anon_pipe_write"}, {"group", "plumber"}},
                     256 * MiB);
  ExplainInput in;
  in.earlier = before.sink.families();
  in.families = after.sink.families();
  in.interval_seconds = 10;
  CHECK(render_explain(in, {false, false})
            .find("[abnormal] unexplained grew by 256.0 MiB in 10 s: 256.0 MiB of pipe buffers written by "
                  "plumber, in anon_pipe_write") != std::string::npos);
}

TEST_CASE("explain --interval lists what grew in the window, as text and as JSON") {
  Host before(16 * GiB), after(16 * GiB);
  before.category("unexplained", 10 * MiB);
  after.category("unexplained", 90 * MiB);
  testing::add_gauge(after.sink, "memledger_blackhole_bytes", {{"site", "tcp_sendmsg_locked"}, {"group", "curl"}},
                     64 * MiB);
  ExplainInput in;
  in.earlier = before.sink.families();
  in.families = after.sink.families();
  in.interval_seconds = 5;
  std::string text = render_explain(in, {false, false});
  CHECK(text.find("\nGrew in the last 5 s\n    TCP send buffers (page frags) (tcp_sendmsg_locked) by curl    +64.0 MiB\n") !=
        std::string::npos);
  CHECK(render_explain(in, {true, false})
            .find("\"grew\":[{\"name\":\"TCP send buffers (page frags) (tcp_sendmsg_locked) by curl\",\"bytes\":67108864}]") !=
        std::string::npos);

  ExplainInput quiet;
  quiet.earlier = before.sink.families();
  quiet.families = before.sink.families();
  quiet.interval_seconds = 5;
  CHECK(render_explain(quiet, {false, false}).find("nothing grew by 1 MiB or more") != std::string::npos);
}
