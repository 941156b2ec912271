#include <catch2/catch.hpp>

#include <string>

#include "collectors/meminfo.h"
#include "collectors/slab.h"
#include "procfs/meminfo.h"
#include "procfs/slabinfo.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

constexpr std::uint64_t kPage = 4096;

std::string fixture_dir(std::string_view name) {
  return std::string(MEMLEDGER_FIXTURES) + "/slab/" + std::string(name);
}

std::string read_fixture(std::string_view dir, std::string_view file) {
  std::string text;
  REQUIRE(read_whole_file(fixture_dir(dir) + "/" + std::string(file), text) == 0);
  return text;
}

const SlabCache& cache(const SlabInfo& info, std::string_view name) {
  for (const auto& c : info.caches) {
    if (c.name == name) return c;
  }
  FAIL("no cache " << name);
  return info.caches.front();
}

std::size_t error_line(std::string_view text) {
  try {
    parse_slabinfo(text);
  } catch (const ParseError& e) {
    return e.line();
  }
  FAIL("no ParseError for: " << text);
  return 0;
}

constexpr std::string_view kHeader21 =
    "slabinfo - version: 2.1\n"
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : "
    "tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> "
    "<sharedavail>\n";

}  // namespace

TEST_CASE("parse_slabinfo reads the 2.1 format of current kernels") {
  auto info = parse_slabinfo(std::string(kHeader21) +
                             "ext4_inode_cache    3120   3150   1080   30    8 : tunables    0    0    0 : slabdata    105    105      0\n"
                             "kmalloc-8           4096   4096      8  512    1 : tunables    0    0    0 : slabdata      8      8      0\n");
  CHECK(info.version == "2.1");
  REQUIRE(info.caches.size() == 2);
  const auto& ext4 = info.caches[0];
  CHECK(ext4.name == "ext4_inode_cache");
  CHECK(ext4.active_objs == 3120);
  CHECK(ext4.num_objs == 3150);
  CHECK(ext4.objsize == 1080);
  CHECK(ext4.objperslab == 30);
  CHECK(ext4.pagesperslab == 8);
  CHECK(ext4.active_slabs == 105);
  CHECK(ext4.num_slabs == 105);
  CHECK(ext4.bytes(kPage) == 105 * 8 * kPage);
  CHECK(info.total_bytes(kPage) == 105 * 8 * kPage + 8 * 1 * kPage);
}

TEST_CASE("a cache's memory is its slabs' pages, not its objects times their size") {
  // 26 objects of 600 bytes are 15,600 bytes; the two 2-page slabs that hold them are 16 KiB.
  auto info = parse_slabinfo(std::string(kHeader21) +
                             "inode_cache  20  26  600  13  2 : tunables 0 0 0 : slabdata  2  2  0\n");
  CHECK(info.caches[0].bytes(kPage) == 2 * 2 * kPage);
  CHECK(info.caches[0].bytes(65536) == 2 * 2 * 65536);
  CHECK(info.caches[0].bytes(kPage) != 26 * 600);
}

TEST_CASE("on Linux 2.6.8 the slabs' pages equal meminfo Slab exactly, objects x size do not") {
  // Both files from one report (LKML, "Possible dcache BUG", August 2004).
  auto info = parse_slabinfo(read_fixture("linux-2.6.8-rc4", "slabinfo"));
  auto meminfo = parse_meminfo(read_fixture("linux-2.6.8-rc4", "meminfo"));
  CHECK(info.version == "2.0");
  CHECK(info.caches.size() == 125);
  CHECK(info.total_bytes(kPage) == meminfo.bytes("Slab"));
  CHECK(info.total_bytes(kPage) == 9068 * 1024);
  std::uint64_t objects_times_size = 0;
  for (const auto& c : info.caches) objects_times_size += c.num_objs * c.objsize;
  CHECK(objects_times_size < 9068 * 1024 * 97 / 100);  // seed 000's awk: 8,716 kB
  const auto& biovec = cache(info, "biovec-(256)");
  CHECK(biovec.objperslab == 2);
  CHECK(biovec.pagesperslab == 2);
  CHECK(biovec.num_slabs == 30);
  CHECK(cache(info, "ntfs_big_inode_cache").objsize == 448);  // name runs into the numbers' column
  CHECK(cache(info, "size-32(DMA)").num_objs == 0);
}

TEST_CASE("parse_slabinfo reads this machine's slabinfo (6.18, SLUB) close to meminfo Slab") {
  auto text = read_fixture("linux-6.18-firecracker", "slabinfo");
  auto info = parse_slabinfo(text);
  auto meminfo = parse_meminfo(read_fixture("linux-6.18-firecracker", "meminfo"));
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  CHECK(info.caches.size() == lines - 2);
  // Slab also counts kmalloc allocations too large for any cache, which slabinfo omits.
  double slab = static_cast<double>(*meminfo.bytes("Slab"));
  CHECK(static_cast<double>(info.total_bytes(kPage)) <= slab);
  CHECK(static_cast<double>(info.total_bytes(kPage)) > slab * 0.9);
}

