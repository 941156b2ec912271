#include "procfs/meminfo.h"

#include "procfs/text.h"

namespace memledger {

const MeminfoField* Meminfo::find(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::optional<std::uint64_t> Meminfo::bytes(std::string_view name) const {
  const MeminfoField* f = find(name);
  if (!f || !f->is_bytes) return std::nullopt;
  return f->value;
}

std::uint64_t Meminfo::bytes_or_zero(std::string_view name) const {
  return bytes(name).value_or(0);
}

std::optional<std::uint64_t> Meminfo::count(std::string_view name) const {
  const MeminfoField* f = find(name);
  if (!f || f->is_bytes) return std::nullopt;
  return f->value;
}

Meminfo parse_meminfo(std::string_view text) {
  Meminfo info;
  text::require_content(text);
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (text::trim(line).empty()) continue;
    if (text::starts_with(line, "Node ")) {  // per-node file: "Node 0 MemTotal: ..."
      std::string_view rest = line.substr(5);
      text::next_field(rest);
      line = text::trim(rest);
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      throw ParseError(lines.number(), "expected \"Name: value [kB]\"");
    }
    std::string_view name = text::trim(line.substr(0, colon));
    std::string_view rest = line.substr(colon + 1);
    std::string_view number = text::next_field(rest);
    std::string_view unit = text::next_field(rest);
    if (!text::trim(rest).empty()) throw ParseError(lines.number(), "unexpected text after the unit");
    std::uint64_t value = text::require_u64(number, lines.number(), name);
    // "MemFree: 12" without its unit is "MemFree: 12345 kB" cut short, unless the field has
    // no unit (HugePages_*).
    if (unit.empty() && lines.unterminated() && !text::starts_with(name, "HugePages_")) {
      throw ParseError(lines.number(), "cut short: the last line has neither its unit nor a newline");
    }
    bool is_bytes = false;
    if (unit == "kB") {
      is_bytes = true;
      value *= 1024;
    } else if (!unit.empty()) {
      throw ParseError(lines.number(), "unknown unit \"" + std::string(unit) + "\"");
    }
    info.fields.push_back({std::string(name), value, is_bytes});
  }
  if (info.fields.empty()) throw ParseError(0, "no fields");
  return info;
}

const Meminfo& read_meminfo(Snapshot& snapshot) {
  return parse_file(snapshot, Root::proc, "meminfo", parse_meminfo);
}

}  // namespace memledger
