#pragma once
// Shared by the libFuzzer targets (one per parser, built with -DMEMLEDGER_FUZZ=ON and
// clang). A parser may reject its input only with its documented exception; any other
// exception escapes LLVMFuzzerTestOneInput, aborts, and libFuzzer reports the input.
// ASan and UBSan catch the rest.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "procfs/errors.h"
#include "config/config.h"

namespace memledger::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `parse` on the input; ParseError is the parser's way of saying "malformed".
template <class Parse>
int parse_or_reject(const std::uint8_t* data, std::size_t size, Parse&& parse) {
  try {
    parse(as_text(data, size));
  } catch (const ParseError&) {
  }
  return 0;
}

// The same for the YAML configurations, which reject with ConfigError.
template <class Parse>
int parse_config_or_reject(const std::uint8_t* data, std::size_t size, Parse&& parse) {
  try {
    parse(as_text(data, size));
  } catch (const ConfigError&) {
  }
  return 0;
}

}  // namespace memledger::fuzz
