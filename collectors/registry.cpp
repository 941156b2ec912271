#include "collectors/registry.h"

#include "collectors/allocinfo.h"
#include "collectors/balloon.h"
#include "collectors/blackhole.h"
#include "collectors/buddyinfo.h"
#include "collectors/cgroup.h"
#include "collectors/hugepages.h"
#include "collectors/ledger.h"
#include "collectors/lru.h"
#include "collectors/meminfo.h"
#include "collectors/pagecensus.h"
#include "collectors/process.h"
#include "collectors/shmem.h"
#include "collectors/slab.h"
#include "collectors/sockets.h"
#include "collectors/vmalloc.h"
#include "collectors/zoneinfo.h"

namespace memledger {

const std::vector<const CollectorInfo*>& collector_catalog() {
  static const std::vector<const CollectorInfo*> catalog = {
      &kMeminfoCollector,   &kSlabCollector,    &kVmallocCollector, &kHugepagesCollector,
      &kLruCollector,       &kZoneinfoCollector, &kProcessCollector, &kLedgerCollector,
      &kBalloonCollector,   &kShmemCollector,    &kCgroupCollector,  &kBuddyinfoCollector,
      &kAllocinfoCollector, &kPagecensusCollector, &kSocketsCollector, &kBlackholeCollector,
  };
  return catalog;
}

namespace {

std::vector<const CollectorSchema*> schemas() {
  std::vector<const CollectorSchema*> out;
  for (const auto* info : collector_catalog()) out.push_back(&info->schema);
  return out;
}

}  // namespace

Config parse_exporter_config(std::string_view yaml, std::string_view source) {
  return parse_config(yaml, source, schemas());
}

Config load_exporter_config_file(const std::string& path) { return load_config_file(path, schemas()); }

std::vector<std::unique_ptr<Collector>> build_collectors(
    const Config& config, const std::map<std::string, bool, std::less<>>& overrides) {
  std::vector<std::unique_ptr<Collector>> collectors;
  for (const auto* info : collector_catalog()) {
    bool enabled = info->enabled_by_default();
    if (auto it = config.collector_enabled.find(info->name()); it != config.collector_enabled.end()) {
      enabled = it->second;
    }
    if (auto it = overrides.find(info->name()); it != overrides.end()) enabled = it->second;
    if (enabled) collectors.push_back(info->make_from(config));
  }
  return collectors;
}

}  // namespace memledger
