#include "procfs/maps.h"

#include <charconv>

#include "procfs/errors.h"
#include "procfs/text.h"

namespace memledger {

std::vector<AddressRange> parse_maps_ranges(std::string_view text) {
  std::vector<AddressRange> ranges;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (line.empty()) continue;
    const char* begin = line.data();
    const char* end = begin + line.size();
    AddressRange range;
    auto first = std::from_chars(begin, end, range.start, 16);
    if (first.ec != std::errc{} || first.ptr == end || *first.ptr != '-') {
      throw ParseError(lines.number(), "expected \"start-end\" in hexadecimal");
    }
    auto second = std::from_chars(first.ptr + 1, end, range.end, 16);
    if (second.ec != std::errc{} || second.ptr == first.ptr + 1 ||
        (second.ptr != end && *second.ptr != ' ') || range.end < range.start) {
      throw ParseError(lines.number(), "expected \"start-end\" in hexadecimal");
    }
    // The vsyscall page lies above TASK_SIZE: pagemap_read() reads nothing there (and
    // smaps_rollup counts nothing of it).
    if (line.size() >= 11 && line.substr(line.size() - 11) == " [vsyscall]") continue;
    ranges.push_back(range);
  }
  return ranges;
}

}  // namespace memledger
