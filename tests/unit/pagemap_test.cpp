// PSS from pagemap entries and kpage facts (procfs/pagemap.h), and /proc/<pid>/maps ranges.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "procfs/errors.h"
#include "procfs/kpageflags.h"
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

using Facts = std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>>;  // pfn -> count, flags

// Answers the census's lookups the way the reader does, from a table of page facts, one
// span of entries per mapping; counts the kpageflags lookups.
PagemapFigures census_of(std::vector<std::span<const std::uint64_t>> mappings, const Facts& facts,
                         int* flags_lookups = nullptr) {
  PagemapCensus census(kPage, [&](std::uint64_t pfn) -> std::optional<std::uint64_t> {
    if (flags_lookups) ++*flags_lookups;
    auto it = facts.find(pfn);
    return it == facts.end() ? 0 : it->second.second;
  });
  for (auto entries : mappings) {
    census.begin_mapping();
    census.add_entries(entries);
  }
  for (PagemapCensus::Shared shared : PagemapCensus::kSharedClasses) {
    std::vector<std::uint64_t> counts;
    for (std::uint64_t pfn : census.pending_pfns(shared)) {
      auto it = facts.find(pfn);
      counts.push_back(it == facts.end() ? 0 : it->second.first);
    }
    census.resolve(shared, counts);
  }
  return census.figures();
}

constexpr std::uint64_t kAnonFlags = 1ull << kpf::kAnon | 1ull << kpf::kSwapbacked;
constexpr std::uint64_t kShmemFlags = 1ull << kpf::kSwapbacked;

}  // namespace

TEST_CASE("pagemap: a forked process's copy-on-write anonymous pages agree with its smaps") {
  Capture capture = read_capture("anon_fork_cow");
  PagemapFigures f = census_of({capture.entries}, capture.facts);
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
  PagemapFigures f = census_of({capture.entries}, capture.facts);
  CHECK(f.rss == capture.smaps_kb["Rss"] * 1024);
  CHECK(f.pss == capture.smaps_kb["Pss"] * 1024);
  CHECK(f.uss == (capture.smaps_kb["Private_Clean"] + capture.smaps_kb["Private_Dirty"]) * 1024);
  CHECK(f.pss_shmem == f.pss);
  CHECK(f.pss_anon == 0);
}

TEST_CASE("pagemap: pages only read map the zero page, which smaps does not count") {
  Capture capture = read_capture("anon_zero_pages");
  int lookups = 0;
  PagemapFigures f = census_of({capture.entries}, capture.facts, &lookups);
  CHECK(f.rss == capture.smaps_kb["Rss"] * 1024);
  CHECK(f.pss == capture.smaps_kb["Pss"] * 1024);
  CHECK(f.uss == (capture.smaps_kb["Private_Clean"] + capture.smaps_kb["Private_Dirty"]) * 1024);
  CHECK(lookups == 1);  // the mapping's first page only
}

TEST_CASE("pagemap: a private hugetlb page, \"exclusive\" in pagemap, is not in Rss or Pss") {
  Capture capture = read_capture("hugetlb_private");
  REQUIRE(capture.entries.size() == 512);
  int lookups = 0;
  PagemapFigures f = census_of({capture.entries}, capture.facts, &lookups);
  CHECK(capture.smaps_kb["Rss"] == 0);
  CHECK(f.rss == 0);
  CHECK(f.pss == 0);
  CHECK(f.uss == 0);
  CHECK(lookups == 1);
}

TEST_CASE("pagemap: exclusive anonymous pages need no map count, one flags lookup per mapping") {
  std::vector<std::uint64_t> first = {kPresent | kExclusive | 7, kPresent | kExclusive | 9, 0};
  std::vector<std::uint64_t> second = {0, kPresent | kExclusive | 11};
  int lookups = 0;
  PagemapFigures f = census_of({first, second}, {}, &lookups);
  CHECK(lookups == 2);
  CHECK(f.rss == 3 * kPage);
  CHECK(f.pss == 3 * kPage);
  CHECK(f.pss_anon == 3 * kPage);
  CHECK(f.uss == 3 * kPage);
}

TEST_CASE("pagemap: shares of a third keep their fractions, file, shmem and anon apart") {
  // Three file pages each mapped by 3 processes: exactly one page of Pss between them.
  std::vector<std::uint64_t> file = {kPresent | kFile | 30, kPresent | kFile | 10,
                                     kPresent | kFile | 20};
  std::vector<std::uint64_t> shmem = {kPresent | kFile | kExclusive | 40, kPresent | kFile | 41};
  std::vector<std::uint64_t> anon = {kPresent | 50};
  Facts facts = {{10, {3, 0}}, {20, {3, 0}}, {30, {3, 0}},
                 {40, {1, kShmemFlags}},  // ours alone
                 {41, {2, kShmemFlags}},
                 {50, {2, kAnonFlags}}};  // shared with a fork
  PagemapFigures f = census_of({file, shmem, anon}, facts);
  CHECK(f.rss == 6 * kPage);
  CHECK(f.pss_file == kPage - 1);  // 3 x floor(4096/3) shifted: smaps rounds the same way
  CHECK(f.pss_shmem == kPage + kPage / 2);
  CHECK(f.pss_anon == kPage / 2);
  CHECK(f.uss == kPage);
  CHECK(f.pss == f.pss_file + f.pss_shmem + f.pss_anon);
}

