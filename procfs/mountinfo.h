#pragma once
// /proc/self/mountinfo (Documentation/filesystems/proc.rst, "mountinfo").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

// One line of /proc/<pid>/mountinfo.
struct MountEntry {
  std::uint32_t major = 0;  // of the filesystem's st_dev
  std::uint32_t minor = 0;
  std::string mountpoint;   // \040-style escapes decoded
  std::string fstype;
  std::string source;
};

// Throws ParseError on a line without the " - " separator or a bad major:minor.
std::vector<MountEntry> parse_mountinfo(std::string_view text);

// A mountinfo file ("self/mountinfo", "1/mountinfo"), parsed once per snapshot; throws
// CollectError.
const std::vector<MountEntry>& read_mountinfo(Snapshot& snapshot, std::string_view relative);

}  // namespace memledger