TEST_CASE("parse_slabinfo reads format 1.1 of Linux 2.4 (SMP), size-N(DMA) names included") {
  // From LKML, "Linux 2.4.20-SMP: where is all my CPU time going?", February 2003.
  auto info = parse_slabinfo(read_fixture("linux-2.4.20-smp", "slabinfo"));
  CHECK(info.version == "1.1");
  CHECK(info.caches.size() == 69);
  const auto& dma = cache(info, "size-64(DMA)");
  CHECK(dma.objsize == 64);
  CHECK(dma.num_slabs == 0);
  const auto& big = cache(info, "size-16384");
  CHECK(big.active_objs == 2);
  CHECK(big.num_objs == 13);
  CHECK(big.active_slabs == 2);
  CHECK(big.num_slabs == 13);
  CHECK(big.pagesperslab == 4);
  CHECK(big.objperslab == 1);
  CHECK(big.bytes(kPage) == 13 * 4 * kPage);
  CHECK(cache(info, "buffer_head").objperslab == 40);  // 211920 / 5298
  CHECK(info.total_bytes(kPage) == 11414 * kPage);
}

TEST_CASE("parse_slabinfo keeps 2.4 cache names that contain spaces") {
  // From LKML, "Memory leak in the ramfs file system", 2001.
  auto info = parse_slabinfo(read_fixture("linux-2.4-ramfs", "slabinfo"));
  CHECK(info.caches.size() == 54);
  const auto& lock = cache(info, "file lock cache");
  CHECK(lock.num_objs == 42);
  CHECK(lock.objsize == 92);
  CHECK(lock.num_slabs == 1);
  CHECK(cache(info, "dnotify cache").num_objs == 0);
}

TEST_CASE("parse_slabinfo accepts the statistics variants") {
  auto v1 = parse_slabinfo(
      "slabinfo - version: 1.1 (statistics)\n"
      "kmem_cache            58     84    136    3    3    1 :     58      58     3    0    0\n");
  CHECK(v1.caches[0].num_slabs == 3);
  auto v2 = parse_slabinfo(
      "slabinfo - version: 2.1 (statistics)\n"
      "# name <active_objs> ...\n"
      "dentry 100 120 192 21 1 : tunables 120 60 8 : slabdata 5 6 0 : globalstat 900 130 7 1 0 "
      "1 0 0 0 : cpustat 800 90 700 50\n");
  CHECK(v2.caches[0].num_slabs == 6);
  CHECK(v2.caches[0].active_slabs == 5);
}

TEST_CASE("top_slab_caches: the largest caches plus other sum to the total") {
  auto info = parse_slabinfo(read_fixture("linux-6.18-firecracker", "slabinfo"));
  const std::uint64_t total = info.total_bytes(kPage);
  std::uint64_t all_active = 0, all_total = 0;
  for (const auto& c : info.caches) {
    all_active += c.active_objs;
    all_total += c.num_objs;
  }
  for (std::size_t limit : {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{30},
                            info.caches.size(), std::size_t{100000}}) {
    CAPTURE(limit);
    auto top = top_slab_caches(info, limit, kPage);
    CHECK(top.total_bytes == total);
    CHECK(top.largest.size() == std::min(limit, info.caches.size()));
    std::uint64_t bytes = top.other.bytes, active = top.other.active_objs, objs = top.other.num_objs;
    for (std::size_t i = 0; i < top.largest.size(); ++i) {
      bytes += top.largest[i].bytes;
      active += top.largest[i].active_objs;
      objs += top.largest[i].num_objs;
      if (i > 0) CHECK(top.largest[i - 1].bytes >= top.largest[i].bytes);
    }
    CHECK(bytes == total);
    CHECK(active == all_active);
    CHECK(objs == all_total);
    CHECK(top.other.name == "other");
  }
  auto top3 = top_slab_caches(info, 3, kPage);
  for (const auto& c : info.caches) {
    if (c.bytes(kPage) > top3.largest.back().bytes) {
      bool named = false;
      for (const auto& t : top3.largest) named = named || t.name == c.name;
      CHECK(named);
    }
  }
}

TEST_CASE("top_slab_caches sums duplicate names and never names a cache \"other\"") {
  auto info = parse_slabinfo(std::string(kHeader21) +
                             "dup    1 1 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n"
                             "other  5 5 64 64 1 : tunables 0 0 0 : slabdata 9 9 0\n"
                             "dup    2 2 64 64 1 : tunables 0 0 0 : slabdata 2 2 0\n"
                             "small  1 1 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n");
  auto top = top_slab_caches(info, 5, kPage);
  REQUIRE(top.largest.size() == 2);
  CHECK(top.largest[0].name == "dup");
  CHECK(top.largest[0].bytes == 3 * kPage);
  CHECK(top.largest[0].active_objs == 3);
  CHECK(top.largest[1].name == "small");
  CHECK(top.other.bytes == 9 * kPage);
  CHECK(top.total_bytes == 13 * kPage);
}

