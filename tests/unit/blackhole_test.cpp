#include <catch2/catch.hpp>

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "collectors/blackhole.h"
#include "procfs/kpageflags.h"
#include "procfs/kallsyms.h"

using namespace memledger;

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(MEMLEDGER_FIXTURES) + "/kallsyms/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// tests/fixtures/kallsyms/6.18-stacks: "<what>: <hex ip> <hex ip> ...", innermost first,
// captured from the tracer's stack map on 6.18 (pipe writes and loopback TCP sends).
std::map<std::string, std::vector<std::uint64_t>> fixture_stacks() {
  std::map<std::string, std::vector<std::uint64_t>> stacks;
  std::istringstream lines(fixture("6.18-stacks"));
  std::string line;
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    std::istringstream ips(line.substr(colon + 1));
    std::string hex;
    auto& stack = stacks[line.substr(0, colon)];
    while (ips >> hex) stack.push_back(std::stoull(hex, nullptr, 16));
  }
  return stacks;
}

std::uint64_t address_of(const std::vector<KernelSymbol>& table, std::string_view name) {
  for (const auto& s : table) {
    if (s.name == name) return s.address;
  }
  FAIL("no symbol " << name);
  return 0;
}

constexpr std::uint64_t bit(int b) { return std::uint64_t{1} << b; }

}  // namespace

TEST_CASE("kallsyms: text symbols sorted, modules kept, data and aliases dropped") {
  auto table = parse_kallsyms(
      "ffffffff81000020 T startup_64\n"
      "ffffffff81000010 T _stext\n"
      "ffffffff81000010 t alias_of_stext\n"
      "ffffffff82000000 D some_data\n"
      "ffffffff81000030 W weak_function\n"
      "ffffffffc0001000 t ext4_helper\t[ext4]\n");
  REQUIRE(table.size() == 4);
  CHECK(table[0].name == "_stext");
  CHECK(table[1].name == "startup_64");
  CHECK(table[2].name == "weak_function");
  CHECK(table[3].name == "ext4_helper [ext4]");
  CHECK(symbolize(table, 0xffffffff81000025)->name == "startup_64");
  CHECK(symbolize(table, 0xffffffff81000020)->name == "startup_64");
  CHECK(symbolize(table, 0xffffffff8100000f) == nullptr);
  CHECK(symbolize(table, 0xffffffffc0001100)->name == "ext4_helper [ext4]");
}

TEST_CASE("kallsyms: addresses hidden (kptr_restrict) give no table, malformed lines throw") {
  CHECK(parse_kallsyms("0000000000000000 T _stext\n0000000000000000 t foo\n").empty());
  CHECK(parse_kallsyms("").empty());
  CHECK_THROWS_AS(parse_kallsyms("ffffffff81000000\n"), ParseError);
  CHECK_THROWS_AS(parse_kallsyms("zzzz T foo\n"), ParseError);
  CHECK_THROWS_AS(parse_kallsyms("ffffffff81000000 T \n"), ParseError);
  CHECK_THROWS_AS(parse_kallsyms("ffffffff81000000 Tfoo\n"), ParseError);
}

TEST_CASE("kallsyms: nothing past the end of the kernel's text") {
  auto table = parse_kallsyms("ffffffff81000000 T _stext\nffffffff81000100 T f\nffffffff82000000 T _etext\n");
  CHECK(symbolize(table, 0xffffffff810000ff)->name == "_stext");
  CHECK(symbolize(table, 0xffffffff82000008) == nullptr);
  CHECK(symbolize({}, 0xffffffff81000000) == nullptr);
}

TEST_CASE("kallsyms: the table cut to some addresses names them as the whole table does") {
  const std::string text = fixture("6.18-excerpt");
  auto whole = parse_kallsyms(text);
  std::vector<std::uint64_t> addresses;
  for (const auto& [what, stack] : fixture_stacks()) addresses.insert(addresses.end(), stack.begin(), stack.end());
  // Below the first symbol, on a symbol, past the end, and one repeated.
  addresses.insert(addresses.end(), {1, whole.front().address, whole.back().address + 0x10, addresses.front()});
  auto cut = parse_kallsyms_covering(text, addresses);
  CHECK(cut.size() < addresses.size());
  CHECK(cut.size() < whole.size());
  for (std::uint64_t address : addresses) {
    const KernelSymbol* expected = symbolize(whole, address);
    const KernelSymbol* got = symbolize(cut, address);
    REQUIRE((expected == nullptr) == (got == nullptr));
    if (expected) CHECK(got->name == expected->name);
  }
  for (const auto& [what, stack] : fixture_stacks()) {
    CHECK(fold_allocation_stack(cut, stack).site == fold_allocation_stack(whole, stack).site);
  }
}

