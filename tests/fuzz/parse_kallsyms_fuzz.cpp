// Seeds: tests/fixtures/kallsyms/6.18-excerpt
#include "procfs/kallsyms.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view text) {
    auto table = memledger::parse_kallsyms(text);
    for (const auto& s : table) memledger::source_function_name(s.name);
  });
}
