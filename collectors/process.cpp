#include "collectors/process.h"

#include "collectors/ledger_emit.h"

#include <dirent.h>
#include <pwd.h>
#include <regex.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "collectors/process_groups.h"
#include "collectors/worker_pool.h"
#include "ledger/ledger.h"
#include "procfs/pagemap_reader.h"
#include "procfs/pid.h"
#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kProcessMemoryBytes{
    "memledger_process_memory_bytes", MetricType::Gauge,
    "Memory of a group's processes by kind, summed: rss, pss, pss_anon, pss_file, "
    "pss_shmem, uss (Private_Clean + Private_Dirty), swap, swap_pss "
    "(/proc/<pid>/smaps_rollup, or pagemap for large processes; rss alone for processes not "
    "PSS-measured).",
    {"group", "kind"}};
const MetricFamilyDecl kProcessGroupProcesses{
    "memledger_process_group_processes", MetricType::Gauge,
    "Processes in the group (kernel threads excluded).",
    {"group"}};
const MetricFamilyDecl kProcessesPssBytes{
    "memledger_processes_pss_bytes", MetricType::Gauge,
    "Sum of Pss over every process whose PSS figures this scrape used (fresh or cached); "
    "the ledger's process_pss.",
    {}};
const MetricFamilyDecl kProcessesRssBytes{
    "memledger_processes_rss_bytes", MetricType::Gauge,
    "Sum of RSS over every process read.",
    {}};
const MetricFamilyDecl kProcessesUnmeasuredRssBytes{
    "memledger_processes_unmeasured_rss_bytes", MetricType::Gauge,
    "RSS of the processes read without PSS (unreadable, or over budget): an "
    "upper bound of the PSS missing from the pss ledger.",
    {}};
const MetricFamilyDecl kProcesses{
    "memledger_processes", MetricType::Gauge,
    "Processes listed in /proc this scrape by outcome: measured (PSS read), "
    "cached (earlier figures reused), budget_exceeded and unreadable (RSS only), vanished "
    "(exited before being read). Kernel threads are not counted.",
    {"state"}};
const MetricFamilyDecl kProcessSmapsReadSeconds{
    "memledger_process_smaps_read_seconds", MetricType::Gauge,
    "Wall time from the first PSS read (smaps_rollup or pagemap) of this scrape to the end "
    "of the last, on all reading threads (bounded by smaps_budget_seconds).",
    {}};
const MetricFamilyDecl kProcessPagemapReads{
    "memledger_process_pagemap_reads", MetricType::Gauge,
    "Processes of at least pagemap_min_rss_bytes read this scrape through /proc/<pid>/pagemap "
    "and /proc/kpagecount instead of smaps_rollup.",
    {}};
const MetricFamilyDecl kProcessPagemapFallbacks{
    "memledger_process_pagemap_fallbacks", MetricType::Gauge,
    "Processes this scrape that pagemap could not serve (maps or pagemap refused; mappings "
    "over 8x RSS + 1 GiB; no root: pfns hidden, kpage files unreadable), read through "
    "smaps_rollup instead.",
    {}};
const MetricFamilyDecl kProcessSmapsCacheAgeSeconds{
    "memledger_process_smaps_cache_age_seconds", MetricType::Gauge,
    "Age of the oldest cached PSS figures used this scrape (0: none).",
    {}};

namespace {

using Duration = std::chrono::steady_clock::duration;
using TimePoint = std::chrono::steady_clock::time_point;

// Every listed process ends in exactly one state per scrape.
enum class ProcessState : std::uint8_t { measured, cached, budget_exceeded, unreadable, vanished };
constexpr std::array<std::string_view, 5> kStateNames = {"measured", "cached", "budget_exceeded",
                                                         "unreadable", "vanished"};

constexpr std::size_t kKeepBufferBytes = 1 << 20;
// Processes handed to a reader thread at a time: small, so slow reads balance out.
constexpr std::size_t kReadChunk = 8;
// Read time per byte of RSS assumed before any large read was timed (measured here:
// 6.5 ms per GiB of 4 KiB pages), and the smallest process whose read teaches it.
constexpr double kInitialSecondsPerRssByte = 0.020 / (1ull << 30);
constexpr std::uint64_t kLearnFromRssBytes = 64ull << 20;

bool exited_errno(int error) { return error == ENOENT || error == ESRCH; }

class ProcessCollector final : public Collector {
 public:
  ProcessCollector(const ProcessConfig& config, SteadyClock clock, std::size_t threads)
      : grouper_(config),
        clock_(std::move(clock)),
        top_groups_(config.top_groups),
        budget_(to_duration(config.smaps_budget_seconds)),
        large_rss_bytes_(config.large_process_rss_bytes),
        large_refresh_(to_duration(config.large_process_refresh_seconds)),
        pagemap_min_rss_bytes_(config.pagemap_min_rss_bytes),
        readers_(threads) {}

