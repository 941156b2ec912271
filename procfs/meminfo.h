#pragma once
// /proc/meminfo and the per-node /sys/devices/system/node/node<N>/meminfo
// (Documentation/filesystems/proc.rst, "meminfo").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

struct MeminfoField {
  std::string name;     // exactly as the kernel spells it, e.g. "Active(anon)"
  std::uint64_t value;  // bytes for "kB" lines, a count for unitless lines
  bool is_bytes;        // false for HugePages_Total and friends
};

struct Meminfo {
  std::vector<MeminfoField> fields;  // in file order

  const MeminfoField* find(std::string_view name) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }
  // Bytes of a "kB" field; nullopt when the kernel does not have it.
  std::optional<std::uint64_t> bytes(std::string_view name) const;
  // Bytes of a "kB" field, 0 when absent (fields newer kernels added, or removed).
  std::uint64_t bytes_or_zero(std::string_view name) const;
  std::optional<std::uint64_t> count(std::string_view name) const;
};

// Parses /proc/meminfo, or a per-node meminfo whose lines start with "Node N ".
// Throws ParseError on a malformed line.
Meminfo parse_meminfo(std::string_view text);

// /proc/meminfo, parsed once per snapshot. Throws CollectError naming the file and line.
const Meminfo& read_meminfo(Snapshot& snapshot);

}  // namespace memledger
