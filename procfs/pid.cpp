#include "procfs/pid.h"

#include <algorithm>

#include "procfs/errors.h"
#include "procfs/text.h"

namespace memledger {

namespace {

constexpr std::array<std::string_view, kMemoryKinds> kKindNames = {
    "rss", "pss", "pss_anon", "pss_file", "pss_shmem", "uss", "swap", "swap_pss"};

// Which kind an smaps field adds to; nullopt for the fields the collector does not use.
std::optional<MemoryKind> smaps_field_kind(std::string_view key) {
  switch (key.size()) {
    case 3:
      if (key == "Rss") return MemoryKind::rss;
      if (key == "Pss") return MemoryKind::pss;
      break;
    case 4:
      if (key == "Swap") return MemoryKind::swap;
      break;
    case 7:
      if (key == "SwapPss") return MemoryKind::swap_pss;
      break;
    case 8:
      if (key == "Pss_Anon") return MemoryKind::pss_anon;
      if (key == "Pss_File") return MemoryKind::pss_file;
      break;
    case 9:
      if (key == "Pss_Shmem") return MemoryKind::pss_shmem;
      break;
    case 13:
      if (key == "Private_Clean" || key == "Private_Dirty") return MemoryKind::uss;
      break;
  }
  return std::nullopt;
}

bool has_controller(std::string_view controllers, std::string_view wanted) {
  while (!controllers.empty()) {
    auto comma = controllers.find(',');
    if (controllers.substr(0, comma) == wanted) return true;
    if (comma == std::string_view::npos) break;
    controllers.remove_prefix(comma + 1);
  }
  return false;
}

// Calls fn(hierarchy, controllers, path) for each "hierarchy:controllers:path" line.
template <class Fn>
void for_each_cgroup_line(std::string_view file, Fn&& fn) {
  text::LineReader lines(file);
  std::string_view line;
  while (lines.next(line)) {
    auto first = line.find(':');
    if (first == std::string_view::npos) continue;
    auto second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    fn(line.substr(0, first), line.substr(first + 1, second - first - 1), line.substr(second + 1));
  }
}

}  // namespace

std::string_view kind_name(MemoryKind kind) { return kKindNames[static_cast<std::size_t>(kind)]; }

void ProcessMemory::add(const ProcessMemory& other) {
  for (std::size_t k = 0; k < kMemoryKinds; ++k) bytes[k] += other.bytes[k];
  present |= other.present;
}

ProcessMemory parse_smaps(std::string_view text) {
  ProcessMemory memory;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto kind = smaps_field_kind(line.substr(0, colon));
    if (!kind) continue;  // mapping headers, VmFlags, fields not exported
    std::string_view rest = line.substr(colon + 1);
    std::string_view number = text::next_field(rest);
    std::string_view unit = text::next_field(rest);
    if (unit != "kB" || !text::trim(rest).empty()) {
      throw ParseError(lines.number(), "expected \"Name: value kB\"");
    }
    memory.add(*kind, text::require_u64(number, lines.number(), line.substr(0, colon)) * 1024);
  }
  return memory;
}

ProcStat parse_proc_stat(std::string_view text) {
  // comm sits between the first '(' and the LAST ')': it may itself hold ')' and spaces.
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    throw ParseError(1, "expected \"pid (comm) state ...\"");
  }
  ProcStat stat;
  stat.comm = text.substr(open + 1, close - open - 1);
  std::string_view rest = text.substr(close + 1);
  // Fields after comm, 0-based: 0 state, 6 flags, 19 starttime, 21 rss.
  for (int index = 0; index <= 21; ++index) {
    std::string_view field = text::next_field(rest);
    if (field.empty()) throw ParseError(1, "truncated: " + std::to_string(index) + " fields after comm");
    switch (index) {
      case 0:
        stat.state = field[0];
        break;
      case 6:
        stat.flags = text::require_u64(field, 1, "flags");
        break;
      case 19:
        stat.starttime = text::require_u64(field, 1, "starttime");
        break;
      case 21:
        stat.rss_pages = text::require_u64(field, 1, "rss");
        break;
    }
  }
  return stat;
}

std::string_view cgroup_path(std::string_view cgroup_file) {
  std::optional<std::string_view> memory, unified;
  for_each_cgroup_line(cgroup_file, [&](auto hierarchy, auto controllers, auto path) {
    if (has_controller(controllers, "memory")) memory = path;
    if (hierarchy == "0" && controllers.empty()) unified = path;
  });
  return memory.value_or(unified.value_or(std::string_view{}));
}

std::string_view systemd_cgroup_path(std::string_view cgroup_file) {
  std::optional<std::string_view> named, unified;
  for_each_cgroup_line(cgroup_file, [&](auto hierarchy, auto controllers, auto path) {
    if (controllers == "name=systemd") named = path;
    if (hierarchy == "0" && controllers.empty()) unified = path;
  });
  return named.value_or(unified.value_or(std::string_view{}));
}

std::string_view systemd_unit(std::string_view path) {
  std::string_view unit, slice;
  std::string_view rest = path;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string_view component = rest.substr(0, slash);
    if (text::ends_with(component, ".service") || text::ends_with(component, ".scope")) unit = component;
    if (text::ends_with(component, ".slice")) slice = component;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (!unit.empty()) return unit;
  if (!slice.empty()) return slice;
  if (path == "/") return "-.slice";
  return path;
}

std::optional<std::uint32_t> status_real_uid(std::string_view status) {
  text::LineReader lines(status);
  std::string_view line;
  while (lines.next(line)) {
    if (!text::starts_with(line, "Uid:")) continue;
    std::string_view rest = line.substr(4);
    auto uid = text::to_u64(text::next_field(rest));
    if (!uid || *uid > UINT32_MAX) return std::nullopt;
    return static_cast<std::uint32_t>(*uid);
  }
  return std::nullopt;
}


}  // namespace memledger
