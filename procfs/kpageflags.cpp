#include "procfs/kpageflags.h"

#include <algorithm>
#include <charconv>

#include "procfs/errors.h"
#include "procfs/text.h"

namespace memledger {

std::string_view page_class_name(PageClass c) {
  switch (c) {
    case PageClass::no_page: return "no_page";
    case PageClass::reserved: return "reserved";
    case PageClass::offline: return "offline";
    case PageClass::hwpoison: return "hwpoison";
    case PageClass::free: return "free";
    case PageClass::typed: return "typed";
    case PageClass::untyped: return "untyped";
  }
  return "unknown";
}

namespace {

constexpr std::uint64_t bit(int b) { return std::uint64_t{1} << b; }

// Every flag that names a use of the page (see PageClass in the header).
constexpr std::uint64_t kTypeFlags = [] {
  std::uint64_t mask = 0;
  for (int b = kpf::kLocked; b <= kpf::kPgtable; ++b) {
    if (b != kpf::kIdle) mask |= bit(b);
  }
  for (int b = kpf::kMlocked; b <= kpf::kOwnerPrivate; ++b) mask |= bit(b);
  return mask;
}();

}  // namespace

PageClass classify_page(std::uint64_t flags) {
  if (flags & bit(kpf::kNopage)) return PageClass::no_page;
  if (flags & bit(kpf::kReserved)) return PageClass::reserved;
  if (flags & bit(kpf::kOffline)) return PageClass::offline;
  if (flags & bit(kpf::kHwpoison)) return PageClass::hwpoison;
  if (flags & bit(kpf::kBuddy)) return PageClass::free;
  if (flags & kTypeFlags) return PageClass::typed;
  return PageClass::untyped;
}

std::vector<PfnRange> parse_iomem_system_ram(std::string_view text, std::uint64_t page_size) {
  std::vector<PfnRange> ram;
  bool any_address = false;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (line.empty() || line.front() == ' ') continue;  // nested resources
    auto colon = line.find(" : ");
    if (colon == std::string_view::npos) throw ParseError(lines.number(), "expected \"start-end : name\"");
    std::string_view range = line.substr(0, colon);
    auto dash = range.find('-');
    std::uint64_t start = 0, end = 0;
    auto hex = [&](std::string_view s, std::uint64_t& out) {
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
      return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty();
    };
    if (dash == std::string_view::npos || !hex(range.substr(0, dash), start) || !hex(range.substr(dash + 1), end) ||
        end < start) {
      throw ParseError(lines.number(), "malformed address range \"" + std::string(range) + "\"");
    }
    any_address = any_address || end != 0;
    if (line.substr(colon + 3) != "System RAM") continue;
    ram.push_back({start / page_size, (end + 1) / page_size});
  }
  if (!any_address) ram.clear();
  std::sort(ram.begin(), ram.end(), [](const PfnRange& a, const PfnRange& b) { return a.first < b.first; });
  return ram;
}

void PageCensus::add(const std::uint64_t* flags, std::size_t n, std::uint64_t first_pfn,
                     const std::vector<PfnRange>& ram) {
  auto classify = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      PageClass c = classify_page(flags[i]);
      ++pages[static_cast<std::size_t>(c)];
      if (c == PageClass::typed && (flags[i] & bit(kpf::kPgtable))) ++page_table_pages;
    }
  };
  if (ram.empty()) {
    classify(0, n);
    return;
  }
  const std::uint64_t end_pfn = first_pfn + n;
  std::uint64_t in_ram = 0;
  for (const auto& r : ram) {
    std::uint64_t from = std::max(r.first, first_pfn);
    std::uint64_t to = std::min(r.end, end_pfn);
    if (from >= to) continue;
    classify(from - first_pfn, to - first_pfn);
    in_ram += to - from;
  }
  pages[static_cast<std::size_t>(PageClass::no_page)] += n - in_ram;
  ram_pages += in_ram;
}

}  // namespace memledger
