#include "procfs/zoneinfo.h"

#include <algorithm>

#include "procfs/text.h"

namespace memledger {

namespace {

// "Node 0, zone      DMA"
Zone parse_zone_header(std::string_view line, std::size_t number) {
  std::string_view rest = line;
  std::string_view node_word = text::next_field(rest);
  std::string_view node_number = text::next_field(rest);
  std::string_view zone_word = text::next_field(rest);
  std::string_view name = text::next_field(rest);
  if (node_word != "Node" || node_number.empty() || node_number.back() != ',' ||
      zone_word != "zone" || name.empty() || !text::trim(rest).empty()) {
    throw ParseError(number, "expected \"Node N, zone NAME\"");
  }
  node_number.remove_suffix(1);
  std::uint64_t node = text::require_u64(node_number, number, "node");
  if (node > 1u << 20) throw ParseError(number, "node number out of range");
  Zone zone;
  zone.node = static_cast<int>(node);
  zone.name = std::string(name);
  return zone;
}

// Every kernel prints these three for every zone; their absence means a cut-off file.
struct ZoneLines {
  std::size_t header = 0;
  bool free = false, spanned = false, present = false;

  void require_complete(const Zone& zone) const {
    const char* missing = !free ? "pages free" : !spanned ? "spanned" : !present ? "present" : nullptr;
    if (missing) {
      throw ParseError(header, "node " + std::to_string(zone.node) + " zone " + zone.name +
                                   " has no \"" + missing + "\" line");
    }
  }
};

std::uint64_t sole_value(std::string_view rest, std::size_t line, std::string_view what) {
  std::uint64_t value = text::require_u64(text::next_field(rest), line, what);
  if (!text::trim(rest).empty()) throw ParseError(line, "unexpected text after " + std::string(what));
  return value;
}

}  // namespace

std::vector<Zone> parse_zoneinfo(std::string_view text) {
  text::require_content(text);
  std::vector<Zone> zones;
  ZoneLines seen;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (text::trim(line).empty()) continue;
    // Zone headers start in column 0; everything else is indented.
    if (!text::is_space(line.front())) {
      if (!zones.empty()) seen.require_complete(zones.back());
      zones.push_back(parse_zone_header(line, lines.number()));
      seen = ZoneLines{lines.number()};
      continue;
    }
    if (zones.empty()) throw ParseError(lines.number(), "expected \"Node N, zone NAME\" first");
    Zone& zone = zones.back();
    std::string_view rest = line;
    std::string_view key = text::next_field(rest);
    if (key == "pages") {
      if (text::next_field(rest) != "free") throw ParseError(lines.number(), "expected \"pages free N\"");
      zone.free_pages = sole_value(rest, lines.number(), "pages free");
      seen.free = true;
    } else if (key == "spanned") {
      zone.spanned_pages = sole_value(rest, lines.number(), key);
      seen.spanned = true;
    } else if (key == "present") {
      zone.present_pages = sole_value(rest, lines.number(), key);
      seen.present = true;
    } else if (key == "managed") {
      zone.managed_pages = sole_value(rest, lines.number(), key);
      zone.has_managed = true;
    } else if (key == "count:") {
      zone.pcp_pages += sole_value(rest, lines.number(), key);
    }
  }
  if (zones.empty()) throw ParseError(0, "no zones");
  seen.require_complete(zones.back());
  return zones;
}

std::uint64_t per_cpu_free_list_pages(const std::vector<Zone>& zones) {
  std::uint64_t pages = 0;
  for (const auto& zone : zones) pages += zone.pcp_pages;
  return pages;
}

const std::vector<Zone>& read_zoneinfo(Snapshot& snapshot) {
  return parse_file(snapshot, Root::proc, "zoneinfo", parse_zoneinfo);
}

}  // namespace memledger
