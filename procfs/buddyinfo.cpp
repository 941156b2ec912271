#include "procfs/buddyinfo.h"

#include <algorithm>
#include <array>

#include "procfs/text.h"

namespace memledger {

std::uint64_t BuddyZone::free_pages() const {
  std::uint64_t pages = 0;
  for (std::size_t order = 0; order < free_blocks.size(); ++order) pages += free_blocks[order] << order;
  return pages;
}

double BuddyZone::unusable_free_ratio(std::size_t order) const {
  std::uint64_t total = free_pages();
  if (total == 0) return 0;
  std::uint64_t usable = 0;
  for (std::size_t i = order; i < free_blocks.size(); ++i) usable += free_blocks[i] << i;
  return static_cast<double>(total - usable) / static_cast<double>(total);
}

int BuddyZone::largest_free_order() const {
  for (std::size_t order = free_blocks.size(); order > 0; --order) {
    if (free_blocks[order - 1] > 0) return static_cast<int>(order - 1);
  }
  return -1;
}

std::vector<BuddyZone> parse_buddyinfo(std::string_view text) {
  text::require_content(text);
  std::vector<BuddyZone> zones;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (text::trim(line).empty()) continue;
    std::string_view rest = line;
    std::string_view node_word = text::next_field(rest);
    std::string_view node = text::next_field(rest);
    std::string_view zone_word = text::next_field(rest);
    std::string_view zone = text::next_field(rest);
    if (node_word != "Node" || node.size() < 2 || node.back() != ',' || zone_word != "zone" || zone.empty()) {
      throw ParseError(lines.number(), "expected \"Node N, zone NAME counts...\"");
    }
    BuddyZone entry;
    entry.node = static_cast<int>(text::require_u64(node.substr(0, node.size() - 1), lines.number(), "node"));
    entry.zone = std::string(zone);
    for (std::string_view count = text::next_field(rest); !count.empty(); count = text::next_field(rest)) {
      entry.free_blocks.push_back(text::require_u64(count, lines.number(), "free blocks"));
    }
    if (entry.free_blocks.empty() || entry.free_blocks.size() > 64) {
      throw ParseError(lines.number(), "expected between 1 and 64 orders");
    }
    zones.push_back(std::move(entry));
  }
  if (zones.empty()) throw ParseError(0, "no zones");
  return zones;
}

const std::vector<BuddyZone>& read_buddyinfo(Snapshot& snapshot) {
  return parse_file(snapshot, Root::proc, "buddyinfo", parse_buddyinfo);
}

}  // namespace memledger
