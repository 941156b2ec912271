// Seeds: tests/fixtures/**/vmmemctl
#include "collectors/balloon.h"
#include "procfs/balloon.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    memledger::parse_vmw_balloon_debugfs(text);
  });
}
