// Seeds: tests/fixtures/sockets/**/sockstat*
#include "procfs/sockstat.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    memledger::parse_sockstat(text);
  });
}
