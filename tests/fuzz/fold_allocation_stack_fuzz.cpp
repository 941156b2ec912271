// Seeds: tests/fixtures/kallsyms/6.18-excerpt
// The input is a kallsyms text; its bytes, read again as little-endian 64-bit words, are
// also the stack folded against the table it gave.
#include <cstring>
#include <vector>

#include "procfs/kallsyms.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_or_reject(data, size, [&](std::string_view text) {
    auto table = memledger::parse_kallsyms(text);
    std::vector<std::uint64_t> stack(size / sizeof(std::uint64_t));
    if (!stack.empty()) std::memcpy(stack.data(), data, stack.size() * sizeof(std::uint64_t));
    memledger::fold_allocation_stack(table, stack);
  });
}
