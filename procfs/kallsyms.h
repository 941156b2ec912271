#pragma once
// /proc/kallsyms: the kernel's text symbols, to name the addresses of a kernel stack, and
// the folding of a page allocation's stack to its call site: the first frame outside the
// page allocator.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memledger {

struct KernelSymbol {
  std::uint64_t address = 0;
  std::string name;    // "anon_pipe_write"; a module's symbol: "ttm_pool_alloc [ttm]"
};

// Text symbols (types t, T, w, W) sorted by address, one per address. Lines
// "ffffffff81205f70 t vmemmap_populate.cold" and "... t name\t[module]". All addresses 0
// (kptr_restrict, or no CAP_SYSLOG) gives an empty table. Throws ParseError on a line
// without an address, a type and a name.
std::vector<KernelSymbol> parse_kallsyms(std::string_view text);

// The same table cut to the symbols containing `addresses` (in any order): what
// symbolize() needs to name just these, a few entries where the whole table of a kernel
// holds ~120,000 (9-10 MiB resident). symbolize() gives the same answer on both for every
// one of `addresses`. Throws ParseError as parse_kallsyms does.
std::vector<KernelSymbol> parse_kallsyms_covering(std::string_view text, std::vector<std::uint64_t> addresses);

// The symbol containing `address`: the last one at or below it. nullptr below the first
// symbol, past the end of the kernel's text (_etext, _einittext), or when the table is
// empty. The end of a module's last symbol is unknown.
const KernelSymbol* symbolize(const std::vector<KernelSymbol>& table, std::uint64_t address);

// "__alloc_pages_noprof.cold" -> "__alloc_pages"; "foo.isra.0 [mod]" -> "foo": the name a
// function has in the source, for matching (compiler clones and _noprof wrappers of
// include/linux/alloc_tag.h's memory allocation profiling removed).
std::string_view source_function_name(std::string_view symbol);

// Where a page allocation's kernel stack (innermost frame first) was folded to.
struct AllocationSite {
  std::string site;  // first frame outside the allocator, with its module; "unknown"
  // The pages are counted by a /proc/meminfo line although kpageflags shows no type:
  // vmalloc (VmallocUsed), percpu chunks (Percpu), large kmalloc (Slab).
  bool accounted_elsewhere = false;
};

// Skips the tracing frames (the BPF program, its trampoline, __traceiter_*) and the page
// allocator's (__alloc_frozen_pages, alloc_pages_mpol, folio_alloc, get_free_pages...),
// then names the first remaining frame. Addresses no symbol covers are skipped too.
AllocationSite fold_allocation_stack(const std::vector<KernelSymbol>& table,
                                     const std::vector<std::uint64_t>& stack);

}  // namespace memledger
