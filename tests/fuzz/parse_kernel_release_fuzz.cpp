// Seeds: tests/fixtures/**/osrelease
#include "collectors/ledger.h"
#include "ledger/ledger.h"
#include "collectors/ledger_emit.h"
#include "procfs/kernel_release.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    memledger::parse_kernel_release(text);
  });
}
