#include "collectors/process.h"

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

#include "collectors/ledger.h"
#include "collectors/text.h"
#include "procfs/pagemap_reader.h"

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

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
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
    if (ends_with(component, ".service") || ends_with(component, ".scope")) unit = component;
    if (ends_with(component, ".slice")) slice = component;
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

std::string group_template_error(std::string_view name_template, std::size_t capture_groups) {
  for (std::size_t i = 0; i < name_template.size(); ++i) {
    if (name_template[i] != '$') continue;
    if (i + 1 == name_template.size()) return "name ends with a lone \"$\" (write \"$$\" for a dollar)";
    char next = name_template[++i];
    if (next == '$') continue;
    if (next < '0' || next > '9') {
      return std::string("\"$") + next + "\" in name: expected $0..$9 or $$";
    }
    if (static_cast<std::size_t>(next - '0') > capture_groups) {
      return std::string("name uses $") + next + " but the regex has " +
             std::to_string(capture_groups) + " capture group(s)";
    }
  }
  return {};
}

struct ProcessGrouper::CompiledRule {
  ProcessGroupRule::Field field;
  std::string name_template;
  regex_t regex;

  explicit CompiledRule(const ProcessGroupRule& rule)
      : field(rule.field), name_template(rule.name_template) {
    if (int error = ::regcomp(&regex, rule.regex.c_str(), REG_EXTENDED)) {
      char reason[256];
      ::regerror(error, &regex, reason, sizeof reason);
      throw std::invalid_argument("invalid regex \"" + rule.regex + "\": " + reason);
    }
  }
  ~CompiledRule() { ::regfree(&regex); }
  CompiledRule(const CompiledRule&) = delete;
  CompiledRule& operator=(const CompiledRule&) = delete;
};

ProcessGrouper::ProcessGrouper(const ProcessConfig& config) : group_by_(config.group_by) {
  for (const auto& rule : config.rules) rules_.push_back(std::make_unique<CompiledRule>(rule));
}

ProcessGrouper::~ProcessGrouper() = default;

std::string ProcessGrouper::group_of(ProcessFacts& facts) {
  std::string group;
  bool matched = false;
  for (const auto& rule : rules_) {
    std::string comm_subject;
    const std::string* subject = &comm_subject;
    switch (rule->field) {
      case ProcessGroupRule::Field::comm:
        comm_subject = facts.comm();
        break;
      case ProcessGroupRule::Field::exe:
        subject = &facts.exe();
        break;
      case ProcessGroupRule::Field::cmdline:
        subject = &facts.cmdline();
        break;
    }
    regmatch_t match[10];
    if (::regexec(&rule->regex, subject->c_str(), 10, match, 0) != 0) continue;
    std::string_view tmpl = rule->name_template;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
      if (tmpl[i] == '$' && i + 1 < tmpl.size()) {
        char next = tmpl[++i];
        if (next == '$') {
          group.push_back('$');
        } else if (const regmatch_t& m = match[next - '0']; m.rm_so >= 0) {
          group.append(*subject, static_cast<std::size_t>(m.rm_so),
                       static_cast<std::size_t>(m.rm_eo - m.rm_so));
        }
      } else if (text::starts_with(tmpl.substr(i), "{comm}")) {
        group.append(facts.comm());
        i += 5;
      } else if (text::starts_with(tmpl.substr(i), "{exe}")) {
        group.append(basename_of(facts.exe()));
        i += 4;
      } else {
        group.push_back(tmpl[i]);
      }
    }
    matched = true;
    break;
  }
  if (!matched) group = fallback_group(facts);
  group = sanitize_label_value(group);
  if (group.empty()) group = "unknown";
  return group;
}

std::string ProcessGrouper::fallback_group(ProcessFacts& facts) {
  switch (group_by_) {
    case ProcessGroupBy::name:
      return std::string(facts.comm());
    case ProcessGroupBy::cgroup:
      return std::string(cgroup_path(facts.cgroup()));
    case ProcessGroupBy::unit: {
      std::string_view path = systemd_cgroup_path(facts.cgroup());
      return path.empty() ? std::string() : std::string(systemd_unit(path));
    }
    case ProcessGroupBy::user: {
      auto uid = facts.uid();
      return uid ? user_name(*uid) : std::string();
    }
  }
  return {};
}

const std::string& ProcessGrouper::user_name(std::uint32_t uid) {
  auto it = user_names_.find(uid);
  if (it != user_names_.end()) return it->second;
  std::string name = std::to_string(uid);
  passwd entry;
  passwd* found = nullptr;
  std::vector<char> buffer(4096);
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    name = found->pw_name;
  }
  return user_names_.emplace(uid, std::move(name)).first->second;
}

