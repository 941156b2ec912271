#include <catch2/catch.hpp>

#include "collectors/meminfo.h"
#include "procfs/meminfo.h"

using namespace memledger;

TEST_CASE("parse_meminfo converts kB lines to bytes and keeps unitless counts") {
  auto info = parse_meminfo(
      "MemTotal:       24684084 kB\n"
      "Active(anon):       1504 kB\n"
      "HugePages_Total:       3\n"
      "Hugepagesize:       2048 kB\n");
  REQUIRE(info.fields.size() == 4);
  CHECK(info.bytes("MemTotal") == 24684084ull * 1024);
  CHECK(info.bytes("Active(anon)") == 1504ull * 1024);
  CHECK(info.count("HugePages_Total") == 3u);
  CHECK_FALSE(info.bytes("HugePages_Total").has_value());
  CHECK(info.bytes_or_zero("Balloon") == 0);
}

TEST_CASE("parse_meminfo keeps fields a future kernel adds") {
  auto info = parse_meminfo("MemTotal: 100 kB\nShinyNewCounter:   7 kB\n");
  CHECK(info.bytes("ShinyNewCounter") == 7 * 1024);
}

TEST_CASE("parse_meminfo reads per-node files") {
  auto info = parse_meminfo("Node 0 MemTotal:       24684084 kB\nNode 0 HugePages_Free:      0\n");
  CHECK(info.bytes("MemTotal") == 24684084ull * 1024);
  CHECK(info.count("HugePages_Free") == 0u);
}

TEST_CASE("parse_meminfo rejects bad input with the line number") {
  auto line_of = [](std::string_view text) {
    try {
      parse_meminfo(text);
    } catch (const ParseError& e) {
      return e.line();
    }
    FAIL("no ParseError");
    return std::size_t{0};
  };
  CHECK(line_of("MemTotal: 1 kB\nMemFree 2 kB\n") == 2);
  CHECK(line_of("MemTotal: 1 kB\nMemFree: x kB\n") == 2);
  CHECK(line_of("MemTotal: 1 kB\nMemFree: 2 MB\n") == 2);
  CHECK(line_of("MemTotal: 1 kB\nMemFree: 2") == 2);  // cut short before its unit
  // A last line without its newline is complete when it has its unit, or needs none.
  CHECK(parse_meminfo("MemTotal: 1 kB\nMemFree: 2 kB").bytes("MemFree") == 2048u);
  CHECK(parse_meminfo("MemTotal: 1 kB\nHugePages_Total: 3").count("HugePages_Total") == 3u);
  CHECK_THROWS_AS(parse_meminfo(""), ParseError);
  CHECK_THROWS_AS(parse_meminfo(std::string_view("\x7f" "ELF\0\0\0", 7)), ParseError);
}
