#include "procfs/sysvipc.h"

#include <algorithm>

#include "procfs/text.h"

namespace memledger {

std::vector<SysvShmSegment> parse_sysvipc_shm(std::string_view text) {
  text::LineReader lines(text);
  std::string_view header;
  if (!lines.next(header)) throw ParseError(0, "file is empty");
  std::vector<std::string_view> columns;
  for (std::string_view rest = header;;) {
    std::string_view name = text::next_field(rest);
    if (name.empty()) break;
    columns.push_back(name);
  }
  auto column = [&](std::string_view name) -> std::optional<std::size_t> {
    auto it = std::find(columns.begin(), columns.end(), name);
    if (it == columns.end()) return std::nullopt;
    return static_cast<std::size_t>(it - columns.begin());
  };
  auto size_column = column("size");
  auto nattch_column = column("nattch");
  if (!size_column || !nattch_column) throw ParseError(1, "header lacks the size or nattch column");
  auto rss_column = column("rss");
  auto swap_column = column("swap");

  std::vector<SysvShmSegment> segments;
  std::string_view line;
  std::vector<std::string_view> fields;
  while (lines.next(line)) {
    if (text::trim(line).empty()) continue;
    fields.clear();
    for (std::string_view rest = line;;) {
      std::string_view field = text::next_field(rest);
      if (field.empty()) break;
      fields.push_back(field);
    }
    if (fields.size() != columns.size()) {
      throw ParseError(lines.number(), "expected " + std::to_string(columns.size()) + " columns, got " +
                                           std::to_string(fields.size()));
    }
    SysvShmSegment segment;
    segment.size = text::require_u64(fields[*size_column], lines.number(), "size");
    segment.nattch = text::require_u64(fields[*nattch_column], lines.number(), "nattch");
    if (rss_column) segment.rss = text::require_u64(fields[*rss_column], lines.number(), "rss");
    if (swap_column) segment.swap = text::require_u64(fields[*swap_column], lines.number(), "swap");
    segments.push_back(segment);
  }
  return segments;
}

const std::vector<SysvShmSegment>& read_sysvipc_shm(Snapshot& snapshot) {
  return parse_file(snapshot, Root::proc, "sysvipc/shm", parse_sysvipc_shm);
}

}  // namespace memledger
