#include "procfs/sysfs_value.h"

#include "procfs/text.h"

namespace memledger {

std::uint64_t parse_sysfs_u64(std::string_view text) {
  text::require_content(text);
  if (text.back() == '\n') text.remove_suffix(1);
  if (text.find('\n') != std::string_view::npos) {
    throw ParseError(2, "expected one line holding one unsigned integer");
  }
  return text::require_u64(text, 1, "value");
}

std::optional<std::uint64_t> read_optional_sysfs_u64(Snapshot& snapshot, Root root,
                                                     std::string_view relative) {
  if (snapshot.missing(root, relative)) return std::nullopt;
  return read_sysfs_u64(snapshot, root, relative);
}

std::uint64_t read_sysfs_u64(Snapshot& snapshot, Root root, std::string_view relative) {
  return parse_file(snapshot, root, relative, parse_sysfs_u64);
}

}  // namespace memledger
