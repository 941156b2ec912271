#include "procfs/allocinfo.h"

#include <algorithm>
#include <array>

#include "procfs/text.h"

namespace memledger {

namespace {

// "12*" marks a counter the kernel knows to be incomplete (format 2.0 proposals).
std::string_view strip_inaccurate_mark(std::string_view field, bool& accurate) {
  if (!field.empty() && field.back() == '*') {
    accurate = false;
    field.remove_suffix(1);
  }
  return field;
}

}  // namespace

std::vector<AllocSite> parse_allocinfo(std::string_view text) {
  std::vector<AllocSite> sites;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    std::string_view trimmed = text::trim(line);
    if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == '<') continue;
    if (text::starts_with(trimmed, "allocinfo - version:")) {
      std::string_view version = text::trim(trimmed.substr(20));
      auto major = text::to_u64(version.substr(0, version.find('.')));
      if (lines.number() != 1 || !major || *major < 1 || *major > 2) {
        throw ParseError(lines.number(), "unsupported allocinfo version \"" + std::string(version) + "\"");
      }
      continue;
    }
    std::string_view rest = trimmed;
    AllocSite site;
    std::string_view bytes = strip_inaccurate_mark(text::next_field(rest), site.accurate);
    std::string_view calls = strip_inaccurate_mark(text::next_field(rest), site.accurate);
    auto signed_bytes = text::to_i64(bytes);
    if (!signed_bytes) throw ParseError(lines.number(), "size: expected an integer, got \"" + std::string(bytes) + "\"");
    site.bytes = *signed_bytes;
    site.allocations = text::require_u64(calls, lines.number(), "calls");
    std::string_view location = text::next_field(rest);
    auto colon = location.rfind(':');
    if (colon == std::string_view::npos || !text::to_u64(location.substr(colon + 1))) {
      throw ParseError(lines.number(), "expected file:line after the counters");
    }
    site.site = std::string(location);
    for (std::string_view token = text::next_field(rest); !token.empty(); token = text::next_field(rest)) {
      if (token.size() > 2 && token.front() == '[' && token.back() == ']') {
        site.module = std::string(token.substr(1, token.size() - 2));
      } else if (text::starts_with(token, "func:")) {
        site.function = std::string(token.substr(5));
      } else if (token == "accurate:no") {
        site.accurate = false;
      }
    }
    sites.push_back(std::move(site));
  }
  return sites;
}

const std::vector<AllocSite>& read_allocinfo(Snapshot& snapshot) {
  return parse_file(snapshot, Root::proc, "allocinfo", parse_allocinfo);
}

}  // namespace memledger
