// Seeds: tests/fixtures/**/nr_hugepages tests/fixtures/**/free_hugepages
#include "collectors/hugepages.h"
#include "procfs/hugepages.h"
#include "procfs/sysfs_value.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    memledger::parse_sysfs_u64(text);
  });
}
