// Seeds: tests/fixtures/**/memory.stat
#include "collectors/cgroup.h"
#include "procfs/cgroup.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    memledger::cgroup_v2_kernel_memory("/fuzz", text);
  });
}
