#include "procfs/kallsyms.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "procfs/errors.h"
#include "procfs/text.h"

namespace memledger {

namespace {

// Calls each(address, rest) for every text symbol (types t, T, w, W) in file order, rest
// being "name" or "name\t[module]". Returns whether any line had a nonzero address.
template <typename Each>
bool for_each_text_symbol(std::string_view text, Each&& each) {
  bool any_address = false;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (line.empty()) continue;
    auto space = line.find(' ');
    std::uint64_t address = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + std::min(space, line.size()), address, 16);
    if (space == std::string_view::npos || ec != std::errc{} || ptr != line.data() + space || space == 0 ||
        line.size() < space + 4 || line[space + 2] != ' ') {
      throw ParseError(lines.number(), "expected \"address type name\"");
    }
    char type = line[space + 1];
    std::string_view rest = line.substr(space + 3);
    if (rest.empty() || rest.front() == '\t' || rest.front() == ' ') {
      throw ParseError(lines.number(), "missing symbol name");
    }
    any_address = any_address || address != 0;
    if (type != 't' && type != 'T' && type != 'w' && type != 'W') continue;
    each(address, rest);
  }
  return any_address;
}

// "name" or "name\t[module]" -> "name" or "name [module]".
std::string symbol_name(std::string_view rest) {
  auto tab = rest.find('\t');
  if (tab == std::string_view::npos) return std::string(rest);
  std::string name;
  name.reserve(rest.size());
  name.append(rest.substr(0, tab)).append(" ").append(text::trim(rest.substr(tab + 1)));
  return name;
}

}  // namespace

std::vector<KernelSymbol> parse_kallsyms(std::string_view text) {
  std::vector<KernelSymbol> table;
  const bool any_address = for_each_text_symbol(
      text, [&](std::uint64_t address, std::string_view rest) { table.push_back({address, symbol_name(rest)}); });
  if (!any_address) return {};
  std::stable_sort(table.begin(), table.end(),
                   [](const KernelSymbol& a, const KernelSymbol& b) { return a.address < b.address; });
  // Aliases share an address: keep the first listed.
  table.erase(std::unique(table.begin(), table.end(),
                          [](const KernelSymbol& a, const KernelSymbol& b) { return a.address == b.address; }),
              table.end());
  return table;
}

std::vector<KernelSymbol> parse_kallsyms_covering(std::string_view text, std::vector<std::uint64_t> addresses) {
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  // closest[i]: the highest symbol in (addresses[i-1], addresses[i]]. /proc/kallsyms lists
  // the kernel's symbols by address but each module's after it, so one pass keeps, for
  // each symbol, only whether it is the closest below the first address at or above it.
  struct Closest {
    std::uint64_t address = 0;
    std::string_view rest;  // empty: none yet
  };
  std::vector<Closest> closest(addresses.size());
  const bool any_address = for_each_text_symbol(text, [&](std::uint64_t address, std::string_view rest) {
    auto above = std::lower_bound(addresses.begin(), addresses.end(), address);
    if (above == addresses.end()) return;
    Closest& c = closest[static_cast<std::size_t>(above - addresses.begin())];
    // Strictly higher: of aliases sharing an address, the first listed stays.
    if (c.rest.empty() || address > c.address) c = {address, rest};
  });
  if (!any_address) return {};
  // The symbol containing addresses[i] is the last one found in closest[0..i]: any symbol
  // below an earlier address is below this one too.
  std::vector<KernelSymbol> table;
  for (const Closest& c : closest) {
    if (!c.rest.empty()) table.push_back({c.address, symbol_name(c.rest)});
  }
  return table;
}

const KernelSymbol* symbolize(const std::vector<KernelSymbol>& table, std::uint64_t address) {
  auto it = std::upper_bound(table.begin(), table.end(), address,
                             [](std::uint64_t a, const KernelSymbol& s) { return a < s.address; });
  if (it == table.begin()) return nullptr;
  const KernelSymbol& symbol = *std::prev(it);
  // Linker markers of the end of the kernel's text (include/asm-generic/sections.h): an
  // address past them is no kernel function's (BPF JIT images, modules loaded later).
  if (symbol.name == "_etext" || symbol.name == "_einittext") return nullptr;
  return &symbol;
}

