#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "collectors/registry.h"
#include "sample_lookup.h"
#include "collectors/process.h"
#include "procfs/pid.h"
#include "collectors/process_groups.h"
#include "procfs/snapshot.h"

using namespace memledger;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(MEMLEDGER_FIXTURES) / "process";

std::string read_fixture(const fs::path& relative) {
  std::ifstream in(kFixtures / relative, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

constexpr std::uint64_t KiB = 1024;

// The value of the one sample of `family` whose labels include all of `labels`.
std::optional<double> sample(const MetricSink& sink, std::string_view family,
                             const std::map<std::string, std::string>& labels = {}) {
  std::optional<double> found;
  for (const auto& fam : sink.families()) {
    if (fam.name != family) continue;
    for (const auto& metric : fam.metric) {
      std::size_t matched = 0;
      for (const auto& label : metric.label) {
        auto it = labels.find(label.name);
        if (it != labels.end() && it->second == label.value) ++matched;
      }
      if (matched != labels.size()) continue;
      REQUIRE_FALSE(found.has_value());  // the labels must pick exactly one sample
      found = metric.gauge.value;
    }
  }
  return found;
}

double state(const MetricSink& sink, std::string_view name) {
  return sample(sink, "memledger_processes", {{"state", std::string(name)}}).value();
}

double memory(const MetricSink& sink, std::string_view group, std::string_view kind) {
  auto v = sample(sink, "memledger_process_memory_bytes",
                  {{"group", std::string(group)}, {"kind", std::string(kind)}});
  REQUIRE(v.has_value());
  return *v;
}

std::size_t group_count(const MetricSink& sink) {
  for (const auto& fam : sink.families()) {
    if (fam.name == "memledger_process_group_processes") return fam.metric.size();
  }
  return 0;
}

MetricSink scrape(Collector& collector, const fs::path& procfs) {
  Snapshot snapshot(SourceRoots{procfs, procfs / "no-sysfs"});
  MetricSink sink;
  collector.collect(snapshot, sink);
  return sink;
}

// A clock that moves `step` forward each time it is read: every smaps read then takes
// exactly one step, whatever the machine's speed.
struct FakeClock {
  std::shared_ptr<std::chrono::steady_clock::time_point> now =
      std::make_shared<std::chrono::steady_clock::time_point>();
  std::chrono::milliseconds step{0};
  void advance(std::chrono::seconds by) { *now += by; }
  SteadyClock clock() {
    return [now = now, step = step] { return *now += step; };
  }
};

// A procfs tree of processes with given names and RSS, each with a small smaps_rollup.
class ProcTree {
 public:
  ProcTree() : root_(fs::temp_directory_path() / ("memledger-process-" + std::to_string(::getpid()) +
                                                  "-" + std::to_string(counter_++))) {
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::ofstream(root_ / "meminfo") << read_fixture("current/proc/meminfo");
  }
  ~ProcTree() { fs::remove_all(root_); }
  const fs::path& root() const { return root_; }

  void add(int pid, std::string_view comm, std::uint64_t rss_pages, std::uint64_t pss_kb) {
    fs::create_directories(root_ / std::to_string(pid));
    std::ofstream(root_ / std::to_string(pid) / "stat")
        << pid << " (" << comm << ") S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 " << 1000 + pid
        << " 1000 " << rss_pages << " 18446744073709551615 0\n";
    std::ofstream(root_ / std::to_string(pid) / "smaps_rollup")
        << "00400000-7ffd2a1f9000 ---p 00000000 00:00 0      [rollup]\n"
        << "Rss: " << rss_pages * 4 << " kB\nPss: " << pss_kb << " kB\n";
  }
  void remove(int pid) { fs::remove_all(root_ / std::to_string(pid)); }

 private:
  static inline int counter_ = 0;
  fs::path root_;
};

}  // namespace

TEST_CASE("parse_smaps reads smaps_rollup of a 6.18 kernel") {
  auto m = parse_smaps(read_fixture("current/proc/13335/smaps_rollup"));
  CHECK(m.get(MemoryKind::rss) == 13808 * KiB);
  CHECK(m.get(MemoryKind::pss) == 11764 * KiB);
  CHECK(m.get(MemoryKind::pss_anon) == 7008 * KiB);
  CHECK(m.get(MemoryKind::pss_file) == 4756 * KiB);
  CHECK(m.has(MemoryKind::pss_shmem));
  CHECK(m.get(MemoryKind::uss) == (4584 + 7008) * KiB);
  CHECK(m.has(MemoryKind::swap));
  CHECK(m.has(MemoryKind::swap_pss));
}

TEST_CASE("parse_smaps works with what a 4.14-5.2 kernel has") {
  auto m = parse_smaps(read_fixture("kernel-5.0/proc/100/smaps_rollup"));
  CHECK(m.get(MemoryKind::pss) == 228 * KiB);
  CHECK(m.get(MemoryKind::uss) == (52 + 176) * KiB);
  CHECK(m.get(MemoryKind::swap_pss) == 8 * KiB);
  CHECK_FALSE(m.has(MemoryKind::pss_anon));
  CHECK_FALSE(m.has(MemoryKind::pss_file));
  CHECK_FALSE(m.has(MemoryKind::pss_shmem));
}

TEST_CASE("parse_smaps sums the per-mapping blocks of smaps (kernels before 4.14)") {
  auto m = parse_smaps(read_fixture("kernel-4.9/proc/100/smaps"));
  CHECK(m.get(MemoryKind::rss) == (300 + 64 + 20) * KiB);
  CHECK(m.get(MemoryKind::pss) == (100 + 64 + 20) * KiB);
  CHECK(m.get(MemoryKind::uss) == (64 + 4 + 16) * KiB);
  CHECK(m.get(MemoryKind::swap) == 16 * KiB);
}

TEST_CASE("parse_smaps rejects a malformed field with its line") {
  auto line_of = [](std::string_view text) {
    try {
      parse_smaps(text);
    } catch (const ParseError& e) {
      return e.line();
    }
    FAIL("no ParseError");
    return std::size_t{0};
  };
  CHECK(line_of("hdr [rollup]\nRss: 1 kB\nPss: x kB\n") == 3);
  CHECK(line_of("Rss: 1 kB\nPss: 2 MB\n") == 2);
  CHECK(line_of("Rss: 1 kB\nPss: 2\n") == 2);
  CHECK(line_of("Rss: 1 kB 3\n") == 1);
  // Fields the collector does not use are not parsed at all.
  CHECK(parse_smaps("VmFlags: rd wr\nTHPeligible: 0\nRss: 4 kB\n").get(MemoryKind::rss) == 4096);
}

TEST_CASE("parse_proc_stat takes comm up to the last ')' whatever bytes it holds") {
  auto text = read_fixture("current/proc/13335/stat");
  auto stat = parse_proc_stat(text);
  CHECK(stat.comm == std::string_view("q\"u\\o\nt\xff\xfe)(x"));
  CHECK(stat.state == 'S');
  CHECK(stat.starttime == 87829);
  CHECK(stat.rss_pages == 3410);
  CHECK_FALSE(stat.kernel_thread());

  CHECK(parse_proc_stat(read_fixture("current/proc/2/stat")).kernel_thread());
  CHECK(parse_proc_stat(read_fixture("current/proc/8699/stat")).exited());
  CHECK(parse_proc_stat("7 () R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 9 0\n").comm.empty());
}

TEST_CASE("parse_proc_stat rejects truncated or foreign text") {
  CHECK_THROWS_AS(parse_proc_stat("12 (a) S 1 1 1 0 -1 0 0\n"), ParseError);
  CHECK_THROWS_AS(parse_proc_stat("no parentheses here"), ParseError);
  CHECK_THROWS_AS(parse_proc_stat("1 (a) S 1 1 1 0 -1 x 0 0 0 0 0 0 0 0 20 0 1 0 5 0 9\n"), ParseError);
}

TEST_CASE("cgroup paths and systemd units") {
  const std::string v1 = read_fixture("current/proc/13335/cgroup");
  CHECK(cgroup_path(v1) == "/process_api/2c2e257d80417e239b7b67463bce5919");
  CHECK(systemd_cgroup_path(v1) == "/");
  CHECK(systemd_unit(systemd_cgroup_path(v1)) == "-.slice");

  std::string_view v2 = "0::/system.slice/postgresql@15-main.service\n";
  CHECK(cgroup_path(v2) == "/system.slice/postgresql@15-main.service");
  CHECK(systemd_unit(systemd_cgroup_path(v2)) == "postgresql@15-main.service");

  std::string_view hybrid =
      "5:cpu,memory,cpuacct:/user.slice\n1:name=systemd:/user.slice/user-1000.slice/session-4.scope\n"
      "0::/user.slice/user-1000.slice/session-4.scope\n";
  CHECK(cgroup_path(hybrid) == "/user.slice");
  CHECK(systemd_unit(systemd_cgroup_path(hybrid)) == "session-4.scope");

  CHECK(systemd_unit("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service") ==
        "foo.service");
  CHECK(systemd_unit("/user.slice/user-1000.slice") == "user-1000.slice");
  CHECK(systemd_unit("/docker/0123abcd") == "/docker/0123abcd");
  CHECK(cgroup_path("").empty());
}

TEST_CASE("status_real_uid") {
  CHECK(status_real_uid(read_fixture("current/proc/13672/status")) == 65534u);
  CHECK(status_real_uid("Name:\tx\nUid:\t1000\t0\t0\t0\n") == 1000u);
  CHECK_FALSE(status_real_uid("Name:\tx\n").has_value());
}

TEST_CASE("group_template_error") {
  CHECK(group_template_error("java-$1", 1).empty());
  CHECK(group_template_error("$0 costs $$5", 0).empty());
  CHECK(group_template_error("{comm}@{exe}", 0).empty());
  CHECK(group_template_error("java-$2", 1) == "name uses $2 but the regex has 1 capture group(s)");
  CHECK_FALSE(group_template_error("java-$x", 1).empty());
  CHECK_FALSE(group_template_error("java-$", 1).empty());
}

namespace {

struct FakeFacts final : ProcessFacts {
  std::string comm_, exe_, cmdline_, cgroup_;
  std::optional<std::uint32_t> uid_;
  int reads = 0;
  std::string_view comm() override { return comm_; }
  const std::string& exe() override { return ++reads, exe_; }
  const std::string& cmdline() override { return ++reads, cmdline_; }
  const std::string& cgroup() override { return ++reads, cgroup_; }
  std::optional<std::uint32_t> uid() override { return ++reads, uid_; }
};

ProcessConfig rules_config(std::vector<ProcessGroupRule> rules,
                           ProcessGroupBy by = ProcessGroupBy::name) {
  ProcessConfig config;
  config.rules = std::move(rules);
  config.group_by = by;
  return config;
}

}  // namespace

TEST_CASE("ProcessGrouper: first matching rule wins, with captures and placeholders") {
  using F = ProcessGroupRule::Field;
  ProcessGrouper grouper(rules_config({
      {F::cmdline, "java .*-jar ([^ ]*/)?([^ /]+)\\.jar", "java-$2"},
      {F::exe, "^/usr/lib/postgresql/", "postgres"},
      {F::comm, "^(kube|etcd)", "{comm} via {exe} $$"},
  }));
  FakeFacts java;
  java.comm_ = "java";
  java.cmdline_ = "/usr/bin/java -Xmx4g -jar /srv/billing.jar --port 80";
  CHECK(grouper.group_of(java) == "java-billing");

  FakeFacts pg;
  pg.comm_ = "postgres";
  pg.exe_ = "/usr/lib/postgresql/15/bin/postgres";
  CHECK(grouper.group_of(pg) == "postgres");

  FakeFacts kube;
  kube.comm_ = "kubelet";
  kube.exe_ = "/usr/local/bin/kubelet";
  CHECK(grouper.group_of(kube) == "kubelet via kubelet $");

  FakeFacts other;
  other.comm_ = "sshd";
  CHECK(grouper.group_of(other) == "sshd");  // no rule matched: group_by name
}

TEST_CASE("ProcessGrouper: group_by fallbacks read only what they need") {
  FakeFacts facts;
  facts.comm_ = "sleep";
  facts.cgroup_ = "0::/system.slice/cron.service\n";
  facts.uid_ = 0;
  {
    ProcessGrouper by_name(rules_config({}));
    CHECK(by_name.group_of(facts) == "sleep");
    CHECK(facts.reads == 0);
  }
  CHECK(ProcessGrouper(rules_config({}, ProcessGroupBy::cgroup)).group_of(facts) ==
        "/system.slice/cron.service");
  CHECK(ProcessGrouper(rules_config({}, ProcessGroupBy::unit)).group_of(facts) == "cron.service");
  CHECK(ProcessGrouper(rules_config({}, ProcessGroupBy::user)).group_of(facts) == "root");
  facts.uid_ = 4000000000u;  // no such user: the number
  CHECK(ProcessGrouper(rules_config({}, ProcessGroupBy::user)).group_of(facts) == "4000000000");
  facts.cgroup_.clear();  // unreadable (the process exited)
  CHECK(ProcessGrouper(rules_config({}, ProcessGroupBy::unit)).group_of(facts) == "unknown");
}

TEST_CASE("ProcessGrouper: names are valid UTF-8 and never empty") {
  ProcessGrouper grouper(rules_config({}));
  FakeFacts hostile;
  hostile.comm_ = "q\"u\\o\nt\xff\xfe)(x";
  CHECK(grouper.group_of(hostile) == "q\"u\\o\nt\xEF\xBF\xBD\xEF\xBF\xBD)(x");
  FakeFacts empty;
  CHECK(grouper.group_of(empty) == "unknown");
}

TEST_CASE("process collector on a 6.18 tree: states, groups, totals") {
  auto collector = kProcessCollector.make_from(default_config());
  auto sink = scrape(*collector, kFixtures / "current/proc");
  CHECK(state(sink, "measured") == 3);        // 13334, 13335, 13672
  CHECK(state(sink, "unreadable") == 1);      // pid 1: RSS from stat only
  CHECK(state(sink, "vanished") == 2);        // 4242 (no stat), 8699 (zombie)
  CHECK(state(sink, "cached") == 0);
  CHECK(state(sink, "budget_exceeded") == 0);  // kthreadd (2) is not counted at all

  CHECK(sample(sink, "memledger_processes_pss_bytes") == (481 + 11764 + 180) * KiB);
  CHECK(sample(sink, "memledger_processes_rss_bytes") == (2032 + 13808 + 1796) * KiB + 4146 * 4096);
  CHECK(sample(sink, "memledger_processes_unmeasured_rss_bytes") == 4146 * 4096);
  // The pss ledger is computed from the same readings.
  CHECK(sample(sink, "memledger_ledger_bytes", {{"method", "pss"}, {"category", "process_pss"}}) ==
        (481 + 11764 + 180) * KiB);
  CHECK(sample(sink, "memledger_unexplained_bytes", {{"method", "pss"}}).has_value());

  const std::string hostile = "q\"u\\o\nt\xEF\xBF\xBD\xEF\xBF\xBD)(x";
  CHECK(memory(sink, hostile, "pss") == 11764 * KiB);
  CHECK(memory(sink, hostile, "uss") == (4584 + 7008) * KiB);
  CHECK(memory(sink, "sleep", "rss") == 1796 * KiB);
  CHECK(memory(sink, "process_api", "rss") == 4146 * 4096);
  // Unreadable: no PSS figures are invented for it.
  CHECK_FALSE(sample(sink, "memledger_process_memory_bytes",
                     {{"group", "process_api"}, {"kind", "pss"}}).has_value());
  CHECK(sample(sink, "memledger_process_group_processes", {{"group", "bash"}}) == 1);
  CHECK(group_count(sink) == 4);
  CHECK_FALSE(sample(sink, "memledger_process_group_processes", {{"group", "other"}}));

  // The whole exposition is valid UTF-8 with the hostile name escaped.
  auto text = prometheus::TextSerializer().Serialize(sink.families());
  CHECK(sanitize_label_value(text) == text);
  CHECK(text.find("group=\"q\\\"u\\\\o\\nt\xEF\xBF\xBD\xEF\xBF\xBD)(x\"") != std::string::npos);
}

TEST_CASE("process collector on older kernels works with what they have") {
  auto collector = kProcessCollector.make_from(default_config());
  auto v5 = scrape(*collector, kFixtures / "kernel-5.0/proc");
  CHECK(memory(v5, "postgres", "pss") == 228 * KiB);
  CHECK(memory(v5, "postgres", "swap_pss") == 8 * KiB);
  CHECK_FALSE(sample(v5, "memledger_process_memory_bytes",
                     {{"group", "postgres"}, {"kind", "pss_anon"}}).has_value());

  auto old = kProcessCollector.make_from(default_config());
  auto v4 = scrape(*old, kFixtures / "kernel-4.9/proc");
  CHECK(state(v4, "measured") == 1);
  CHECK(memory(v4, "postgres", "pss") == (100 + 64 + 20) * KiB);
  CHECK(memory(v4, "postgres", "rss") == (300 + 64 + 20) * KiB);
}

TEST_CASE("process collector groups by user, unit and cgroup from the tree") {
  ProcessConfig config;
  config.group_by = ProcessGroupBy::user;
  auto by_user = make_process_collector_with_clock(config, FakeClock{}.clock());
  auto sink = scrape(*by_user, kFixtures / "current/proc");
  CHECK(memory(sink, "nobody", "pss") == 180 * KiB);
  CHECK(memory(sink, "root", "pss") == (481 + 11764) * KiB);

  using F = ProcessGroupRule::Field;
  config = rules_config({{F::exe, "/([^/]+)$", "exe-$1"}}, ProcessGroupBy::cgroup);
  auto by_rule = make_process_collector_with_clock(config, FakeClock{}.clock());
  sink = scrape(*by_rule, kFixtures / "current/proc");
  CHECK(memory(sink, "exe-sleep", "pss") == 180 * KiB);  // " (deleted)" is not part of it
  CHECK(memory(sink, "exe-python3.11", "pss") == 11764 * KiB);
  // pid 1's exe cannot be read: it falls back to its cgroup.
  CHECK(memory(sink, "/", "rss") == 4146 * 4096);
}

TEST_CASE("process collector: top groups by PSS, the rest as other") {
  ProcTree tree;
  tree.add(10, "small", 10, 40);
  tree.add(11, "big", 1000, 4000);
  tree.add(12, "middle", 100, 400);
  tree.add(13, "middle", 100, 400);
  tree.add(14, "other", 5, 20);  // a process really named "other" joins the catch-all
  ProcessConfig config;
  config.top_groups = 2;
  auto collector = make_process_collector_with_clock(config, FakeClock{}.clock());
  auto sink = scrape(*collector, tree.root());
  CHECK(memory(sink, "big", "pss") == 4000 * KiB);
  CHECK(memory(sink, "middle", "pss") == 800 * KiB);
  CHECK(memory(sink, "other", "pss") == 60 * KiB);
  CHECK(sample(sink, "memledger_process_group_processes", {{"group", "other"}}) == 2);
  CHECK(group_count(sink) == 3);
}

TEST_CASE("process collector: the smaps budget holds and rotates over the processes") {
  ProcTree tree;
  for (int pid = 100; pid < 110; ++pid) tree.add(pid, "worker", 100, 200);
  FakeClock clock;
  clock.step = std::chrono::milliseconds(100);
  ProcessConfig config;
  config.smaps_budget_seconds = 0.5;
  auto collector = make_process_collector_with_clock(config, clock.clock());

  // Each read costs two clock steps (before and after): 0.2 s; reads start while less
  // than 0.5 s of the budget is spent.
  auto first = scrape(*collector, tree.root());
  CHECK(state(first, "measured") == 2);
  CHECK(state(first, "budget_exceeded") == 8);
  CHECK(*sample(first, "memledger_process_smaps_read_seconds") <= 0.5);
  CHECK(sample(first, "memledger_processes_pss_bytes") == 2 * 200 * KiB);
  CHECK(sample(first, "memledger_processes_unmeasured_rss_bytes") == 8 * 100 * 4096);
  CHECK(memory(first, "worker", "rss") == 10 * 100 * 4096);

  // The next scrapes read the processes never read yet and reuse the others' figures.
  auto second = scrape(*collector, tree.root());
  CHECK(state(second, "measured") == 2);
  CHECK(state(second, "cached") == 2);
  CHECK(state(second, "budget_exceeded") == 6);
  CHECK(*sample(second, "memledger_process_smaps_cache_age_seconds") > 0);
  for (int i = 0; i < 3; ++i) scrape(*collector, tree.root());
  auto sixth = scrape(*collector, tree.root());
  CHECK(state(sixth, "budget_exceeded") == 0);
  CHECK(state(sixth, "measured") == 2);
  CHECK(state(sixth, "cached") == 8);
  CHECK(sample(sixth, "memledger_processes_pss_bytes") == 10 * 200 * KiB);
}

TEST_CASE("process collector: a read predicted to overrun the budget is not started") {
  ProcTree tree;
  tree.add(100, "huge", 50ull << 18, 1000);  // 50 GiB of RSS: about a second to walk
  tree.add(101, "small", 10, 40);
  ProcessConfig config;
  config.smaps_budget_seconds = 0.5;
  config.large_process_rss_bytes = 1ull << 40;
  auto collector = make_process_collector_with_clock(config, FakeClock{}.clock());
  auto sink = scrape(*collector, tree.root());
  CHECK(state(sink, "budget_exceeded") == 1);
  CHECK(state(sink, "measured") == 1);
  CHECK(memory(sink, "huge", "rss") == 50.0 * (1ull << 30));
  CHECK_FALSE(sample(sink, "memledger_process_memory_bytes", {{"group", "huge"}, {"kind", "pss"}}));
}

TEST_CASE("process collector: large processes are re-read once per refresh interval") {
  ProcTree tree;
  tree.add(100, "large", 1000, 3000);
  tree.add(101, "small", 10, 40);
  FakeClock clock;
  ProcessConfig config;
  config.large_process_rss_bytes = 1000 * 4096;
  config.large_process_refresh_seconds = 60;
  auto collector = make_process_collector_with_clock(config, clock.clock());
  CHECK(state(scrape(*collector, tree.root()), "measured") == 2);

  clock.advance(std::chrono::seconds(30));
  tree.add(100, "large", 2000, 9999);  // grew: RSS shows at once, PSS at the next read
  auto sink = scrape(*collector, tree.root());
  CHECK(state(sink, "measured") == 1);
  CHECK(state(sink, "cached") == 1);
  CHECK(memory(sink, "large", "pss") == 3000 * KiB);
  CHECK(memory(sink, "large", "rss") == 2000 * 4096);
  CHECK(sample(sink, "memledger_process_smaps_cache_age_seconds") == 30);

  clock.advance(std::chrono::seconds(31));
  sink = scrape(*collector, tree.root());
  CHECK(state(sink, "measured") == 2);
  CHECK(memory(sink, "large", "pss") == 9999 * KiB);
  CHECK(sample(sink, "memledger_process_smaps_cache_age_seconds") == 0);
}

TEST_CASE("process collector regroups a renamed process and forgets exited ones") {
  ProcTree tree;
  tree.add(100, "first", 10, 40);
  auto collector = kProcessCollector.make_from(default_config());
  CHECK(memory(scrape(*collector, tree.root()), "first", "pss") == 40 * KiB);
  tree.add(100, "renamed", 10, 40);  // exec keeps the pid and start time, not the name
  auto renamed = scrape(*collector, tree.root());
  CHECK(memory(renamed, "renamed", "pss") == 40 * KiB);
  CHECK(group_count(renamed) == 1);
  tree.remove(100);
  auto empty = scrape(*collector, tree.root());
  CHECK(group_count(empty) == 0);
  CHECK(sample(empty, "memledger_processes_pss_bytes") == 0);
  tree.add(100, "second", 10, 80);
  CHECK(memory(scrape(*collector, tree.root()), "second", "pss") == 80 * KiB);
}

// The exposition without the one sample that measures time.
std::string without_read_time(const MetricSink& sink) {
  std::string text = prometheus::TextSerializer().Serialize(sink.families());
  std::string kept;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin) + 1;
    std::string_view line(text.data() + begin, end - begin);
    if (line.rfind("memledger_process_smaps_read_seconds ", 0) != 0) kept.append(line);
    begin = end;
  }
  return kept;
}