namespace {

// "<pid>/<file>", built on the stack: thousands of them per scrape.
class PidPath {
 public:
  PidPath(int pid, std::string_view file) {
    char* end = std::to_chars(buffer_, buffer_ + 12, pid).ptr;  // a pid has at most 10 digits
    *end++ = '/';
    std::memcpy(end, file.data(), file.size());
    size_ = static_cast<std::size_t>(end - buffer_) + file.size();
  }
  std::string_view view() const { return {buffer_, size_}; }

 private:
  char buffer_[48];
  std::size_t size_;
};

// Reads a process's files for grouping only when a rule or group_by asks for them.
class PidFacts final : public ProcessFacts {
 public:
  PidFacts(Snapshot& snapshot, int pid, std::string_view comm)
      : snapshot_(snapshot), pid_(pid), comm_(comm) {}

  std::string_view comm() override { return comm_; }

  const std::string& exe() override {
    if (!exe_) {
      exe_.emplace();
      std::string path = snapshot_.path(Root::proc, PidPath(pid_, "exe").view());
      char target[4096];
      ssize_t n = ::readlink(path.c_str(), target, sizeof target);
      if (n > 0) {
        std::string_view link(target, static_cast<std::size_t>(n));
        // A binary replaced by an upgrade still runs; group it under its path.
        constexpr std::string_view kDeleted = " (deleted)";
        if (ends_with(link, kDeleted)) link.remove_suffix(kDeleted.size());
        exe_->assign(link);
      }
    }
    return *exe_;
  }

  const std::string& cmdline() override {
    if (!cmdline_) {
      cmdline_.emplace();
      if (snapshot_.read_uncached(Root::proc, PidPath(pid_, "cmdline").view(), *cmdline_) != 0) {
        cmdline_->clear();
      }
      std::replace(cmdline_->begin(), cmdline_->end(), '\0', ' ');
      while (!cmdline_->empty() && cmdline_->back() == ' ') cmdline_->pop_back();
    }
    return *cmdline_;
  }

  const std::string& cgroup() override {
    if (!cgroup_) {
      cgroup_.emplace();
      if (snapshot_.read_uncached(Root::proc, PidPath(pid_, "cgroup").view(), *cgroup_) != 0) {
        cgroup_->clear();
      }
    }
    return *cgroup_;
  }

  std::optional<std::uint32_t> uid() override {
    std::string status;
    if (snapshot_.read_uncached(Root::proc, PidPath(pid_, "status").view(), status) != 0) {
      return std::nullopt;
    }
    return status_real_uid(status);
  }

