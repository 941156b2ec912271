#include "procfs/mountinfo.h"

#include <algorithm>

#include "procfs/text.h"

namespace memledger {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
std::string unescape_mount_field(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      auto octal = field.substr(i + 1, 3);
      bool digits = std::all_of(octal.begin(), octal.end(), [](char c) { return c >= '0' && c <= '7'; });
      if (digits) {
        out.push_back(static_cast<char>((octal[0] - '0') * 64 + (octal[1] - '0') * 8 + (octal[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> mounts;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (text::trim(line).empty()) continue;
    std::string_view rest = line;
    text::next_field(rest);  // mount id
    text::next_field(rest);  // parent id
    std::string_view device = text::next_field(rest);
    text::next_field(rest);  // root of the mount within its filesystem
    std::string_view mountpoint = text::next_field(rest);
    auto separator = rest.find(" - ");
    if (separator == std::string_view::npos) {
      throw ParseError(lines.number(), "expected \" - \" before the filesystem type");
    }
    rest = rest.substr(separator + 3);
    std::string_view fstype = text::next_field(rest);
    std::string_view source = text::next_field(rest);
    auto colon = device.find(':');
    if (colon == std::string_view::npos || fstype.empty()) {
      throw ParseError(lines.number(), "expected major:minor and a filesystem type");
    }
    MountEntry entry;
    entry.major = static_cast<std::uint32_t>(text::require_u64(device.substr(0, colon), lines.number(), "major"));
    entry.minor = static_cast<std::uint32_t>(text::require_u64(device.substr(colon + 1), lines.number(), "minor"));
    entry.mountpoint = unescape_mount_field(mountpoint);
    entry.fstype = std::string(fstype);
    entry.source = unescape_mount_field(source);
    mounts.push_back(std::move(entry));
  }
  return mounts;
}

const std::vector<MountEntry>& read_mountinfo(Snapshot& snapshot, std::string_view relative) {
  return parse_file(snapshot, Root::proc, relative, parse_mountinfo);
}

}  // namespace memledger
