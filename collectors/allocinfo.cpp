#include "collectors/allocinfo.h"

#include "procfs/allocinfo.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kAllocinfoBytes{
    "memledger_allocinfo_bytes", MetricType::Gauge,
    "Live bytes allocated from a kernel call site (/proc/allocinfo); the largest sites by "
    "name, the rest as site=\"other\".",
    {"site", "module", "function"}};
const MetricFamilyDecl kAllocinfoAllocations{
    "memledger_allocinfo_allocations", MetricType::Gauge,
    "Live allocations from a kernel call site (/proc/allocinfo \"calls\").",
    {"site", "module", "function"}};

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
    if (snapshot.missing(Root::proc, "allocinfo")) return;
    auto sites = parse_file(snapshot, Root::proc, "allocinfo", parse_allocinfo);
    for (const auto& s : top_alloc_sites(std::move(sites), config_.top_sites)) {
      sink.emit(kAllocinfoBytes, {s.site, s.module, s.function}, static_cast<double>(s.bytes));
      sink.emit(kAllocinfoAllocations, {s.site, s.module, s.function}, static_cast<double>(s.allocations));
    }
  }

 private:
  AllocinfoConfig config_;
};

}  // namespace

const CollectorInfo kAllocinfoCollector{
    {"allocinfo", true, {
          {"top_sites", OptionDecl::Kind::count, "30"}}},
    "kernel memory per allocation call site (/proc/allocinfo, 6.10+, root)",
    {&kAllocinfoBytes, &kAllocinfoAllocations},
    [](const CollectorOptions& options) -> std::unique_ptr<Collector> {
      return std::make_unique<AllocinfoCollector>(AllocinfoConfig{options.count("top_sites")});
    }};

}  // namespace memledger
