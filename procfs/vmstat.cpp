#include "procfs/vmstat.h"

#include "procfs/text.h"

namespace memledger {

std::optional<std::int64_t> Vmstat::get(std::string_view name) const {
  for (const auto& [counter, value] : counters) {
    if (counter == name) return value;
  }
  return std::nullopt;
}

Vmstat parse_vmstat(std::string_view text) {
  text::require_content(text);
  Vmstat vmstat;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    std::string_view rest = line;
    std::string_view name = text::next_field(rest);
    if (name.empty()) continue;
    std::string_view number = text::next_field(rest);
    if (number.empty() || !text::trim(rest).empty()) {
      throw ParseError(lines.number(), "expected \"name value\"");
    }
    auto value = text::to_i64(number);
    if (!value) {
      throw ParseError(lines.number(), std::string(name) + ": expected an integer, got \"" +
                                           std::string(number.substr(0, 40)) + "\"");
    }
    vmstat.counters.emplace_back(std::string(name), *value);
  }
  if (vmstat.counters.empty()) throw ParseError(0, "no counters");
  return vmstat;
}

const Vmstat& read_vmstat(Snapshot& snapshot) {
  return parse_file(snapshot, Root::proc, "vmstat", parse_vmstat);
}

}  // namespace memledger
