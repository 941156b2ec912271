#pragma once
// One value per sysfs attribute (Documentation/filesystems/sysfs.rst): a number and a
// newline, as nr_hugepages, memory.kmem.usage_in_bytes or a balloon's current_kb hold.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "procfs/snapshot.h"

namespace memledger {

// Exactly one unsigned integer, the final newline optional. Throws ParseError.
std::uint64_t parse_sysfs_u64(std::string_view text);

// The attribute's value, parsed once per snapshot; nullopt when the file does not exist.
// Throws CollectError when it exists but cannot be read or parsed.
std::optional<std::uint64_t> read_optional_sysfs_u64(Snapshot& snapshot, Root root,
                                                     std::string_view relative);

// The attribute's value; throws CollectError when missing, unreadable or malformed.
std::uint64_t read_sysfs_u64(Snapshot& snapshot, Root root, std::string_view relative);

}  // namespace memledger
