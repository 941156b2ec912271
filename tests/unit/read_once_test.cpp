// Every kernel file of a scrape is parsed once, by one accessor, however many collectors
// use it: all collectors run over one Snapshot of a captured host.
#include <catch2/catch.hpp>

#include <string>

#include "collectors/registry.h"
#include "config/config.h"
#include "procfs/snapshot.h"

namespace memledger {
namespace {

TEST_CASE("each kernel file is parsed once per scrape, and never also taken raw") {
  const std::string tree = std::string(MEMLEDGER_FIXTURES) + "/ledger/linux-6.18-firecracker";
  Snapshot snapshot(SourceRoots{tree + "/proc", tree + "/sys", 4096});
  Config config = default_config();
  std::size_t ran = 0;
  for (const auto& info : collector_catalog()) {
    if (info->name() == "pagecensus") continue;  // reads in a background thread, its own snapshot
    MetricSink sink;
    try {
      info->make_from(config)->collect(snapshot, sink);
    } catch (const std::exception&) {
      // A collector whose files the tree lacks fails; what matters is how files were read.
    }
    ++ran;
  }
  CHECK(ran >= 12);
  const auto uses = snapshot.file_uses();
  const auto meminfo = uses.find(tree + "/proc/meminfo");
  REQUIRE(meminfo != uses.end());
  CHECK(meminfo->second.parses == 1);  // meminfo, lru, ledger, balloon, shmem... share it
  for (const auto& [path, use] : uses) {
    INFO(path << ": parsed " << use.parses << " times, read raw " << use.raw_reads << " times");
    CHECK(use.parses <= 1);
    CHECK_FALSE((use.parses > 0 && use.raw_reads > 0));
  }
}

}  // namespace
}  // namespace memledger
