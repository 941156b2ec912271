// Seeds: tests/fuzz/seeds/web_config/*
#include "exporter/web_config.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memledger::fuzz::parse_config_or_reject(data, size, [](std::string_view text) {
    memledger::parse_web_config(text, "web.yml", "/etc");
  });
}
