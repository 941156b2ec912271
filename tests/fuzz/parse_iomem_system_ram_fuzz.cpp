// Seeds: tests/fixtures/**/iomem
#include "collectors/pagecensus.h"
#include "procfs/kpageflags.h"
#include "ledger/accounted_untyped.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    memledger::parse_iomem_system_ram(text, 4096);
  });
}
