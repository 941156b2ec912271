// PSS from pagemap entries and kpage facts (procfs/pagemap.h), and /proc/<pid>/maps ranges.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "procfs/errors.h"
#include "procfs/maps.h"
#include "procfs/pagemap.h"

using namespace memledger;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(MEMLEDGER_FIXTURES) / "pagemap";
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kPresent = pagemap_bits::kPresent;
constexpr std::uint64_t kExclusive = pagemap_bits::kExclusive;
constexpr std::uint64_t kFile = pagemap_bits::kFileOrSharedAnon;
constexpr std::uint64_t kAnonFlags = kpageflags_bits::kAnon | kpageflags_bits::kSwapBacked;

// A capture by tests/fixtures/pagemap/capture.py: per page "entry count flags", and the
// mapping's figures from /proc/<pid>/smaps on the "# smaps" line (kB).
struct Capture {
  std::vector<std::uint64_t> entries;
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> facts;  // pfn -> count, flags
  std::map<std::string, std::uint64_t> smaps_kb;
};

Capture read_capture(const std::string& name) {
  std::ifstream in(kFixtures / name);
  REQUIRE(in);
  Capture capture;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (line.rfind("# smaps ", 0) == 0) {
      std::string word;
      fields >> word >> word;
      while (fields >> word) {
        auto equals = word.find('=');
        capture.smaps_kb[word.substr(0, equals)] = std::stoull(word.substr(equals + 1));
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    std::string entry, count, flags;
    fields >> entry >> count >> flags;
    std::uint64_t e = std::stoull(entry, nullptr, 16);
    capture.entries.push_back(e);
    if (e & kPresent) {
      capture.facts[e & pagemap_bits::kPfnMask] = {std::stoull(count), std::stoull(flags, nullptr, 16)};
    }
  }
  return capture;
}

// Answers the census's lookups the way the reader does, from a table of page facts.
PagemapFigures census_of(std::span<const std::uint64_t> entries,
                         const std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>>& facts) {
  PagemapCensus census(kPage);
  census.add_entries(entries);
  std::vector<std::uint64_t> counts, flags;
  for (std::uint64_t pfn : census.pending_pfns()) {
    auto it = facts.find(pfn);
    counts.push_back(it == facts.end() ? 0 : it->second.first);
    flags.push_back(it == facts.end() ? 0 : it->second.second);
  }
  census.resolve(counts, flags);
  return census.figures();
}

}  // namespace

TEST_CASE("pagemap: a forked process's copy-on-write anonymous pages agree with its smaps") {
  Capture capture = read_capture("anon_fork_cow");
  PagemapFigures f = census_of(capture.entries, capture.facts);
  CHECK(f.rss == capture.smaps_kb["Rss"] * 1024);
  CHECK(f.pss == capture.smaps_kb["Pss"] * 1024);
  CHECK(f.uss == (capture.smaps_kb["Private_Clean"] + capture.smaps_kb["Private_Dirty"]) * 1024);
  CHECK(f.pss_anon == f.pss);
  CHECK(f.pss_file == 0);
  CHECK(f.pss_shmem == 0);
  CHECK(f.swap == 0);
}

TEST_CASE("pagemap: memfd pages mapped by two processes are shmem, half each") {
  Capture capture = read_capture("memfd_shared");
  PagemapFigures f = census_of(capture.entries, capture.facts);
  CHECK(f.rss == capture.smaps_kb["Rss"] * 1024);
  CHECK(f.pss == capture.smaps_kb["Pss"] * 1024);
  CHECK(f.uss == (capture.smaps_kb["Private_Clean"] + capture.smaps_kb["Private_Dirty"]) * 1024);
  CHECK(f.pss_shmem == f.pss);
  CHECK(f.pss_anon == 0);
}

TEST_CASE("pagemap: exclusive anonymous pages need no lookup") {
  std::vector<std::uint64_t> entries = {kPresent | kExclusive | 7, kPresent | kExclusive | 9, 0};
  PagemapCensus census(kPage);
  census.add_entries(entries);
  CHECK(census.pending_pfns().empty());
  census.resolve({}, {});
  PagemapFigures f = census.figures();
  CHECK(f.rss == 2 * kPage);
  CHECK(f.pss == 2 * kPage);
  CHECK(f.pss_anon == 2 * kPage);
  CHECK(f.uss == 2 * kPage);
}

