// The scrape loop over a whole fixture host, with one source broken at a time: the broken
// collector reports success 0 and logs the file once; everything else is still served.
#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "collectors/registry.h"
#include "config/config.h"
#include "exporter/logging.h"
#include "exporter/scrape.h"

using namespace memledger;
namespace fs = std::filesystem;

namespace {

// A private copy of the captured 6.18 host that a test may damage.
class HostTree {
 public:
  HostTree() {
    char pattern[] = "/tmp/memledger-host-XXXXXX";
    root_ = ::mkdtemp(pattern);
    fs::copy(std::string(MEMLEDGER_FIXTURES) + "/ledger/linux-6.18-firecracker", root_,
             fs::copy_options::recursive);
  }
  ~HostTree() { fs::remove_all(root_); }
  fs::path proc(const std::string& file) const { return root_ / "proc" / file; }
  SourceRoots roots() const { return {root_ / "proc", root_ / "sys"}; }
  void write(const std::string& file, std::string_view content) const {
    std::ofstream out(proc(file), std::ios::binary | std::ios::trunc);
    out << content;
  }

 private:
  fs::path root_;
};

std::string scrape(const HostTree& host) {
  ScrapeRunner runner(host.roots(), build_collectors(default_config(), {}));
  return runner.scrape()->text;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

std::string success(std::string_view collector, int value) {
  return "memledger_scrape_collector_success{collector=\"" + std::string(collector) + "\"} " +
         std::to_string(value);
}

// Captures what the exporter logs while it lives.
class LogCapture {
 public:
  LogCapture() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_pattern("%v");
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return stream_.str(); }
  std::size_t count(const std::string& needle) const {
    std::size_t n = 0;
    std::string all = text();
    for (auto pos = all.find(needle); pos != std::string::npos; pos = all.find(needle, pos + 1)) ++n;
    return n;
  }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace

TEST_CASE("the captured host scrapes with every default collector succeeding") {
  HostTree host;
  std::string text = scrape(host);
  for (const auto& name : {"meminfo", "slab", "vmalloc", "hugepages", "lru", "zoneinfo", "ledger"}) {
    CHECK(has_line(text, success(name, 1)));
  }
  CHECK(text.find("memledger_unexplained_bytes{method=\"lru\"}") != std::string::npos);
}

TEST_CASE("a broken source fails only its collectors, logs the file once, and the scrape answers") {
  struct Damage {
    std::string file;
    std::string content;  // written over the file; "<dir>" replaces it by a directory
    std::vector<std::string> failing;
    std::string log_line;  // expected line=... in the log
  };
  static constexpr char kElfHeader[] = "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\xff\xfe";
  const std::string elf(kElfHeader, sizeof kElfHeader - 1);
  auto damage = GENERATE_COPY(values<Damage>({
      {"meminfo", "MemTotal:       24684084 kB\nMemFree:   12", {"meminfo", "lru", "ledger"}, "line=2"},
      {"meminfo", "", {"meminfo", "lru", "ledger"}, "line=-"},
      {"meminfo", "<dir>", {"meminfo", "lru", "ledger"}, "line=-"},
      {"slabinfo", "slabinfo - version: 2.1\n# name <active_objs>\nkmalloc-64 12 garbage\n", {"slab"}, "line=3"},
      {"slabinfo", "<missing>", {"slab"}, "line=-"},
      {"vmallocinfo", elf, {"vmalloc"}, "line=1"},
      {"zoneinfo", "Node 0, zone      DMA\n  pages free     x\n", {"zoneinfo"}, "line=2"},
      {"vmstat", "nr_free_pages\n", {"lru"}, "line=1"},
  }));
  INFO("damaged " << damage.file << " -> " << damage.content.substr(0, 30));
  HostTree host;
  if (damage.content == "<dir>") {
    fs::remove(host.proc(damage.file));
    fs::create_directory(host.proc(damage.file));
  } else if (damage.content == "<missing>") {
    fs::remove(host.proc(damage.file));
  } else {
    host.write(damage.file, damage.content);
  }
  LogCapture log;
  ScrapeRunner runner(host.roots(), build_collectors(default_config(), {}));
  std::string first = runner.scrape()->text;
  std::string second = runner.scrape()->text;
  for (const auto& name : {"meminfo", "slab", "vmalloc", "hugepages", "lru", "zoneinfo", "ledger"}) {
    bool should_fail = std::find(damage.failing.begin(), damage.failing.end(), name) != damage.failing.end();
    INFO(name);
    CHECK(has_line(first, success(name, should_fail ? 0 : 1)));
    CHECK(has_line(second, success(name, should_fail ? 0 : 1)));
  }
  const std::string path = host.proc(damage.file).string();
  for (const auto& name : damage.failing) {
    INFO(name);
    // Once per collector, not once per scrape.
    CHECK(log.count("collector=" + name + " file=" + path + " " + damage.log_line) == 1);
  }
}

TEST_CASE("a collector that recovers is logged once as recovered") {
  HostTree host;
  std::string good;
  {
    std::ifstream in(host.proc("slabinfo"));
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  LogCapture log;
  ScrapeRunner runner(host.roots(), build_collectors(default_config(), {}));
  host.write("slabinfo", "garbage\n");
  CHECK(has_line(runner.scrape()->text, success("slab", 0)));
  host.write("slabinfo", good);
  CHECK(has_line(runner.scrape()->text, success("slab", 1)));
  CHECK(has_line(runner.scrape()->text, success("slab", 1)));
  CHECK(log.count("collector recovered") == 1);
}

TEST_CASE("a failing collector's partial samples are dropped, not half-served") {
  HostTree host;
  host.write("meminfo", "MemTotal:       24684084 kB\nMemFree: oops kB\n");
  std::string text = scrape(host);
  CHECK(text.find("memledger_meminfo_bytes{") == std::string::npos);
  CHECK(text.find("memledger_ledger_bytes{") == std::string::npos);
}

TEST_CASE("every file is read once per scrape, whichever collectors share it") {
  HostTree host;
  Snapshot snapshot(host.roots());
  MetricSink sink;
  auto run_all = [&] {
    for (auto& collector : build_collectors(default_config(), {})) {
      try {
        collector->collect(snapshot, sink);
      } catch (const std::exception&) {
        // A source this tree lacks: a failed read is cached like a successful one.
      }
    }
  };
  run_all();
  std::size_t after_one_pass = snapshot.files_read();
  run_all();
  CHECK(snapshot.files_read() == after_one_pass);
}
