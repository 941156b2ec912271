#include "collectors/meminfo.h"

#include "collectors/text.h"

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
  if (text.empty()) throw ParseError(0, "file is empty");
  if (text.back() != '\n') {
    std::size_t lines = 1;
    for (char c : text) lines += c == '\n';
    throw ParseError(lines, "truncated: last line does not end with a newline");
  }
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

namespace {

class MeminfoCollector final : public Collector {
 public:
  std::string_view name() const override { return "meminfo"; }
  void collect(Snapshot& snapshot, MetricSink& sink) override {
    Meminfo info = parse_file(snapshot, Root::proc, "meminfo", parse_meminfo);
    for (const auto& f : info.fields) {
      if (f.is_bytes) {
        sink.gauge("memledger_meminfo_bytes",
                   "Every /proc/meminfo line that has a kB unit, converted to bytes.",
                   {{"field", f.name}}, static_cast<double>(f.value));
      } else {
        sink.gauge("memledger_meminfo_hugepages",
                   "Unitless /proc/meminfo lines (HugePages_*): counts of default-size huge pages.",
                   {{"field", f.name}}, static_cast<double>(f.value));
      }
    }
  }
};

}  // namespace

std::unique_ptr<Collector> make_meminfo_collector(const Config&) {
  return std::make_unique<MeminfoCollector>();
}

}  // namespace memledger