TEST_CASE("pagemap: the zero page before a file's first page does not decide its kind") {
  // The huge zero folio shows as "file" in pagemap; the shmem page after it decides.
  std::vector<std::uint64_t> entries = {kPresent | kFile | 8, kPresent | kFile | 8,
                                        kPresent | kFile | 40, kPresent | kFile | kExclusive | 41,
                                        kPresent | kFile | 8};
  Facts facts = {{8, {0, 1ull << kpf::kZeroPage | 1ull << kpf::kThp}},
                 {40, {2, kShmemFlags}}, {41, {1, kShmemFlags}}};
  int lookups = 0;
  PagemapFigures f = census_of({entries}, facts, &lookups);
  CHECK(lookups == 2);  // the zero page once (remembered), then the shmem page
  CHECK(f.rss == 2 * kPage);
  CHECK(f.pss_shmem == kPage + kPage / 2);
  CHECK(f.pss_file == 0);
}

TEST_CASE("pagemap: many shared pages come out sorted for the kpagecount runs, shares intact") {
  // Past a few thousand pfns the census sorts by radix: scattered pfns up to 2^34.
  std::vector<std::uint64_t> entries;
  Facts facts;
  std::uint64_t pfn = 12345;
  for (int i = 0; i < 20000; ++i) {
    pfn = (pfn * 6364136223846793005ull + 1442695040888963407ull) % (1ull << 34);
    const std::uint64_t unique = pfn + 1;  // never 0 (hidden)
    entries.push_back(kPresent | unique);
    facts[unique] = {i % 2 ? 2u : 4u, kAnonFlags};
  }
  PagemapCensus census(kPage, [](std::uint64_t) { return std::optional<std::uint64_t>(kAnonFlags); });
  census.begin_mapping();
  census.add_entries(entries);
  auto pending = census.pending_pfns(PagemapCensus::Shared::anon);
  REQUIRE(pending.size() == entries.size());
  CHECK(std::is_sorted(pending.begin(), pending.end()));
  std::vector<std::uint64_t> counts;
  for (std::uint64_t p : pending) counts.push_back(facts.at(p).first);
  census.resolve(PagemapCensus::Shared::anon, counts);
  std::uint64_t pairs = 0, quads = 0;
  for (auto& [p, fact] : facts) (fact.first == 2 ? pairs : quads) += 1;
  CHECK(census.figures().pss_anon == pairs * kPage / 2 + quads * kPage / 4);
}

TEST_CASE("pagemap: pages unmapped since pagemap was read are not counted") {
  std::vector<std::uint64_t> entries = {kPresent | kFile | 3, kPresent | 4};
  PagemapFigures f = census_of({entries}, {{3, {0, 0}}, {4, {0, kAnonFlags}}});
  CHECK(f.rss == 0);
  CHECK(f.pss == 0);
}

TEST_CASE("pagemap: swapped pages count as swap, not rss") {
  std::vector<std::uint64_t> entries = {pagemap_bits::kSwapped | 0x1234, pagemap_bits::kSwapped,
                                        kPresent | kExclusive | 5};
  PagemapFigures f = census_of({entries}, {});
  CHECK(f.swap == 2 * kPage);
  CHECK(f.rss == kPage);
}

TEST_CASE("pagemap: hidden pfns (no CAP_SYS_ADMIN) make the census unusable") {
  std::vector<std::uint64_t> entries = {kPresent | kExclusive, kPresent};  // pfn 0: hidden
  PagemapCensus census(kPage, [](std::uint64_t) { return std::optional<std::uint64_t>(0); });
  census.begin_mapping();
  census.add_entries(entries);
  CHECK_FALSE(census.pfns_visible());
}

TEST_CASE("pagemap: a failed flags lookup is reported") {
  std::vector<std::uint64_t> entries = {kPresent | kExclusive | 5};
  PagemapCensus census(kPage, [](std::uint64_t) { return std::optional<std::uint64_t>(); });
  census.begin_mapping();
  census.add_entries(entries);
  CHECK(census.flags_failed());
}

TEST_CASE("pagemap: resolve wants one count per pending pfn") {
  std::vector<std::uint64_t> entries = {kPresent | 5};
  PagemapCensus census(kPage, [](std::uint64_t) { return std::optional<std::uint64_t>(kAnonFlags); });
  census.begin_mapping();
  census.add_entries(entries);
  std::vector<std::uint64_t> none;
  CHECK_THROWS_AS(census.resolve(PagemapCensus::Shared::anon, none), std::invalid_argument);
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
