// Seeds: tests/fixtures/pagemap/maps
#include "procfs/maps.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    memledger::parse_maps_ranges(text);
  });
}