TEST_CASE("pagemap: shares of a third keep their fractions; file, shmem and anon apart") {
  // Three file pages each mapped by 3 processes: exactly one page of Pss between them.
  std::vector<std::uint64_t> entries = {kPresent | kFile | 30, kPresent | kFile | 10,
                                        kPresent | kFile | 20, kPresent | kFile | 40,
                                        kPresent | 50};
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> facts = {
      {10, {3, 0}}, {20, {3, 0}}, {30, {3, 0}},
      {40, {1, kpageflags_bits::kSwapBacked}},  // shmem, ours alone
      {50, {2, kAnonFlags}}};                   // anonymous, shared with a fork
  PagemapFigures f = census_of(entries, facts);
  CHECK(f.rss == 5 * kPage);
  CHECK(f.pss_file == kPage - 1);  // 3 x floor(4096/3) shifted: smaps rounds the same way
  CHECK(f.pss_shmem == kPage);
  CHECK(f.pss_anon == kPage / 2);
  CHECK(f.uss == kPage);
  CHECK(f.pss == f.pss_file + f.pss_shmem + f.pss_anon);
}

TEST_CASE("pagemap: the zero page, hugetlb pages and pages unmapped since are not counted") {
  std::vector<std::uint64_t> entries = {kPresent | 1, kPresent | 2, kPresent | kFile | 3};
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> facts = {
      {1, {1, kpageflags_bits::kZeroPage}},
      {2, {1, kpageflags_bits::kHuge | kAnonFlags}},
      {3, {0, 0}}};
  PagemapFigures f = census_of(entries, facts);
  CHECK(f.rss == 0);
  CHECK(f.pss == 0);
}

TEST_CASE("pagemap: swapped pages count as swap, not rss") {
  std::vector<std::uint64_t> entries = {pagemap_bits::kSwapped | 0x1234, pagemap_bits::kSwapped,
                                        kPresent | kExclusive | 5};
  PagemapFigures f = census_of(entries, {});
  CHECK(f.swap == 2 * kPage);
  CHECK(f.rss == kPage);
}

TEST_CASE("pagemap: hidden pfns (no CAP_SYS_ADMIN) make the census unusable") {
  std::vector<std::uint64_t> entries = {kPresent | kExclusive, kPresent};  // pfn 0: hidden
  PagemapCensus census(kPage);
  census.add_entries(entries);
  CHECK_FALSE(census.pfns_visible());
}

TEST_CASE("pagemap: resolve wants one count and one flags word per pending pfn") {
  std::vector<std::uint64_t> entries = {kPresent | 5};
  PagemapCensus census(kPage);
  census.add_entries(entries);
  std::vector<std::uint64_t> none;
  CHECK_THROWS_AS(census.resolve(none, none), std::invalid_argument);
}

TEST_CASE("maps: ranges of a captured /proc/self/maps, [vsyscall] left out") {
  std::ifstream in(kFixtures / "maps");
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto ranges = parse_maps_ranges(text);
  REQUIRE(!ranges.empty());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    CHECK(ranges[i].start < ranges[i].end);
    CHECK(ranges[i].start % kPage == 0);
    if (i > 0) CHECK(ranges[i - 1].end <= ranges[i].start);
  }
  CHECK(ranges.back().end <= 0x800000000000ull);
  CHECK(text.find("[vsyscall]") != std::string::npos);
}

TEST_CASE("maps: a line without a hexadecimal range is rejected with its number") {
  CHECK(parse_maps_ranges("").empty());
  auto ranges = parse_maps_ranges("00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus\n");
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0].start == 0x400000);
  CHECK(ranges[0].end == 0x452000);
  try {
    parse_maps_ranges("00400000-00452000 r-xp 0 0 0\nzz-10 r-xp\n");
    FAIL("no ParseError");
  } catch (const ParseError& e) {
    CHECK(e.line() == 2);
  }
  CHECK_THROWS_AS(parse_maps_ranges("2000-1000 r-xp\n"), ParseError);
  CHECK_THROWS_AS(parse_maps_ranges("1000 r-xp\n"), ParseError);
}