TEST_CASE("process collector: two reading threads give what one gives") {
  ProcTree tree;
  for (int pid = 100; pid < 400; ++pid) {
    tree.add(pid, "group" + std::to_string(pid % 23), 10 + pid, 40 + 3 * pid);
  }
  fs::create_directories(tree.root() / "399");
  fs::remove(tree.root() / "399" / "stat");  // exited between the listing and the reading
  auto single = testing::make_collector(kProcessCollector, "read_threads: 1\nsmaps_budget_seconds: 1000");
  auto parallel = testing::make_collector(kProcessCollector, "read_threads: 2\nsmaps_budget_seconds: 1000");
  for (int scrape_number = 0; scrape_number < 2; ++scrape_number) {
    auto expected = scrape(*single, tree.root());
    auto got = scrape(*parallel, tree.root());
    CHECK(state(got, "measured") == 299);
    CHECK(state(got, "vanished") == 1);
    CHECK(without_read_time(got) == without_read_time(expected));
  }
}

TEST_CASE("process collector: a malformed file read on any thread fails the collector") {
  ProcTree tree;
  for (int pid = 100; pid < 400; ++pid) tree.add(pid, "worker", 10, 40);
  std::ofstream(tree.root() / "371" / "smaps_rollup") << "Pss: lots kB\n";
  auto collector = testing::make_collector(kProcessCollector, "read_threads: 2");
  Snapshot snapshot(SourceRoots{tree.root(), tree.root() / "no-sysfs"});
  MetricSink sink;
  try {
    collector->collect(snapshot, sink);
    FAIL("no CollectError");
  } catch (const CollectError& e) {
    CHECK(e.file() == (tree.root() / "371" / "smaps_rollup").string());
    CHECK(e.line() == 1);
  }
}

