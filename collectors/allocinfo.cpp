#include "collectors/allocinfo.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "collectors/text.h"

namespace memledger {

namespace {

// "12*" marks a counter the kernel knows to be incomplete (format 2.0 proposals).
std::string_view strip_inaccurate_mark(std::string_view field, bool& accurate) {
  if (!field.empty() && field.back() == '*') {
    accurate = false;
    field.remove_suffix(1);
  }
  return field;
}

}  // namespace

std::vector<AllocSite> parse_allocinfo(std::string_view text) {
  std::vector<AllocSite> sites;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    std::string_view trimmed = text::trim(line);
    if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == '<') continue;
    if (text::starts_with(trimmed, "allocinfo - version:")) {
      std::string_view version = text::trim(trimmed.substr(20));
      auto major = text::to_u64(version.substr(0, version.find('.')));
      if (lines.number() != 1 || !major || *major < 1 || *major > 2) {
        throw ParseError(lines.number(), "unsupported allocinfo version \"" + std::string(version) + "\"");
      }
      continue;
    }
    std::string_view rest = trimmed;
    AllocSite site;
    std::string_view bytes = strip_inaccurate_mark(text::next_field(rest), site.accurate);
    std::string_view calls = strip_inaccurate_mark(text::next_field(rest), site.accurate);
    auto signed_bytes = text::to_i64(bytes);
    if (!signed_bytes) throw ParseError(lines.number(), "size: expected an integer, got \"" + std::string(bytes) + "\"");
    site.bytes = *signed_bytes;
    site.allocations = text::require_u64(calls, lines.number(), "calls");
    std::string_view location = text::next_field(rest);
    auto colon = location.rfind(':');
    if (colon == std::string_view::npos || !text::to_u64(location.substr(colon + 1))) {
      throw ParseError(lines.number(), "expected file:line after the counters");
    }
    site.site = std::string(location);
    for (std::string_view token = text::next_field(rest); !token.empty(); token = text::next_field(rest)) {
      if (token.size() > 2 && token.front() == '[' && token.back() == ']') {
        site.module = std::string(token.substr(1, token.size() - 2));
      } else if (text::starts_with(token, "func:")) {
        site.function = std::string(token.substr(5));
      } else if (token == "accurate:no") {
        site.accurate = false;
      }
    }
    sites.push_back(std::move(site));
  }
  return sites;
}

std::vector<AllocSite> top_alloc_sites(std::vector<AllocSite> sites, std::size_t limit) {
  // Label sets must be unique: the same site, module and function is one series.
  std::map<std::tuple<std::string, std::string, std::string>, AllocSite> merged;
  for (auto& s : sites) {
    auto [it, inserted] = merged.try_emplace({s.site, s.module, s.function}, s);
    if (inserted) continue;
    it->second.bytes += s.bytes;
    it->second.allocations += s.allocations;
    it->second.accurate = it->second.accurate && s.accurate;
  }
  std::vector<AllocSite> ordered;
  AllocSite other;
  other.site = "other";
  for (auto& [key, s] : merged) {
    if (s.site == "other") {
      other.bytes += s.bytes;
      other.allocations += s.allocations;
    } else {
      ordered.push_back(std::move(s));
    }
  }
  std::sort(ordered.begin(), ordered.end(), [](const AllocSite& a, const AllocSite& b) {
    return std::tie(b.bytes, a.site, a.function) < std::tie(a.bytes, b.site, b.function);
  });
  for (std::size_t i = limit; i < ordered.size(); ++i) {
    other.bytes += ordered[i].bytes;
    other.allocations += ordered[i].allocations;
    other.accurate = other.accurate && ordered[i].accurate;
  }
  if (ordered.size() > limit) ordered.resize(limit);
  ordered.push_back(std::move(other));
  return ordered;
}

namespace {

class AllocinfoCollector final : public Collector {
 public:
  explicit AllocinfoCollector(const AllocinfoConfig& config) : config_(config) {}
  std::string_view name() const override { return "allocinfo"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    // Kernels without CONFIG_MEM_ALLOC_PROFILING have no file: nothing to report.
    if (snapshot.read(Root::proc, "allocinfo").missing()) return;
    auto sites = parse_file(snapshot, Root::proc, "allocinfo", parse_allocinfo);
    for (const auto& s : top_alloc_sites(std::move(sites), config_.top_sites)) {
      sink.gauge("memledger_allocinfo_bytes",
                 "Live bytes allocated from a kernel call site (/proc/allocinfo); the largest "
                 "sites by name, the rest as site=\"other\".",
                 {{"site", s.site}, {"module", s.module}, {"function", s.function}},
                 static_cast<double>(s.bytes));
      sink.gauge("memledger_allocinfo_allocations",
                 "Live allocations from a kernel call site (/proc/allocinfo \"calls\").",
                 {{"site", s.site}, {"module", s.module}, {"function", s.function}},
                 static_cast<double>(s.allocations));
    }
  }

 private:
  AllocinfoConfig config_;
};

}  // namespace

std::unique_ptr<Collector> make_allocinfo_collector(const Config& config) {
  return std::make_unique<AllocinfoCollector>(config.allocinfo);
}

}  // namespace memledger
