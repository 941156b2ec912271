#include "collectors/slab.h"

#include "procfs/slabinfo.h"

#include <algorithm>
#include <array>
#include <map>

#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kSlabCacheObjectSizeBytes{
    "memledger_slab_cache_object_size_bytes", MetricType::Gauge,
    "Object size of a cache exported by name (not emitted for \"other\").",
    {"cache"}};
const MetricFamilyDecl kSlabBytes{
    "memledger_slab_bytes", MetricType::Gauge,
    "Memory of all slab caches: sum of num_slabs x pagesperslab x page size.",
    {}};
const MetricFamilyDecl kSlabCaches{
    "memledger_slab_caches", MetricType::Gauge,
    "Caches listed in /proc/slabinfo.",
    {}};
const MetricFamilyDecl kSlabCacheBytes{
    "memledger_slab_cache_bytes", MetricType::Gauge,
    "Memory held by a slab cache (num_slabs x pagesperslab x page size); the largest "
    "caches by name, the rest summed as cache=\"other\".",
    {"cache"}};
const MetricFamilyDecl kSlabCacheObjects{
    "memledger_slab_cache_objects", MetricType::Gauge,
    "Objects of a slab cache: state=\"active\" in use, state=\"total\" allocated.",
    {"cache", "state"}};

namespace {
class SlabCollector final : public Collector {
 public:
  explicit SlabCollector(std::size_t top_caches) : top_caches_(top_caches) {}

  std::string_view name() const override { return "slab"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    const SlabInfo& info = read_slabinfo(snapshot);
    SlabTopCaches top = top_slab_caches(info, top_caches_, snapshot.page_size());
    for (const auto& cache : top.largest) {
      emit(sink, cache);
      sink.emit(kSlabCacheObjectSizeBytes, {cache.name}, static_cast<double>(cache.objsize));
    }
    emit(sink, top.other);
    sink.emit(kSlabBytes, {}, static_cast<double>(top.total_bytes));
    sink.emit(kSlabCaches, {}, static_cast<double>(info.caches.size()));
  }

 private:
  static void emit(MetricSink& sink, const SlabCacheUsage& cache) {
    sink.emit(kSlabCacheBytes, {cache.name}, static_cast<double>(cache.bytes));
    sink.emit(kSlabCacheObjects, {cache.name, "active"}, static_cast<double>(cache.active_objs));
    sink.emit(kSlabCacheObjects, {cache.name, "total"}, static_cast<double>(cache.num_objs));
  }

  std::size_t top_caches_;
};

}  // namespace

SlabTopCaches top_slab_caches(const SlabInfo& info, std::size_t limit, std::uint64_t page_size) {
  std::map<std::string_view, SlabCacheUsage> by_name;
  for (const auto& c : info.caches) {
    SlabCacheUsage& u = by_name[c.name];
    if (u.name.empty()) {
      u.name = c.name;
      u.objsize = c.objsize;
    }
    u.bytes += c.bytes(page_size);
    u.active_objs += c.active_objs;
    u.num_objs += c.num_objs;
  }
  SlabTopCaches top;
  top.other.name = "other";
  std::vector<SlabCacheUsage> candidates;
  candidates.reserve(by_name.size());
  for (auto& [name, usage] : by_name) {
    top.total_bytes += usage.bytes;
    if (name == top.other.name) {
      top.other.bytes += usage.bytes;
      top.other.active_objs += usage.active_objs;
      top.other.num_objs += usage.num_objs;
    } else {
      candidates.push_back(std::move(usage));
    }
  }
  // by_name iterates in name order, so a stable sort breaks ties by name.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const SlabCacheUsage& a, const SlabCacheUsage& b) { return a.bytes > b.bytes; });
  std::size_t named = std::min(limit, candidates.size());
  for (std::size_t i = named; i < candidates.size(); ++i) {
    top.other.bytes += candidates[i].bytes;
    top.other.active_objs += candidates[i].active_objs;
    top.other.num_objs += candidates[i].num_objs;
  }
  candidates.resize(named);
  top.largest = std::move(candidates);
  return top;
}

const CollectorInfo kSlabCollector{
    {"slab", true, {
          {"top_caches", OptionDecl::Kind::count, "30"}}},
    "slab caches from /proc/slabinfo (root): the largest by name, the rest as other",
    {&kSlabCacheObjectSizeBytes, &kSlabBytes, &kSlabCaches, &kSlabCacheBytes, &kSlabCacheObjects},
    [](const CollectorOptions& options) -> std::unique_ptr<Collector> {
      return std::make_unique<SlabCollector>(options.count("top_caches"));
    }};

}  // namespace memledger