TEST_CASE("process configuration: keys, defaults and errors with line and column") {
  auto parsed = parse_exporter_config(R"(collectors:
  process:
    group_by: unit
    top_groups: 7
    smaps_budget_seconds: 0.25
    large_process_rss_bytes: 1048576
    large_process_refresh_seconds: 10
    read_threads: 1
    rules:
      - {match: cmdline, regex: 'java .*-jar ([^ ]+)', name: 'java-$1'}
)",
                             "test.yml");
  ProcessConfig config = process_config(parsed.options(kProcessCollector.schema));
  CHECK(config.group_by == ProcessGroupBy::unit);
  CHECK(config.top_groups == 7);
  CHECK(config.smaps_budget_seconds == 0.25);
  CHECK(config.large_process_rss_bytes == 1048576);
  CHECK(config.large_process_refresh_seconds == 10);
  CHECK(config.read_threads == 1);
  REQUIRE(config.rules.size() == 1);
  CHECK(config.rules[0].field == ProcessGroupRule::Field::cmdline);
  CHECK(config.rules[0].name_template == "java-$1");

  auto defaults = process_config(default_config().options(kProcessCollector.schema));
  CHECK(defaults.group_by == ProcessGroupBy::name);
  CHECK(defaults.top_groups == 50);
  CHECK(defaults.rules.empty());
  CHECK(defaults.read_threads == 2);

  auto error_of = [](std::string_view yaml) {
    try {
      parse_exporter_config(yaml, "test.yml");
    } catch (const ConfigError& e) {
      return std::make_tuple(e.line(), e.column(), e.reason());
    }
    FAIL("no ConfigError");
    return std::make_tuple(std::size_t{0}, std::size_t{0}, std::string());
  };
  auto [line, column, reason] =
      error_of("collectors:\n  process:\n    rules:\n      - {match: comm, regex: 'a(b', name: x}\n");
  CHECK(line == 4);
  CHECK(column == 30);  // the regex's own position
  CHECK(reason.find("invalid regex") != std::string::npos);
  CHECK(std::get<2>(error_of("collectors:\n  process:\n    rules:\n      - {match: comm, regex: 'a', name: '$1'}\n")) ==
        "name uses $1 but the regex has 0 capture group(s)");
  CHECK(std::get<0>(error_of("collectors:\n  process:\n    group_by: pid\n")) == 3);
  CHECK(std::get<0>(error_of("collectors:\n  process:\n    rules:\n      - {match: argv, regex: a, name: x}\n")) == 4);
  CHECK(std::get<0>(error_of("collectors:\n  process:\n    smaps_budget_seconds: 1s\n")) == 3);
  CHECK(std::get<2>(error_of("collectors:\n  process:\n    read_threads: 0\n")) ==
        "read_threads must be at least 1");
  CHECK(std::get<0>(error_of("collectors:\n  process:\n    rules:\n      - {match: comm, regex: a}\n")) == 4);
}
