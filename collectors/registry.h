#pragma once
// The one registry of collectors: their names, whether they run by default, and how
// each is built from the configuration.
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "config/config.h"

namespace memledger {

struct CollectorInfo {
  std::string_view name;
  std::string_view description;  // shown by --help
  bool enabled_by_default;
  std::function<std::unique_ptr<Collector>(const Config&)> make;
};

const std::vector<CollectorInfo>& collector_catalog();

}  // namespace memledger