  std::string_view name() const override { return "process"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    ++generation_;
    counts_ = {};
    totals_ = Totals{};
    pagemap_reads_ = 0;
    pagemap_fallbacks_ = 0;
    groups_.clear();
    list_pids(snapshot);
    read_stats(snapshot);
    read_smaps_within_budget(snapshot);
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.seen == generation_ ? std::next(it) : cache_.erase(it);
    }
    for (auto& reader : readers_) {
      if (reader.buffer.capacity() > kKeepBufferBytes) std::string().swap(reader.buffer);
      reader.pagemap.shrink();
    }
    // This scrape's scratch grows with the process count (~150 bytes a process): freed,
    // so that what stays resident between scrapes is the cache alone.
    release(pids_);
    release(stats_);
    release(work_);
    release(smaps_results_);
    emit(sink);
    // The ledger's third equation, from this scrape's readings of every process. When its
    // inputs (meminfo) fail, the ledger collector reports that; the per-group series of
    // this scrape stay good, so they are not dropped with it.
    const LedgerInputs* inputs = nullptr;
    try {
      inputs = &read_ledger_inputs(snapshot);
    } catch (const CollectError&) {
    }
    if (inputs) emit_ledger(sink, compute_pss_ledger(*inputs, totals_.pss));
  }

 private:
  struct CachedProcess {
    std::uint64_t starttime = 0;
    std::size_t comm_hash = 0;  // exec and prctl rename: regroup when the name changes
    std::string group;
    ProcessMemory smaps;  // the last reading, reused for large processes and over budget
    TimePoint smaps_time{};
    bool has_smaps = false;
    std::uint64_t seen = 0;  // generation of the last scrape that listed it
  };
  struct Work {
    int pid;
    CachedProcess* process;
    std::uint64_t stat_rss;
  };
  // What a reading thread found in /proc/<pid>/stat, for the single-threaded pass that
  // groups and caches.
  struct StatReading {
    int error = 0;
    bool kernel_thread = false;
    bool exited = false;
    std::uint64_t starttime = 0;
    std::uint64_t rss_bytes = 0;
    std::size_t comm_hash = 0;
    std::string comm;  // 15 bytes at most but for kernel threads: no allocation
  };
  // What a reading thread did with one process's smaps_rollup.
  enum class SmapsStep : std::uint8_t { large_cached, over_budget, read, exited, unreadable };
  struct SmapsResult {
    SmapsStep step;
    ProcessMemory memory;
    TimePoint after{};
  };
  // Each reading thread's buffers, reused across scrapes.
  struct Reader {
    std::string buffer, scratch;
    PagemapReader pagemap;
  };
  struct GroupTotals {
    ProcessMemory memory;
    std::uint64_t processes = 0;
    std::uint64_t rank = 0;  // PSS, or RSS for processes without PSS
  };
  struct Totals {
    std::uint64_t pss = 0;
    std::uint64_t rss = 0;
    std::uint64_t unmeasured_rss = 0;
    Duration smaps_read_time{};
    Duration max_cache_age{};
  };

  template <class T>
  static void release(std::vector<T>& scratch) {
    std::vector<T>().swap(scratch);
  }

  static Duration to_duration(double seconds) {
    // A century stands for "unbounded" without overflowing the nanosecond count.
    seconds = std::min(seconds, 100 * 365.25 * 86400);
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
  }

  void list_pids(Snapshot& snapshot) {
    pids_.clear();
    std::string root = snapshot.path(Root::proc, "");
    DIR* dir = ::opendir(root.c_str());
    if (!dir) throw CollectError(root, 0, std::string("cannot list: ") + std::strerror(errno));
    while (const dirent* entry = ::readdir(dir)) {
      std::string_view name = entry->d_name;
      int pid = 0;
      auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
      if (ec == std::errc{} && end == name.data() + name.size() && pid > 0) pids_.push_back(pid);
    }
    ::closedir(dir);
  }