TEST_CASE("parse_slabinfo rejects bad input with the line number") {
  const std::string h(kHeader21);
  const std::string good = "a 1 1 8 512 1 : tunables 0 0 0 : slabdata 1 1 0\n";
  CHECK(error_line("") == 0);
  CHECK(error_line(h) == 0);  // no caches: a read cut short after the header
  CHECK(error_line("slabinfo - version: 3.0\n" + good) == 1);
  CHECK(error_line("name active num\n" + good) == 1);
  CHECK(error_line(std::string_view("\x7f" "ELF\x02\x01\x01\0\0\0\n", 11)) == 1);
  CHECK(error_line(h + good + "b 1 1 8 512 1 : tunables 0 0 0 : slabdata 1") == 4);  // truncated
  CHECK(error_line(h + good + "b 1 x 8 512 1 : tunables 0 0 0 : slabdata 1 1 0\n") == 4);
  CHECK(error_line(h + "b 1 1 8 512 1 : tunables 0 0 0\n") == 3);  // no slabdata
  CHECK(error_line(h + "b 1 1 8 512 1 : tunables 0 0 0 : slabdata 1 y 0\n") == 3);
  CHECK(error_line(h + good + "1 1 8 512 1 : tunables 0 0 0 : slabdata 1 1 0\n") == 4);  // no name
  CHECK(error_line(h + good + good + "\x01\x02\xff\xfe garbage\n") == 5);
  CHECK(error_line("slabinfo - version: 1.1\nsize-32 1 2 32 1\n") == 2);  // 1.1 needs six numbers
}

TEST_CASE("the slab collector exports the top caches, other and totals") {
  auto collector = testing::make_collector(kSlabCollector, "top_caches: 3");
  CHECK(collector->name() == "slab");
  Snapshot snapshot(SourceRoots{.procfs = fixture_dir("linux-2.6.8-rc4"), .page_size = kPage});
  MetricSink sink;
  collector->collect(snapshot, sink);

  CHECK(gauge_value(sink, "memledger_slab_bytes", {}) == 9068.0 * 1024);
  CHECK(gauge_value(sink, "memledger_slab_caches", {}) == 125);
  // The three largest by pages: buffer_head 446 slabs of 1 page, size-32768 28 slabs of 8
  // (only 28 objects: ranked by objects it would be far down), size-8192 84 slabs of 2.
  CHECK(sample_count(sink, "memledger_slab_cache_bytes") == 4);
  CHECK(gauge_value(sink, "memledger_slab_cache_bytes", {{"cache", "buffer_head"}}) == 446.0 * kPage);
  CHECK(gauge_value(sink, "memledger_slab_cache_bytes", {{"cache", "size-32768"}}) == 224.0 * kPage);
  CHECK(gauge_value(sink, "memledger_slab_cache_bytes", {{"cache", "size-8192"}}) == 168.0 * kPage);
  CHECK(gauge_value(sink, "memledger_slab_cache_bytes", {{"cache", "other"}}) ==
        (2267.0 - 446 - 224 - 168) * kPage);
  CHECK(gauge_value(sink, "memledger_slab_cache_objects",
                    {{"cache", "buffer_head"}, {"state", "active"}}) == 33719);
  CHECK(gauge_value(sink, "memledger_slab_cache_objects",
                    {{"cache", "buffer_head"}, {"state", "total"}}) == 36126);
  CHECK(sample_count(sink, "memledger_slab_cache_objects") == 8);
  CHECK(gauge_value(sink, "memledger_slab_cache_object_size_bytes", {{"cache", "size-8192"}}) ==
        8192);
  CHECK(sample_count(sink, "memledger_slab_cache_object_size_bytes") == 3);
  CHECK(snapshot.files_read() == 1);
}

TEST_CASE("the slab collector fails naming /proc/slabinfo when it cannot be read") {
  auto collector = kSlabCollector.make_from(Config{});
  auto root = fixture_dir("no-such-dir");
  Snapshot snapshot(SourceRoots{.procfs = root, .page_size = kPage});
  MetricSink sink;
  try {
    collector->collect(snapshot, sink);
    FAIL("no CollectError");
  } catch (const CollectError& e) {
    CHECK(e.file() == root + "/slabinfo");
  }
}

TEST_CASE("the slab collector names the file and line of a parse error") {
  auto root = fixture_dir("malformed");
  Snapshot snapshot(SourceRoots{.procfs = root, .page_size = kPage});
  MetricSink sink;
  auto collector = kSlabCollector.make_from(Config{});
  try {
    collector->collect(snapshot, sink);
    FAIL("no CollectError");
  } catch (const CollectError& e) {
    CHECK(e.file() == root + "/slabinfo");
    CHECK(e.line() == 4);
  }
}
