#include "collectors/slab.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>

#include "collectors/text.h"

namespace memledger {

namespace {

// Splits off the last whitespace-separated field; empty when none is left.
std::string_view pop_last_field(std::string_view& s) {
  while (!s.empty() && text::is_space(s.back())) s.remove_suffix(1);
  std::size_t start = s.size();
  while (start > 0 && !text::is_space(s[start - 1])) --start;
  std::string_view field = s.substr(start);
  s = s.substr(0, start);
  return field;
}

std::size_t count_lines(std::string_view text) {
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Fields of "name n1 n2 ... nN" taken from the right, because 2.4 kernels printed cache
// names with spaces. Returns the name.
template <std::size_t N>
std::string_view split_name_and_numbers(std::string_view head, std::array<std::uint64_t, N>& out,
                                        const std::array<std::string_view, N>& columns,
                                        std::size_t line) {
  for (std::size_t i = N; i-- > 0;) {
    std::string_view field = pop_last_field(head);
    if (field.empty() || text::trim(head).empty()) {
      throw ParseError(line, "expected a cache name and " + std::to_string(N) + " numbers");
    }
    out[i] = text::require_u64(field, line, columns[i]);
  }
  return text::trim(head);
}

// Format 1.x (Linux 2.4): name active_objs num_objs objsize active_slabs num_slabs
// pagesperslab, then optional " : " statistics and SMP columns.
SlabCache parse_v1_line(std::string_view line, std::size_t number) {
  static constexpr std::array<std::string_view, 6> kColumns = {
      "active_objs", "num_objs", "objsize", "active_slabs", "num_slabs", "pagesperslab"};
  std::array<std::uint64_t, 6> v{};
  std::string_view name = split_name_and_numbers(line.substr(0, line.find(" : ")), v, kColumns, number);
  SlabCache c;
  c.name = std::string(name);
  c.active_objs = v[0];
  c.num_objs = v[1];
  c.objsize = v[2];
  c.active_slabs = v[3];
  c.num_slabs = v[4];
  c.pagesperslab = v[5];
  c.objperslab = c.num_slabs ? c.num_objs / c.num_slabs : 0;
  return c;
}

// Format 2.x: name active_objs num_objs objsize objperslab pagesperslab
// " : tunables ..." " : slabdata active_slabs num_slabs sharedavail", and with
// statistics " : globalstat ..." " : cpustat ...".
SlabCache parse_v2_line(std::string_view line, std::size_t number) {
  static constexpr std::array<std::string_view, 5> kColumns = {
      "active_objs", "num_objs", "objsize", "objperslab", "pagesperslab"};
  std::array<std::uint64_t, 5> v{};
  std::size_t separator = line.find(" : ");
  std::string_view name = split_name_and_numbers(line.substr(0, separator), v, kColumns, number);
  SlabCache c;
  c.name = std::string(name);
  c.active_objs = v[0];
  c.num_objs = v[1];
  c.objsize = v[2];
  c.objperslab = v[3];
  c.pagesperslab = v[4];
  bool slabdata = false;
  std::string_view rest =
      separator == std::string_view::npos ? std::string_view{} : line.substr(separator + 3);
  while (!rest.empty() && !slabdata) {
    std::size_t next = rest.find(" : ");
    std::string_view section = rest.substr(0, next);
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 3);
    if (text::next_field(section) != "slabdata") continue;
    c.active_slabs = text::require_u64(text::next_field(section), number, "active_slabs");
    c.num_slabs = text::require_u64(text::next_field(section), number, "num_slabs");
    slabdata = true;
  }
  if (!slabdata) throw ParseError(number, "missing the \": slabdata\" section");
  return c;
}

class SlabCollector final : public Collector {
 public:
  SlabCollector(std::size_t top_caches, std::uint64_t page_size)
      : top_caches_(top_caches), page_size_(page_size) {}

  std::string_view name() const override { return "slab"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    SlabInfo info = parse_file(snapshot, Root::proc, "slabinfo", parse_slabinfo);
    SlabTopCaches top = top_slab_caches(info, top_caches_, page_size_);
    for (const auto& cache : top.largest) {
      emit(sink, cache);
      sink.gauge("memledger_slab_cache_object_size_bytes",
                 "Object size of a cache exported by name (not emitted for \"other\").",
                 {{"cache", cache.name}}, static_cast<double>(cache.objsize));
    }
    emit(sink, top.other);
    sink.gauge("memledger_slab_bytes",
               "Memory of all slab caches: sum of num_slabs x pagesperslab x page size.", {},
               static_cast<double>(top.total_bytes));
    sink.gauge("memledger_slab_caches", "Caches listed in /proc/slabinfo.", {},
               static_cast<double>(info.caches.size()));
  }

 private:
  static void emit(MetricSink& sink, const SlabCacheUsage& cache) {
    sink.gauge("memledger_slab_cache_bytes",
               "Memory held by a slab cache (num_slabs x pagesperslab x page size); the "
               "largest caches by name, the rest summed as cache=\"other\".",
               {{"cache", cache.name}}, static_cast<double>(cache.bytes));
    sink.gauge("memledger_slab_cache_objects",
               "Objects of a slab cache: state=\"active\" in use, state=\"total\" allocated.",
               {{"cache", cache.name}, {"state", "active"}},
               static_cast<double>(cache.active_objs));
    sink.gauge("memledger_slab_cache_objects",
               "Objects of a slab cache: state=\"active\" in use, state=\"total\" allocated.",
               {{"cache", cache.name}, {"state", "total"}}, static_cast<double>(cache.num_objs));
  }

  std::size_t top_caches_;
  std::uint64_t page_size_;
};

}  // namespace

std::uint64_t SlabInfo::total_bytes(std::uint64_t page_size) const {
  std::uint64_t total = 0;
  for (const auto& c : caches) total += c.bytes(page_size);
  return total;
}

SlabInfo parse_slabinfo(std::string_view text) {
  if (text.empty()) throw ParseError(0, "file is empty");
  if (text.back() != '\n') {
    throw ParseError(count_lines(text), "truncated: last line does not end with a newline");
  }
  text::LineReader lines(text);
  std::string_view line;
  lines.next(line);
  constexpr std::string_view kHeader = "slabinfo - version: ";
  if (!text::starts_with(line, kHeader)) {
    throw ParseError(1, "expected \"slabinfo - version: N.N\"");
  }
  std::string_view rest = line.substr(kHeader.size());
  SlabInfo info;
  info.version = std::string(text::next_field(rest));  // then "(statistics)", "(SMP)"
  std::string_view major = std::string_view(info.version).substr(0, info.version.find('.'));
  bool v1 = major == "1";
  if (!v1 && major != "2") {
    throw ParseError(1, "unsupported slabinfo version \"" + info.version.substr(0, 20) + "\"");
  }
  while (lines.next(line)) {
    if (text::trim(line).empty() || line.front() == '#') continue;  // "# name <active_objs> ..."
    info.caches.push_back(v1 ? parse_v1_line(line, lines.number())
                             : parse_v2_line(line, lines.number()));
  }
  if (info.caches.empty()) throw ParseError(0, "no caches listed");
  return info;
}

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

std::unique_ptr<Collector> make_slab_collector_with_page_size(const Config& config,
                                                              std::uint64_t page_size) {
  return std::make_unique<SlabCollector>(config.slab.top_caches, page_size);
}

std::unique_ptr<Collector> make_slab_collector(const Config& config) {
  return make_slab_collector_with_page_size(config, static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)));
}

}  // namespace memledger
