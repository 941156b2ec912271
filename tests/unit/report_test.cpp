#include <catch2/catch.hpp>

#include <string>

#include "exporter/report.h"
#include "sample_lookup.h"

using namespace memledger;

namespace {

constexpr double GiB = 1024.0 * 1024 * 1024;
constexpr double MiB = 1024.0 * 1024;

struct Collection {
  MetricSink sink;
  explicit Collection(double memtotal, double unexplained) {
    testing::add_gauge(sink, "memledger_meminfo_bytes", {{"field", "MemTotal"}}, memtotal);
    testing::add_gauge(sink, "memledger_ledger_bytes", {{"method", "lru"}, {"category", "free"}},
                       memtotal - unexplained);
    testing::add_gauge(sink, "memledger_ledger_bytes", {{"method", "lru"}, {"category", "unexplained"}},
                       unexplained);
    testing::add_gauge(sink, "memledger_unexplained_bytes", {{"method", "lru"}}, unexplained);
  }
};

std::string verdict_text(const Report& r) {
  std::string out;
  for (const auto& f : r.verdict) out += (f.abnormal ? "[abnormal] " : "[note] ") + f.text + "\n";
  return out;
}

}  // namespace

TEST_CASE("report: the ledger of every method, the headline method's in exposition order") {
  Collection c(8 * GiB, 1 * GiB);
  testing::add_gauge(c.sink, "memledger_ledger_bytes", {{"method", "cache"}, {"category", "unexplained"}}, 2 * GiB);
  testing::add_gauge(c.sink, "memledger_unexplained_bytes", {{"method", "cache"}}, 2 * GiB);
  ReportInput in;
  in.families = c.sink.families();
  Report r = build_report(in);
  CHECK(r.memtotal == 8 * GiB);
  REQUIRE(r.ledger.size() == 2);
  CHECK(r.ledger[0].name == "free");
  CHECK(r.ledger[1].name == "unexplained");
  CHECK(r.ledgers.at("cache").size() == 1);
  REQUIRE(r.unexplained_by_method.size() == 2);
  CHECK(r.unexplained_by_method[0].name == "lru");
  CHECK(r.abnormal());
  CHECK(r.grew.empty());  // no interval, no growth
}

TEST_CASE("report: TCP page frags are named in words, and so is the process group") {
  Collection c(16 * GiB, 512 * MiB);
  testing::add_gauge(c.sink, "memledger_blackhole_bytes", {{"site", "skb_page_frag_refill"}, {"group", "uploader"}},
                     300 * MiB);
  ReportInput in;
  in.families = c.sink.families();
  CHECK(verdict_text(build_report(in)).find(
            "300.0 MiB of TCP send buffers (page frags) written by uploader, in skb_page_frag_refill") !=
        std::string::npos);
}

TEST_CASE("report: an unknown call site is named by its function, 'other' never is") {
  Collection c(16 * GiB, 512 * MiB);
  testing::add_gauge(c.sink, "memledger_blackhole_bytes", {{"site", "other"}, {"group", "other"}}, 400 * MiB);
  testing::add_gauge(c.sink, "memledger_blackhole_bytes", {{"site", "mydrv_alloc"}, {"group", "kworker"}}, 100 * MiB);
  ReportInput in;
  in.families = c.sink.families();
  CHECK(verdict_text(build_report(in)).find("100.0 MiB of kernel pages written by kworker, in mydrv_alloc") !=
        std::string::npos);
}

TEST_CASE("report: over an interval, what grew in the window, largest first, noise left out") {
  Collection before(16 * GiB, 20 * MiB), after(16 * GiB, 300 * MiB);
  testing::add_gauge(before.sink, "memledger_blackhole_bytes", {{"site", "anon_pipe_write"}, {"group", "plumber"}},
                     4 * MiB);
  testing::add_gauge(after.sink, "memledger_blackhole_bytes", {{"site", "anon_pipe_write"}, {"group", "plumber"}},
                     260 * MiB);
  // New in the window: counts from 0.
  testing::add_gauge(after.sink, "memledger_socket_memory_bytes", {{"group", "hoarder"}, {"protocol", "tcp"}},
                     20 * MiB);
  // Under a MiB of change: noise.
  testing::add_gauge(before.sink, "memledger_slab_cache_bytes", {{"cache", "dentry"}}, 40 * MiB);
  testing::add_gauge(after.sink, "memledger_slab_cache_bytes", {{"cache", "dentry"}}, 40.5 * MiB);
  // Shrank: not growth.
  testing::add_gauge(before.sink, "memledger_tmpfs_used_bytes", {{"mountpoint", "/dev/shm"}}, 90 * MiB);
  testing::add_gauge(after.sink, "memledger_tmpfs_used_bytes", {{"mountpoint", "/dev/shm"}}, 10 * MiB);
  // Only PSS counts for process groups (RSS double-counts shared pages).
  testing::add_gauge(after.sink, "memledger_process_memory_bytes", {{"group", "java"}, {"kind", "rss"}}, 900 * MiB);
  testing::add_gauge(after.sink, "memledger_process_memory_bytes", {{"group", "java"}, {"kind", "pss"}}, 8 * MiB);

  ReportInput in;
  in.earlier = before.sink.families();
  in.families = after.sink.families();
  in.interval_seconds = 10;
  Report r = build_report(in);
  REQUIRE(r.grew.size() == 3);
  CHECK(r.grew[0].name == "pipe buffers (anon_pipe_write) by plumber");
  CHECK(r.grew[0].bytes == 256 * MiB);
  CHECK(r.grew[1].name == "tcp socket buffers of hoarder");
  CHECK(r.grew[1].bytes == 20 * MiB);
  CHECK(r.grew[2].name == "processes java (PSS)");
  CHECK(r.change.at("unexplained") == 280 * MiB);
}

TEST_CASE("report: the page pools are the culprit when they hold half of unexplained") {
  Collection c(16 * GiB, 600 * MiB);
  testing::add_gauge(c.sink, "memledger_page_pool_inflight_bytes", {{"interface", "eth0"}}, 350 * MiB);
  ReportInput in;
  in.families = c.sink.families();
  CHECK(verdict_text(build_report(in)).find("350.0 MiB of network page pool pages in flight on eth0") !=
        std::string::npos);
}

TEST_CASE("report: call-site pages of the remainder group are not pinned on a process") {
  Collection c(16 * GiB, 600 * MiB);
  testing::add_gauge(c.sink, "memledger_blackhole_bytes", {{"site", "anon_pipe_write"}, {"group", "other"}},
                     400 * MiB);
  ReportInput in;
  in.families = c.sink.families();
  CHECK(verdict_text(build_report(in)).find(
            "400.0 MiB of pipe buffers written by processes outside the top groups, in anon_pipe_write") !=
        std::string::npos);
}