TEST_CASE("kallsyms: the cut table takes modules listed after the kernel, the first alias, the end marker") {
  const std::string text =
      "ffffffff81000000 T _stext\n"
      "ffffffff81000100 T f\n"
      "ffffffff81000100 t alias_of_f\n"
      "ffffffff81000200 D data_in_between\n"
      "ffffffff81000300 T g\n"
      "ffffffff82000000 T _etext\n"
      "ffffffffc0001000 t ext4_helper\t[ext4]\n"
      "ffffffffa0000000 t early_module_fn\t[early]\n";
  auto cut = parse_kallsyms_covering(text, {0xffffffffc0001010, 0xffffffff81000250, 0xffffffffa0000008,
                                            0xffffffff81000100, 0xffffffff82000010});
  REQUIRE(cut.size() == 4);
  CHECK(cut[0].name == "f");
  CHECK(cut[1].name == "_etext");
  CHECK(cut[2].name == "early_module_fn [early]");
  CHECK(cut[3].name == "ext4_helper [ext4]");
  CHECK(symbolize(cut, 0xffffffff81000250)->name == "f");
  CHECK(symbolize(cut, 0xffffffff82000010) == nullptr);
  CHECK(parse_kallsyms_covering(text, {}).empty());
  CHECK(parse_kallsyms_covering(text, {0xffffffff80000000}).empty());
  CHECK(parse_kallsyms_covering("0000000000000000 T _stext\n", {0x10}).empty());
  CHECK_THROWS_AS(parse_kallsyms_covering("ffffffff81000000 Tfoo\n", {0xffffffff81000000}), ParseError);
}

TEST_CASE("kallsyms: source function names") {
  CHECK(source_function_name("__alloc_pages_noprof") == "__alloc_pages");
  CHECK(source_function_name("alloc_pages_mpol.cold") == "alloc_pages_mpol");
  CHECK(source_function_name("foo.isra.0 [mod]") == "foo");
  CHECK(source_function_name("_noprof") == "_noprof");
  CHECK(source_function_name("") == "");
}

TEST_CASE("stack folding: 6.18 pipe and loopback TCP stacks name their call site") {
  auto table = parse_kallsyms(fixture("6.18-excerpt"));
  REQUIRE(table.size() > 20);
  auto stacks = fixture_stacks();
  auto pipe = fold_allocation_stack(table, stacks.at("anon_pipe_write"));
  CHECK(pipe.site == "anon_pipe_write");
  CHECK_FALSE(pipe.accounted_elsewhere);
  auto tcp = fold_allocation_stack(table, stacks.at("skb_page_frag_refill"));
  CHECK(tcp.site == "skb_page_frag_refill");
  CHECK_FALSE(tcp.accounted_elsewhere);
}

TEST_CASE("stack folding: the BPF program's own frame and the allocator are skipped") {
  auto table = parse_kallsyms(fixture("6.18-excerpt"));
  std::vector<std::uint64_t> stack = {
      address_of(table, "bpf_prog_311d5d4a27e48174_on_page_alloc [bpf]") + 0x7d,
      address_of(table, "bpf_trace_run4") + 0x6c,
      address_of(table, "__alloc_frozen_pages_noprof") + 0x10b,
      address_of(table, "alloc_pages_mpol") + 0x96,
      address_of(table, "folio_alloc_noprof") + 0x17,
      address_of(table, "__filemap_get_folio") + 0x100,
      address_of(table, "__getblk_slow") + 0x1d,
      0,
      address_of(table, "anon_pipe_write"),  // after the end marker 0: not read
  };
  auto site = fold_allocation_stack(table, stack);
  CHECK(site.site == "__filemap_get_folio");
  CHECK_FALSE(site.accounted_elsewhere);
}

