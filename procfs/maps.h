#pragma once
// /proc/<pid>/maps: the address ranges of a process's mappings.
#include <cstdint>
#include <string_view>
#include <vector>

namespace memledger {

struct AddressRange {
  std::uint64_t start = 0, end = 0;  // [start, end), page-aligned
};

// One range per mapping but [vsyscall]: one per "start-end perms offset dev inode [path]" line, in file order (ascending).
// Throws ParseError on a line that does not begin with "hex-hex ".
std::vector<AddressRange> parse_maps_ranges(std::string_view text);

}  // namespace memledger
