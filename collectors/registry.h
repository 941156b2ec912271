#pragma once
// The one registry of collectors. Each collector declares itself once, in its own .cpp:
// name, whether it runs by default, its options with their defaults, the metric families
// it emits and how it is built; the catalog lists those declarations. The configuration
// file, --help, the README's metrics reference and config/memledger_exporter.yml are all
// checked against them.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "collectors/metric_sink.h"
#include "config/config.h"

namespace memledger {

struct CollectorInfo {
  CollectorSchema schema;        // name, default on/off, options
  std::string_view description;  // shown by --help
  std::vector<const MetricFamilyDecl*> families;
  std::function<std::unique_ptr<Collector>(const CollectorOptions&)> make;

  std::string_view name() const { return schema.name; }
  bool enabled_by_default() const { return schema.enabled_by_default; }
  std::unique_ptr<Collector> make_from(const Config& config) const { return make(config.options(schema)); }
};

// Every collector, in exposition order.
const std::vector<const CollectorInfo*>& collector_catalog();

// The configuration of the exporter's collectors: parse_config over the catalog's schemas.
Config parse_exporter_config(std::string_view yaml, std::string_view source);
Config load_exporter_config_file(const std::string& path);
// No file: every collector at its declared defaults.
inline Config default_config() { return Config{}; }

// The collectors the config and the --[no-]collector.NAME flags enable, in catalog order.
std::vector<std::unique_ptr<Collector>> build_collectors(
    const Config& config, const std::map<std::string, bool, std::less<>>& overrides);

}  // namespace memledger
