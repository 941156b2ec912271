// Seeds: tests/fuzz/seeds/http_head/*
#include "exporter/http_head.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = memledger::fuzz::as_text(data, size);
  auto request = memledger::frame_request(text, 8192);
  if (request.verdict == memledger::RequestFraming::Verdict::complete && request.size > text.size()) {
    __builtin_trap();  // a complete request is always inside what was received
  }
  if (auto response = memledger::parse_response_head(text); response && response->head_size > text.size()) {
    __builtin_trap();
  }
  return 0;
}
