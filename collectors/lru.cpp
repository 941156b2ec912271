#include "collectors/lru.h"

#include <unistd.h>

#include "collectors/meminfo.h"
#include "collectors/numa.h"
#include "collectors/text.h"

namespace memledger {

std::optional<std::int64_t> Vmstat::get(std::string_view name) const {
  for (const auto& [counter, value] : counters) {
    if (counter == name) return value;
  }
  return std::nullopt;
}

Vmstat parse_vmstat(std::string_view text) {
  if (text.empty()) throw ParseError(0, "file is empty");
  if (text.back() != '\n') {
    std::size_t lines = 1;
    for (char c : text) lines += c == '\n';
    throw ParseError(lines, "truncated: last line does not end with a newline");
  }
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

namespace {

// The LRU lists as meminfo (global and per node) names them, and our label for each.
constexpr std::pair<std::string_view, std::string_view> kLists[] = {
    {"Active(anon)", "active_anon"},     {"Inactive(anon)", "inactive_anon"},
    {"Active(file)", "active_file"},     {"Inactive(file)", "inactive_file"},
    {"Unevictable", "unevictable"},
};

class LruCollector final : public Collector {
 public:
  explicit LruCollector(std::uint64_t page_size) : page_size_(page_size) {}

  std::string_view name() const override { return "lru"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    collect_global(snapshot, sink);
    collect_isolated(snapshot, sink);
    for (int node : list_numa_nodes(snapshot)) collect_node(snapshot, sink, node);
  }

 private:
  // Every list must be there: the anon/file split and Unevictable date from 2.6.28.
  static std::uint64_t list_bytes(const Meminfo& info, std::string_view field,
                                  const std::string& file) {
    auto bytes = info.bytes(field);
    if (!bytes) throw CollectError(file, 0, "no \"" + std::string(field) + "\" line");
    return *bytes;
  }

  void collect_global(Snapshot& snapshot, MetricSink& sink) {
    Meminfo info = parse_file(snapshot, Root::proc, "meminfo", parse_meminfo);
    std::string file = snapshot.path(Root::proc, "meminfo");
    for (const auto& [field, lru] : kLists) {
      sink.gauge("memledger_lru_bytes",
                 "Pages on each LRU list, from /proc/meminfo (Active(anon), Inactive(anon), "
                 "Active(file), Inactive(file), Unevictable).",
                 {{"lru", lru}}, static_cast<double>(list_bytes(info, field, file)));
    }
  }

  // nr_isolated_* (2.6.32+) are absent on older kernels: nothing is exported then.
  void collect_isolated(Snapshot& snapshot, MetricSink& sink) {
    Vmstat vmstat = parse_file(snapshot, Root::proc, "vmstat", parse_vmstat);
    const std::pair<std::string_view, std::string_view> counters[] = {
        {"nr_isolated_anon", "anon"}, {"nr_isolated_file", "file"}};
    for (const auto& [counter, type] : counters) {
      auto pages = vmstat.get(counter);
      if (!pages) continue;
      sink.gauge("memledger_lru_isolated_bytes",
                 "Pages taken off the LRU lists for the moment by reclaim, compaction or "
                 "migration (/proc/vmstat nr_isolated_anon, nr_isolated_file): on no list, "
                 "so missing from memledger_lru_bytes while it lasts.",
                 {{"type", type}}, static_cast<double>(*pages) * static_cast<double>(page_size_));
    }
  }

  void collect_node(Snapshot& snapshot, MetricSink& sink, int node) {
    std::string node_name = std::to_string(node);
    std::string relative = std::string(kNodeDirectory) + "/node" + node_name + "/meminfo";
    Meminfo info = parse_file(snapshot, Root::sys, relative, parse_meminfo);
    std::string file = snapshot.path(Root::sys, relative);
    for (const auto& [field, lru] : kLists) {
      sink.gauge("memledger_lru_node_bytes",
                 "Pages on each LRU list of one NUMA node, from "
                 "/sys/devices/system/node/node<N>/meminfo.",
                 {{"node", node_name}, {"lru", lru}},
                 static_cast<double>(list_bytes(info, field, file)));
    }
  }

  std::uint64_t page_size_;
};

}  // namespace

std::unique_ptr<Collector> make_lru_collector(const Config&) {
  return std::make_unique<LruCollector>(static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)));
}

}  // namespace memledger