  void read_stats(Snapshot& snapshot) {
    stats_.resize(pids_.size());
    parallel_for(pids_.size(), readers_.size(), kReadChunk, [&](std::size_t worker, std::size_t i) {
      StatReading& reading = stats_[i];
      std::string& buffer = readers_[worker].buffer;
      PidPath path(pids_[i], "stat");
      reading.error = snapshot.read_uncached(Root::proc, path.view(), buffer);
      if (reading.error) return;
      ProcStat stat;
      try {
        stat = parse_proc_stat(buffer);
      } catch (const ParseError& e) {
        throw CollectError(snapshot.path(Root::proc, path.view()), e.line(), e.what());
      }
      reading.kernel_thread = stat.kernel_thread();
      reading.exited = stat.exited();
      reading.starttime = stat.starttime;
      reading.rss_bytes = stat.rss_pages * snapshot.page_size();
      reading.comm_hash = std::hash<std::string_view>{}(stat.comm);
      reading.comm.assign(stat.comm);
    });

    work_.clear();
    for (std::size_t i = 0; i < pids_.size(); ++i) {
      const StatReading& stat = stats_[i];
      if (stat.error) {
        ++counts_[static_cast<std::size_t>(exited_errno(stat.error) ? ProcessState::vanished
                                                                     : ProcessState::unreadable)];
        continue;
      }
      if (stat.kernel_thread) continue;  // no user memory
      if (stat.exited) {
        ++counts_[static_cast<std::size_t>(ProcessState::vanished)];
        continue;
      }
      const int pid = pids_[i];
      auto [it, inserted] = cache_.try_emplace(pid);
      CachedProcess& process = it->second;
      if (inserted || process.starttime != stat.starttime || process.comm_hash != stat.comm_hash) {
        process = CachedProcess{};
        process.starttime = stat.starttime;
        process.comm_hash = stat.comm_hash;
        PidFacts facts(snapshot, pid, stat.comm);
        process.group = grouper_.group_of(facts);
      }
      process.seen = generation_;
      work_.push_back({pid, &process, stat.rss_bytes});
    }
  }

  enum class SmapsOutcome { read, exited, unreadable };

  // Large processes through pagemap, whose page walk holds the target's mmap lock one PMD
  // at a time (procfs/pagemap.h); the rest, and whatever pagemap cannot serve (no root),
  // through smaps_rollup.
  SmapsOutcome read_memory(Snapshot& snapshot, Reader& reader, int pid, std::uint64_t stat_rss,
                           ProcessMemory& memory) {
    if (stat_rss >= pagemap_min_rss_bytes_) {
      PagemapFigures figures;
      switch (pagemap_unavailable_.load(std::memory_order_relaxed)
                  ? PagemapOutcome::unavailable
                  : reader.pagemap.read(snapshot, pid, snapshot.page_size(), stat_rss, figures)) {
        case PagemapOutcome::read:
          memory = from_pagemap(figures);
          pagemap_reads_.fetch_add(1, std::memory_order_relaxed);
          return SmapsOutcome::read;
        case PagemapOutcome::exited:
          return SmapsOutcome::exited;
        case PagemapOutcome::denied:
        case PagemapOutcome::sparse:
          pagemap_fallbacks_.fetch_add(1, std::memory_order_relaxed);
          break;
        case PagemapOutcome::unavailable:
          // What hides pfns or the kpage files (no root, no CAP_SYS_ADMIN) hides them for
          // every process: stop trying.
          pagemap_unavailable_.store(true, std::memory_order_relaxed);
          pagemap_fallbacks_.fetch_add(1, std::memory_order_relaxed);
          break;
      }
    }
    return read_smaps(snapshot, reader, pid, memory);
  }

  static ProcessMemory from_pagemap(const PagemapFigures& f) {
    ProcessMemory memory;
    memory.add(MemoryKind::rss, f.rss);
    memory.add(MemoryKind::pss, f.pss);
    memory.add(MemoryKind::pss_anon, f.pss_anon);
    memory.add(MemoryKind::pss_file, f.pss_file);
    memory.add(MemoryKind::pss_shmem, f.pss_shmem);
    memory.add(MemoryKind::uss, f.uss);
    memory.add(MemoryKind::swap, f.swap);
    // No file exports a swap entry's share count (swp_swapcount): pagemap readings count
    // each swapped page whole, an upper bound of SwapPss.
    memory.add(MemoryKind::swap_pss, f.swap);
    return memory;
  }

