// Seeds: tests/fixtures/**/slabinfo
#include "collectors/slab.h"
#include "procfs/slabinfo.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    memledger::parse_slabinfo(text);
  });
}