TEST_CASE("stack folding: vmalloc, slab and page-table pages are accounted elsewhere") {
  auto table = parse_kallsyms(
      "ffffffff81000000 T _stext\n"
      "ffffffff81000100 T alloc_pages_noprof\n"
      "ffffffff81000200 t vm_area_alloc_pages.constprop.0\n"
      "ffffffff81000300 T __vmalloc_node_range_noprof\n"
      "ffffffff81000400 T allocate_slab\n"
      "ffffffff81000500 T some_driver_alloc\n"
      "ffffffff81000600 T _etext\n");
  auto vmalloc = fold_allocation_stack(table, {0xffffffff81000110, 0xffffffff81000210, 0xffffffff81000310});
  CHECK(vmalloc.accounted_elsewhere);
  CHECK(vmalloc.site == "vm_area_alloc_pages");
  auto slab = fold_allocation_stack(table, {0xffffffff81000110, 0xffffffff81000410});
  CHECK(slab.accounted_elsewhere);
  // Accounted elsewhere even when deeper than the site.
  auto deep = fold_allocation_stack(table, {0xffffffff81000110, 0xffffffff81000510, 0xffffffff81000310});
  CHECK(deep.accounted_elsewhere);
  CHECK(deep.site == "some_driver_alloc");
  auto driver = fold_allocation_stack(table, {0xffffffff81000110, 0xffffffff81000510});
  CHECK_FALSE(driver.accounted_elsewhere);
  CHECK(driver.site == "some_driver_alloc");
  CHECK(fold_allocation_stack(table, {0xffffffff81000110, 0xffffffff82000000}).site == "unknown");
  CHECK(fold_allocation_stack(table, {}).site == "unknown");
}

TEST_CASE("blackhole: which kpageflags leave a traced page in the black hole") {
  CHECK(page_counts_as_black_hole(0));
  CHECK(page_counts_as_black_hole(bit(kpf::kCompoundHead)));  // page frags (order 3)
  CHECK(page_counts_as_black_hole(bit(kpf::kCompoundTail)));
  CHECK(page_counts_as_black_hole(bit(kpf::kMmap)));  // kernel pages mapped to user space
  CHECK_FALSE(page_counts_as_black_hole(bit(kpf::kSlab)));
  CHECK_FALSE(page_counts_as_black_hole(bit(kpf::kLru) | bit(kpf::kAnon)));
  CHECK_FALSE(page_counts_as_black_hole(bit(kpf::kBuddy)));
  CHECK_FALSE(page_counts_as_black_hole(bit(kpf::kPgtable)));
  CHECK_FALSE(page_counts_as_black_hole(bit(kpf::kHuge) | bit(kpf::kCompoundHead)));
  CHECK_FALSE(page_counts_as_black_hole(bit(kpf::kReserved)));
  CHECK_FALSE(page_counts_as_black_hole(bit(kpf::kOffline)));
  CHECK_FALSE(page_counts_as_black_hole(bit(kpf::kNopage)));
}

TEST_CASE("blackhole: pagemap entries and the vmemmap layout") {
  CHECK(pagemap_pfn((std::uint64_t{1} << 63) | 0x12345) == 0x12345u);
  CHECK_FALSE(pagemap_pfn(0x12345));                       // not present
  CHECK_FALSE(pagemap_pfn(std::uint64_t{1} << 63));        // PFN hidden without CAP_SYS_ADMIN
  CHECK(pagemap_pfn((std::uint64_t{1} << 63) | (std::uint64_t{1} << 55) | 7) == 7u);  // soft-dirty bit
  auto layout = VmemmapLayout::from_pair(0xffffea0000000000 + 0x1000 * 64, 0x1000, 64);
  REQUIRE(layout);
  CHECK(layout->base == 0xffffea0000000000);
  CHECK(layout->pfn(0xffffea0000000000 + 77 * 64) == 77u);
  CHECK_FALSE(layout->pfn(0xffffea0000000000 + 77 * 64 + 8));  // not a struct page
  CHECK_FALSE(layout->pfn(0xffffe90000000000));
  CHECK_FALSE(VmemmapLayout::from_pair(100, 1000, 64));
  CHECK_FALSE(VmemmapLayout::from_pair(100, 1, 0));
}

TEST_CASE("blackhole: top series and the rest as other add up") {
  std::map<SiteGroup, std::uint64_t> bytes = {
      {{"anon_pipe_write", "python3"}, 300}, {{"skb_page_frag_refill", "nc"}, 200},
      {{"a", "x"}, 10}, {{"b", "y"}, 5}};
  auto top = top_black_hole_series(bytes, 2);
  REQUIRE(top.size() == 3);
  CHECK(top[0].first.first == "anon_pipe_write");
  CHECK(top[1].first.first == "skb_page_frag_refill");
  CHECK(top[2].first == SiteGroup{"other", "other"});
  CHECK(top[2].second == 15);
  CHECK(top_black_hole_series(bytes, 10).size() == 4);
  CHECK(top_black_hole_series({}, 3).empty());
}
