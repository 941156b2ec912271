#include "procfs/vmallocinfo.h"

#include <algorithm>
#include <array>

#include "procfs/text.h"

namespace memledger {

namespace {

// Flags that name a kind, in the order that decides an area's kind. "vpages" (the page
// array was itself vmalloc'ed) is an attribute, not a kind.
constexpr std::array<std::string_view, 7> kKindOrder = {
    "vmalloc", "vmap", "user", "dma-coherent", "sparse", "vm_map_ram", "ioremap"};

bool is_known_flag(std::string_view token) {
  return token == "vpages" ||
         std::find(kKindOrder.begin(), kKindOrder.end(), token) != kKindOrder.end();
}

// A flag a newer kernel may add: lower-case letters, digits, '-' and '_'.
bool is_flag_word(std::string_view token) {
  if (token.empty() || token.front() < 'a' || token.front() > 'z') return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// "N0=4": pages on NUMA node 0.
bool is_numa_count(std::string_view token) {
  if (token.size() < 4 || token.front() != 'N') return false;
  auto eq = token.find('=');
  return eq != std::string_view::npos && eq > 1 && text::to_u64(token.substr(1, eq - 1));
}

bool is_attribute(std::string_view token) {
  return text::starts_with(token, "pages=") || text::starts_with(token, "phys=") ||
         is_numa_count(token) || is_known_flag(token);
}

struct Area {
  std::uint64_t size = 0;
  std::uint64_t pages = 0;
  std::string_view symbol;  // caller without "+offset/length"
  std::string_view module;  // "[drm]" for callers in modules
  std::string_view kind = "other";
  bool vmalloc = false;
  bool unpurged = false;
};

// 0x<start>-0x<end> <size> [caller [module]] [pages=N] [phys=A] [flags...] [N<node>=count]
// or 0x<start>-0x<end> <size> unpurged vm_area | vm_map_ram
Area parse_area(std::string_view line, std::size_t number) {
  std::string_view rest = line;
  std::string_view range = text::next_field(rest);
  if (!text::starts_with(range, "0x") || range.find("-0x") == std::string_view::npos) {
    throw ParseError(number, "expected an address range \"0x...-0x...\"");
  }
  Area area;
  area.size = text::require_u64(text::next_field(rest), number, "size");
  std::string_view token = text::next_field(rest);
  if (token == "unpurged") {
    if (text::next_field(rest) != "vm_area" || !text::trim(rest).empty()) {
      throw ParseError(number, "expected \"unpurged vm_area\"");
    }
    area.unpurged = true;
    return area;
  }
  if (!token.empty() && !is_attribute(token)) {
    area.symbol = token.substr(0, token.find('+'));
    token = text::next_field(rest);
    if (token.size() > 2 && token.front() == '[' && token.back() == ']') {
      area.module = token;
      token = text::next_field(rest);
    }
  }
  std::size_t kind_rank = kKindOrder.size() + 1;
  for (; !token.empty(); token = text::next_field(rest)) {
    if (text::starts_with(token, "pages=")) {
      area.pages = text::require_u64(token.substr(6), number, "pages");
    } else if (text::starts_with(token, "phys=")) {
      if (token.size() == 5) throw ParseError(number, "phys= without an address");
    } else if (is_numa_count(token)) {
      text::require_u64(token.substr(token.find('=') + 1), number, token.substr(0, token.find('=')));
    } else if (is_flag_word(token)) {
      if (token == "vpages") continue;
      area.vmalloc = area.vmalloc || token == "vmalloc";
      auto known = std::find(kKindOrder.begin(), kKindOrder.end(), token);
      std::size_t rank = static_cast<std::size_t>(known - kKindOrder.begin());  // unknown: size()
      if (rank < kind_rank) {
        kind_rank = rank;
        area.kind = token;
      }
    } else {
      throw ParseError(number, "unexpected \"" + std::string(token.substr(0, 40)) + "\"");
    }
  }
  return area;
}

std::size_t count_lines(std::string_view text) {
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

bool is_kernel_stack_caller(std::string_view symbol) {
  static constexpr std::array<std::string_view, 8> kStackCallers = {
      "kernel_clone",      "_do_fork",          "fork_idle",       "create_io_thread",
      "vhost_task_create", "copy_process",      "dup_task_struct", "alloc_thread_stack_node"};
  std::string_view base = symbol.substr(0, symbol.find('.'));
  return std::find(kStackCallers.begin(), kStackCallers.end(), base) != kStackCallers.end();
}

VmallocSummary parse_vmallocinfo(std::string_view text, std::uint64_t page_size) {
  text::require_content(text);
  VmallocSummary summary;
  summary.bytes_by_kind["vmalloc"] = 0;
  summary.bytes_by_kind["vmap"] = 0;
  std::map<std::pair<std::string_view, std::string_view>, std::uint64_t> callers;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    Area area = parse_area(line, lines.number());
    // A flag this parser does not know, on an unterminated last line, is a known one cut
    // short ("vmal" of "vmalloc"): the file was not read whole.
    if (lines.unterminated()) {
      std::string_view rest = line, last;
      for (std::string_view token; !(token = text::next_field(rest)).empty();) last = token;
      if (is_flag_word(last) && !is_known_flag(last)) {
        throw ParseError(lines.number(), "cut short: the last line ends in an unknown flag and no newline");
      }
    }
    if (area.unpurged) continue;
    ++summary.areas;
    std::uint64_t bytes = area.pages * page_size;
    if (area.kind == "ioremap") summary.ioremap_address_bytes += area.size;
    if (area.kind != "ioremap" || bytes) {
      auto it = summary.bytes_by_kind.find(area.kind);
      if (it == summary.bytes_by_kind.end()) it = summary.bytes_by_kind.emplace(area.kind, 0).first;
      it->second += bytes;
    }
    if (area.vmalloc) {
      summary.vmalloc_bytes += bytes;
      if (is_kernel_stack_caller(area.symbol)) {
        summary.kernel_stack_bytes += bytes;
        ++summary.kernel_stack_areas;
      }
    }
    if (bytes) callers[{area.symbol, area.module}] += bytes;
  }
  summary.bytes_by_caller.reserve(callers.size());
  for (const auto& [key, bytes] : callers) {
    const auto& [symbol, module] = key;
    std::string name = symbol.empty() ? "unknown" : std::string(symbol);
    if (!module.empty()) name.append(" ").append(module);
    summary.bytes_by_caller.emplace_back(std::move(name), bytes);
  }
  std::sort(summary.bytes_by_caller.begin(), summary.bytes_by_caller.end(),
            [](const auto& a, const auto& b) {
              return a.second != b.second ? a.second > b.second : a.first < b.first;
            });
  return summary;
}

const VmallocSummary& read_vmallocinfo(Snapshot& snapshot) {
  return parse_file(snapshot, Root::proc, "vmallocinfo", [&](std::string_view text) {
    return parse_vmallocinfo(text, snapshot.page_size());
  });
}

}  // namespace memledger