  SmapsOutcome read_smaps(Snapshot& snapshot, Reader& reader, int pid, ProcessMemory& memory) {
    std::string& buffer = reader.buffer;
    std::string_view file = whole_smaps_.load(std::memory_order_relaxed) ? "smaps" : "smaps_rollup";
    int error = snapshot.read_uncached(Root::proc, PidPath(pid, file).view(), buffer);
    if (error == ENOENT && file == "smaps_rollup") {
      // Either the process exited, or the kernel predates smaps_rollup (4.14): then
      // smaps holds the same fields per mapping.
      if (snapshot.read_uncached(Root::proc, PidPath(pid, "stat").view(), reader.scratch) == 0) {
        whole_smaps_.store(true, std::memory_order_relaxed);
        file = "smaps";
        error = snapshot.read_uncached(Root::proc, PidPath(pid, file).view(), buffer);
      }
    }
    if (exited_errno(error)) return SmapsOutcome::exited;
    if (error) return SmapsOutcome::unreadable;
    if (buffer.empty()) return SmapsOutcome::exited;  // its address space is gone
    try {
      memory = parse_smaps(buffer);
    } catch (const ParseError& e) {
      throw CollectError(snapshot.path(Root::proc, PidPath(pid, file).view()), e.line(), e.what());
    }
    return SmapsOutcome::read;
  }

  // Stalest first, so that when the budget runs out each scrape resumes where the
  // previous one stopped instead of starving the same processes. The reading threads
  // decide and read; the accounting that follows is single-threaded.
  void read_smaps_within_budget(Snapshot& snapshot) {
    std::sort(work_.begin(), work_.end(), [](const Work& a, const Work& b) {
      if (a.process->has_smaps != b.process->has_smaps) return !a.process->has_smaps;
      if (a.process->smaps_time != b.process->smaps_time) {
        return a.process->smaps_time < b.process->smaps_time;
      }
      return a.pid < b.pid;
    });
    const TimePoint start = clock_();
    const TimePoint deadline = start + budget_;
    smaps_results_.resize(work_.size());
    parallel_for(work_.size(), readers_.size(), kReadChunk, [&](std::size_t worker, std::size_t i) {
      const Work& work = work_[i];
      const CachedProcess& process = *work.process;
      SmapsResult& result = smaps_results_[i];
      bool large = work.stat_rss >= large_rss_bytes_;
      if (large && process.has_smaps && start - process.smaps_time < large_refresh_) {
        result.step = SmapsStep::large_cached;
        return;
      }
      const TimePoint before = clock_();
      double per_byte = seconds_per_rss_byte_.load(std::memory_order_relaxed);
      if (before + to_duration(per_byte * static_cast<double>(work.stat_rss)) >= deadline) {
        result.step = SmapsStep::over_budget;
        return;
      }
      SmapsOutcome outcome =
          read_memory(snapshot, readers_[worker], work.pid, work.stat_rss, result.memory);
      result.after = clock_();
      switch (outcome) {
        case SmapsOutcome::exited:
          result.step = SmapsStep::exited;
          break;
        case SmapsOutcome::unreadable:
          result.step = SmapsStep::unreadable;
          break;
        case SmapsOutcome::read:
          result.step = SmapsStep::read;
          learn_read_cost(work.stat_rss, result.after - before);
          break;
      }
    });

    TimePoint last_read = start;
    for (std::size_t i = 0; i < work_.size(); ++i) {
      const Work& work = work_[i];
      CachedProcess& process = *work.process;
      SmapsResult& result = smaps_results_[i];
      switch (result.step) {
        case SmapsStep::large_cached:
          account_cached(work, start);
          break;
        case SmapsStep::over_budget:
          if (process.has_smaps) {
            account_cached(work, start);
          } else {
            account_rss_only(work, ProcessState::budget_exceeded);
          }
          break;
        case SmapsStep::exited:
          ++counts_[static_cast<std::size_t>(ProcessState::vanished)];
          break;
        case SmapsStep::unreadable:
          account_rss_only(work, ProcessState::unreadable);
          break;
        case SmapsStep::read:
          process.smaps = result.memory;
          process.smaps_time = result.after;
          process.has_smaps = true;
          if (!result.memory.has(MemoryKind::rss)) result.memory.add(MemoryKind::rss, work.stat_rss);
          account(work, result.memory, ProcessState::measured);
          break;
      }
      if (result.step != SmapsStep::large_cached && result.step != SmapsStep::over_budget) {
        last_read = std::max(last_read, result.after);
      }
    }
    totals_.smaps_read_time = last_read - start;
  }