 private:
  Snapshot& snapshot_;
  int pid_;
  std::string_view comm_;
  std::optional<std::string> exe_, cmdline_, cgroup_;
};

using Duration = std::chrono::steady_clock::duration;
using TimePoint = std::chrono::steady_clock::time_point;

// Every listed process ends in exactly one state per scrape.
enum class ProcessState : std::uint8_t { measured, cached, budget_exceeded, unreadable, vanished };
constexpr std::array<std::string_view, 5> kStateNames = {"measured", "cached", "budget_exceeded",
                                                         "unreadable", "vanished"};

constexpr std::size_t kKeepBufferBytes = 1 << 20;
// Read time per byte of RSS assumed before any large read was timed (measured here:
// 6.5 ms per GiB of 4 KiB pages), and the smallest process whose read teaches it.
constexpr double kInitialSecondsPerRssByte = 0.020 / (1ull << 30);
constexpr std::uint64_t kLearnFromRssBytes = 64ull << 20;

bool exited_errno(int error) { return error == ENOENT || error == ESRCH; }

// Calls fn(worker, index) for every index below `count` on up to `threads` threads, the
// caller's being worker 0. Indexes go out in small chunks, in order, so that slow reads
// balance out and the order of a list is roughly kept. The first exception a worker
// throws is rethrown here once every worker has stopped.
template <class Fn>
void parallel_for(std::size_t count, std::size_t threads, Fn&& fn) {
  constexpr std::size_t kChunk = 8;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&](std::size_t worker) {
    try {
      while (!failed.load(std::memory_order_relaxed)) {
        std::size_t begin = next.fetch_add(kChunk, std::memory_order_relaxed);
        if (begin >= count) return;
        for (std::size_t i = begin; i < std::min(count, begin + kChunk); ++i) fn(worker, i);
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> helpers;
  const std::size_t wanted = std::min(threads, (count + kChunk - 1) / kChunk);
  for (std::size_t worker = 1; worker < wanted; ++worker) {
    try {
      helpers.emplace_back(work, worker);
    } catch (const std::system_error&) {
      break;  // no thread to be had: fewer workers read it all the same
    }
  }
  work(0);
  for (auto& helper : helpers) helper.join();
  if (error) std::rethrow_exception(error);
}

std::size_t usable_threads(std::size_t wanted) {
  std::size_t cpus = std::thread::hardware_concurrency();
  return std::max<std::size_t>(1, cpus ? std::min(wanted, cpus) : wanted);
}

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
        page_size_(static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE))),
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
    // The ledger's third equation, from this scrape's readings of every process.
    emit_ledger(sink, compute_pss_ledger(read_ledger_inputs(snapshot), totals_.pss));
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
    parallel_for(pids_.size(), readers_.size(), [&](std::size_t worker, std::size_t i) {
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
      reading.rss_bytes = stat.rss_pages * page_size_;
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
                  : reader.pagemap.read(snapshot, pid, page_size_, figures)) {
        case PagemapOutcome::read:
          memory = from_pagemap(figures);
          pagemap_reads_.fetch_add(1, std::memory_order_relaxed);
          return SmapsOutcome::read;
        case PagemapOutcome::exited:
          return SmapsOutcome::exited;
        case PagemapOutcome::denied:
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
    parallel_for(work_.size(), readers_.size(), [&](std::size_t worker, std::size_t i) {
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
      sink.gauge("memledger_process_memory_bytes",
                 "Memory of a group's processes by kind, summed: rss, pss, pss_anon, pss_file, "
                 "pss_shmem, uss (Private_Clean + Private_Dirty), swap, swap_pss "
                 "(/proc/<pid>/smaps_rollup; rss alone for processes not PSS-measured).",
                 {{"group", group}, {"kind", kind_name(kind)}},
                 static_cast<double>(totals.memory.get(kind)));
    }
    sink.gauge("memledger_process_group_processes",
               "Processes in the group (kernel threads excluded).", {{"group", group}},
               static_cast<double>(totals.processes));
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

    sink.gauge("memledger_processes_pss_bytes",
               "Sum of Pss over every process whose smaps_rollup figures this scrape used "
               "(fresh or cached); the ledger's process_pss.",
               {}, static_cast<double>(totals_.pss));
    sink.gauge("memledger_processes_rss_bytes", "Sum of RSS over every process read.", {},
               static_cast<double>(totals_.rss));
    sink.gauge("memledger_processes_unmeasured_rss_bytes",
               "RSS of the processes read without PSS (unreadable smaps_rollup, or over budget): "
               "an upper bound of the PSS missing from the pss ledger.",
               {}, static_cast<double>(totals_.unmeasured_rss));
    for (std::size_t s = 0; s < kStateNames.size(); ++s) {
      sink.gauge("memledger_processes",
                 "Processes listed in /proc this scrape by outcome: measured (smaps_rollup read), "
                 "cached (earlier figures reused), budget_exceeded and unreadable (RSS only), "
                 "vanished (exited before being read). Kernel threads are not counted.",
                 {{"state", kStateNames[s]}}, static_cast<double>(counts_[s]));
    }
    sink.gauge("memledger_process_pagemap_reads",
               "Processes of at least pagemap_min_rss_bytes read this scrape through "
               "/proc/<pid>/pagemap and /proc/kpagecount instead of smaps_rollup.",
               {}, static_cast<double>(pagemap_reads_.load()));
    sink.gauge("memledger_process_pagemap_fallbacks",
               "Processes this scrape that pagemap could not serve (maps or pagemap refused; no "
               "root: pfns hidden, kpage files unreadable), read through smaps_rollup instead.",
               {}, static_cast<double>(pagemap_fallbacks_.load()));
    sink.gauge("memledger_process_smaps_read_seconds",
               "Wall time from the first smaps_rollup read of this scrape to the end of the "
               "last, on all reading threads (bounded by smaps_budget_seconds).",
               {}, std::chrono::duration<double>(totals_.smaps_read_time).count());
    sink.gauge("memledger_process_smaps_cache_age_seconds",
               "Age of the oldest cached smaps_rollup figures used this scrape (0: none).", {},
               std::chrono::duration<double>(totals_.max_cache_age).count());
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
  std::uint64_t page_size_;
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

std::unique_ptr<Collector> make_process_collector(const Config& config) {
  return std::make_unique<ProcessCollector>(config.process,
                                            [] { return std::chrono::steady_clock::now(); },
                                            usable_threads(config.process.read_threads));
}

}  // namespace memledger
