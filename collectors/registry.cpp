#include "collectors/registry.h"

#include "collectors/meminfo.h"

namespace memledger {

const std::vector<CollectorInfo>& collector_catalog() {
  static const std::vector<CollectorInfo> catalog = {
      {"meminfo", "every /proc/meminfo field, in bytes", true, make_meminfo_collector},
  };
  return catalog;
}

}  // namespace memledger
