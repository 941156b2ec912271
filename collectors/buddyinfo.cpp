#include "collectors/buddyinfo.h"

#include <unistd.h>

#include "collectors/text.h"

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
  if (text.empty()) throw ParseError(0, "file is empty");
  if (text.back() != '\n') throw ParseError(0, "truncated: last line does not end with a newline");
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

namespace {

class BuddyinfoCollector final : public Collector {
 public:
  explicit BuddyinfoCollector(std::uint64_t page_size) : page_size_(page_size) {}
  std::string_view name() const override { return "buddyinfo"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    for (const auto& zone : parse_file(snapshot, Root::proc, "buddyinfo", parse_buddyinfo)) {
      std::string node = std::to_string(zone.node);
      for (std::size_t order = 0; order < zone.free_blocks.size(); ++order) {
        std::string order_label = std::to_string(order);
        sink.gauge("memledger_buddyinfo_free_blocks",
                   "Free blocks of 2^order contiguous pages in the zone (/proc/buddyinfo).",
                   {{"node", node}, {"zone", zone.zone}, {"order", order_label}},
                   static_cast<double>(zone.free_blocks[order]));
        if (order == 0) continue;  // every free page can serve a single page
        sink.gauge("memledger_buddyinfo_unusable_free_ratio",
                   "Share of the zone's free memory in blocks smaller than 2^order pages, "
                   "useless to an allocation of that order (unusable free space index).",
                   {{"node", node}, {"zone", zone.zone}, {"order", order_label}},
                   zone.unusable_free_ratio(order));
      }
      sink.gauge("memledger_buddyinfo_free_bytes",
                 "Free memory of the zone according to its free lists (per-CPU lists excluded).",
                 {{"node", node}, {"zone", zone.zone}},
                 static_cast<double>(zone.free_pages() * page_size_));
      sink.gauge("memledger_buddyinfo_largest_free_order",
                 "The largest order with a free block in the zone; -1 when it has none.",
                 {{"node", node}, {"zone", zone.zone}}, zone.largest_free_order());
    }
  }

 private:
  std::uint64_t page_size_;
};

}  // namespace

std::unique_ptr<Collector> make_buddyinfo_collector(const Config&) {
  return make_buddyinfo_collector_with_page_size(static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)));
}

std::unique_ptr<Collector> make_buddyinfo_collector_with_page_size(std::uint64_t page_size) {
  return std::make_unique<BuddyinfoCollector>(page_size);
}

}  // namespace memledger
