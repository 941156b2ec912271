// Seeds: tests/fixtures/**/proc/[0-9]*/stat
#include "collectors/process.h"
#include "procfs/pid.h"
#include "collectors/process_groups.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    memledger::parse_proc_stat(text);
  });
}
