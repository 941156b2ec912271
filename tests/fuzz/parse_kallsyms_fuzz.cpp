// Seeds: tests/fixtures/kallsyms/6.18-excerpt
#include <vector>

#include "procfs/kallsyms.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    auto table = memledger::parse_kallsyms(text);
    // Every other symbol's address, one byte in: the cut table names them as the whole.
    std::vector<std::uint64_t> addresses;
    for (std::size_t i = 0; i < table.size(); ++i) {
      memledger::source_function_name(table[i].name);
      if (i % 2 == 0) addresses.push_back(table[i].address + 1);
    }
    auto cut = memledger::parse_kallsyms_covering(text, addresses);
    for (std::uint64_t address : addresses) {
      const auto* expected = memledger::symbolize(table, address);
      const auto* got = memledger::symbolize(cut, address);
      if ((expected == nullptr) != (got == nullptr) || (expected && expected->name != got->name)) {
        __builtin_trap();
      }
    }
  });
}