  // Reads cost roughly in proportion to the pages walked: learn it from large reads,
  // rising at once and falling slowly, so a prediction errs towards skipping.
  void learn_read_cost(std::uint64_t rss, Duration took) {
    if (rss < kLearnFromRssBytes) return;
    double sample = std::chrono::duration<double>(took).count() / static_cast<double>(rss);
    std::lock_guard lock(learn_mutex_);
    double current = seconds_per_rss_byte_.load(std::memory_order_relaxed);
    seconds_per_rss_byte_.store(sample > current ? sample : 0.9 * current + 0.1 * sample,
                                std::memory_order_relaxed);
  }

  void account_cached(const Work& work, TimePoint start) {
    ProcessMemory memory = work.process->smaps;
    // RSS costs no page walk: keep it current, so a large process's growth shows at once.
    memory.bytes[static_cast<std::size_t>(MemoryKind::rss)] = work.stat_rss;
    memory.present |= 1u << static_cast<unsigned>(MemoryKind::rss);
    totals_.max_cache_age = std::max(totals_.max_cache_age, start - work.process->smaps_time);
    account(work, memory, ProcessState::cached);
  }

  void account_rss_only(const Work& work, ProcessState state) {
    ProcessMemory memory;
    memory.add(MemoryKind::rss, work.stat_rss);
    totals_.unmeasured_rss += work.stat_rss;
    account(work, memory, state);
  }

  void account(const Work& work, const ProcessMemory& memory, ProcessState state) {
    ++counts_[static_cast<std::size_t>(state)];
    GroupTotals& group = groups_[work.process->group];
    group.memory.add(memory);
    ++group.processes;
    bool has_pss = memory.has(MemoryKind::pss);
    group.rank += has_pss ? memory.get(MemoryKind::pss) : memory.get(MemoryKind::rss);
    if (has_pss) totals_.pss += memory.get(MemoryKind::pss);
    totals_.rss += memory.get(MemoryKind::rss);
  }

  void emit_group(MetricSink& sink, std::string_view group, const GroupTotals& totals) {
    for (std::size_t k = 0; k < kMemoryKinds; ++k) {
      auto kind = static_cast<MemoryKind>(k);
      if (!totals.memory.has(kind)) continue;
      sink.emit(kProcessMemoryBytes, {group, kind_name(kind)}, static_cast<double>(totals.memory.get(kind)));
    }
    sink.emit(kProcessGroupProcesses, {group}, static_cast<double>(totals.processes));
  }

  void emit(MetricSink& sink) {
    ranked_.clear();
    GroupTotals other;
    for (const auto& [group, totals] : groups_) {
      // A real group named "other" joins the catch-all so that no series is duplicated.
      if (group == "other") {
        other.memory.add(totals.memory);
        other.processes += totals.processes;
      } else {
        ranked_.emplace_back(group, &totals);
      }
    }
    auto larger = [](const auto& a, const auto& b) {
      return a.second->rank != b.second->rank ? a.second->rank > b.second->rank : a.first < b.first;
    };
    std::size_t shown = std::min(top_groups_, ranked_.size());
    std::partial_sort(ranked_.begin(), ranked_.begin() + static_cast<std::ptrdiff_t>(shown),
                      ranked_.end(), larger);
    for (std::size_t i = 0; i < ranked_.size(); ++i) {
      if (i < shown) {
        emit_group(sink, ranked_[i].first, *ranked_[i].second);
      } else {
        other.memory.add(ranked_[i].second->memory);
        other.processes += ranked_[i].second->processes;
      }
    }
    if (other.processes > 0) emit_group(sink, "other", other);

    sink.emit(kProcessesPssBytes, {}, static_cast<double>(totals_.pss));
    sink.emit(kProcessesRssBytes, {}, static_cast<double>(totals_.rss));
    sink.emit(kProcessesUnmeasuredRssBytes, {}, static_cast<double>(totals_.unmeasured_rss));
    for (std::size_t s = 0; s < kStateNames.size(); ++s) {
      sink.emit(kProcesses, {kStateNames[s]}, static_cast<double>(counts_[s]));
    }
    sink.emit(kProcessPagemapReads, {}, static_cast<double>(pagemap_reads_.load()));
    sink.emit(kProcessPagemapFallbacks, {}, static_cast<double>(pagemap_fallbacks_.load()));
    sink.emit(kProcessSmapsReadSeconds, {}, std::chrono::duration<double>(totals_.smaps_read_time).count());
    sink.emit(kProcessSmapsCacheAgeSeconds, {}, std::chrono::duration<double>(totals_.max_cache_age).count());
  }

