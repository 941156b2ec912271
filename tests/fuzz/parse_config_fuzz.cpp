// Seeds: config/*.yml
#include "collectors/registry.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_config_or_reject(data, size, [](std::string_view text) {
    memledger::parse_exporter_config(text, "fuzz.yml");
  });
}