std::string_view source_function_name(std::string_view symbol) {
  symbol = symbol.substr(0, symbol.find(' '));  // the module
  symbol = symbol.substr(0, symbol.find('.'));  // .cold, .isra.0, .constprop.0, .part.0
  constexpr std::string_view kNoprof = "_noprof";
  if (symbol.size() > kNoprof.size() && symbol.ends_with(kNoprof)) symbol.remove_suffix(kNoprof.size());
  return symbol;
}

namespace {

bool starts_with_any(std::string_view name, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(), [&](std::string_view p) { return name.starts_with(p); });
}

// Frames of the tracing machinery between the tracepoint and the BPF program
// (kernel/trace/bpf_trace.c, include/trace/define_trace.h) and JIT-compiled programs.
bool is_tracing_frame(std::string_view name) {
  return starts_with_any(name, {"bpf_prog_", "bpf_trace_run", "__bpf_trace_", "__traceiter_",
                                "bpf_trampoline_", "trace_mm_page_alloc"});
}

// The page allocator's entry points and internals (mm/page_alloc.c, mm/mempolicy.c,
// include/linux/gfp.h), by their names without _noprof.
bool is_allocator_frame(std::string_view fn) {
  static constexpr std::array<std::string_view, 26> kExact = {
      "__alloc_pages", "alloc_pages", "__alloc_pages_node", "alloc_pages_node",
      "__alloc_frozen_pages", "alloc_frozen_pages", "__alloc_pages_slowpath", "get_page_from_freelist",
      "alloc_pages_mpol", "alloc_frozen_pages_mpol", "folio_alloc", "__folio_alloc", "folio_alloc_mpol",
      "__folio_alloc_node", "folio_alloc_node", "alloc_pages_exact", "alloc_pages_exact_nid",
      "__get_free_pages", "get_zeroed_page", "alloc_pages_bulk", "__alloc_pages_bulk",
      "alloc_pages_bulk_mempolicy", "alloc_pages_bulk_array_mempolicy", "__alloc_pages_direct_compact",
      "alloc_pages_vma", "vma_alloc_folio"};
  if (std::find(kExact.begin(), kExact.end(), fn) != kExact.end()) return true;
  return starts_with_any(fn, {"__alloc_pages_", "alloc_pages_", "rmqueue", "__rmqueue"});
}

// Allocations whose pages a /proc/meminfo counter includes, whatever kpageflags shows at
// the moment of the reconcile: VmallocUsed (mm/vmalloc.c), Percpu (mm/percpu-vm.c), Slab
// (slab pages, mm/slub.c allocate_slab; large kmalloc since 5.13, ___kmalloc_large_node)
// and PageTables (include/asm-generic/pgalloc.h, arch/x86/mm/pgtable.c).
bool is_accounted_elsewhere(std::string_view fn) {
  return starts_with_any(fn, {"vm_area_alloc_pages", "__vmalloc_area_node", "__vmalloc_node",
                              "pcpu_alloc_pages", "pcpu_populate_chunk", "___kmalloc_large_node",
                              "__kmalloc_large_node", "kmalloc_large", "allocate_slab", "new_slab",
                              "pte_alloc_one", "__pte_alloc", "__pmd_alloc", "__pud_alloc",
                              "__p4d_alloc", "pgd_alloc", "pmd_alloc_one", "pud_alloc_one"});
}

}  // namespace

AllocationSite fold_allocation_stack(const std::vector<KernelSymbol>& table,
                                     const std::vector<std::uint64_t>& stack) {
  AllocationSite result;
  bool named = false;
  for (std::uint64_t ip : stack) {
    if (ip == 0) break;
    const KernelSymbol* symbol = symbolize(table, ip);
    if (!symbol) continue;
    std::string_view fn = source_function_name(symbol->name);
    if (is_accounted_elsewhere(fn)) {
      result.accounted_elsewhere = true;
      if (!named) result.site = std::string(fn);
      return result;
    }
    if (named || is_tracing_frame(fn) || is_allocator_frame(fn)) continue;
    // The name as the kernel lists it, without compiler suffixes, with its module.
    std::string_view full = symbol->name;
    auto module = full.find(' ');
    result.site = std::string(fn);
    if (module != std::string_view::npos) result.site.append(full.substr(module));
    named = true;
  }
  if (!named && result.site.empty()) result.site = "unknown";
  return result;
}

}  // namespace memledger