  ProcessGrouper grouper_;
  SteadyClock clock_;
  std::size_t top_groups_;
  Duration budget_;
  std::uint64_t large_rss_bytes_;
  Duration large_refresh_;
  std::uint64_t pagemap_min_rss_bytes_;
  std::atomic<bool> pagemap_unavailable_{false};
  std::atomic<std::uint64_t> pagemap_reads_{0}, pagemap_fallbacks_{0};  // this scrape's
  std::atomic<double> seconds_per_rss_byte_{kInitialSecondsPerRssByte};
  std::mutex learn_mutex_;
  std::atomic<bool> whole_smaps_{false};  // the kernel has no smaps_rollup: read smaps

  std::uint64_t generation_ = 0;
  std::unordered_map<int, CachedProcess> cache_;
  // A scrape's scratch: a few allocations per scrape, none per process or file.
  std::vector<int> pids_;
  std::vector<StatReading> stats_;  // one per pid listed
  std::vector<Work> work_;
  std::vector<SmapsResult> smaps_results_;  // one per work item
  std::vector<Reader> readers_;  // one per reading thread
  std::unordered_map<std::string_view, GroupTotals> groups_;
  std::vector<std::pair<std::string_view, const GroupTotals*>> ranked_;
  std::array<std::uint64_t, kStateNames.size()> counts_{};
  Totals totals_;
};

}  // namespace

std::unique_ptr<Collector> make_process_collector_with_clock(const ProcessConfig& config,
                                                             SteadyClock clock) {
  return std::make_unique<ProcessCollector>(config, std::move(clock), 1);
}

namespace {

void check_process_rule(const YamlReader& reader, const YAML::Node& node) {
  parse_process_rule(reader, node);
}

}  // namespace

ProcessConfig process_config(const CollectorOptions& options) {
  ProcessConfig config;
  config.group_by = group_by_of(options);
  // Checked when the file was parsed: this reading cannot fail.
  const YamlReader reader("collectors.process.rules");
  for (const auto& rule : options.list("rules")) config.rules.push_back(parse_process_rule(reader, rule));
  config.top_groups = options.count("top_groups");
  config.smaps_budget_seconds = options.seconds("smaps_budget_seconds");
  config.large_process_rss_bytes = options.count("large_process_rss_bytes");
  config.large_process_refresh_seconds = options.seconds("large_process_refresh_seconds");
  config.pagemap_min_rss_bytes = options.count("pagemap_min_rss_bytes");
  config.read_threads = options.count("read_threads");
  return config;
}

const CollectorInfo kProcessCollector{
    {"process", true, {
          group_by_option(),
          {"rules", OptionDecl::Kind::list, "[]", 0, {}, check_process_rule},
          {"top_groups", OptionDecl::Kind::count, "50"},
          {"smaps_budget_seconds", OptionDecl::Kind::seconds, "1.0"},
          {"large_process_rss_bytes", OptionDecl::Kind::count, "1073741824"},
          {"large_process_refresh_seconds", OptionDecl::Kind::seconds, "60"},
          {"pagemap_min_rss_bytes", OptionDecl::Kind::count, "67108864"},
          {"read_threads", OptionDecl::Kind::count, "2", 1}}},
    "per-process RSS/PSS/USS/swap by group within a time budget, and the pss ledger",
    {&kProcessMemoryBytes, &kProcessGroupProcesses, &kProcessesPssBytes, &kProcessesRssBytes, &kProcessesUnmeasuredRssBytes, &kProcesses, &kProcessSmapsReadSeconds, &kProcessSmapsCacheAgeSeconds, &kProcessPagemapReads, &kProcessPagemapFallbacks},
    [](const CollectorOptions& options) -> std::unique_ptr<Collector> {
      ProcessConfig config = process_config(options);
      return std::make_unique<ProcessCollector>(config, [] { return std::chrono::steady_clock::now(); },
                                                usable_threads(config.read_threads));
    }};

}  // namespace memledger
