#include "collectors/pagecensus.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collectors/balloon.h"
#include "collectors/lru.h"
#include "collectors/meminfo.h"
#include "collectors/text.h"
#include "collectors/vmalloc.h"
#include "collectors/zoneinfo.h"

namespace memledger {

std::string_view page_class_name(PageClass c) {
  switch (c) {
    case PageClass::no_page: return "no_page";
    case PageClass::reserved: return "reserved";
    case PageClass::offline: return "offline";
    case PageClass::hwpoison: return "hwpoison";
    case PageClass::free: return "free";
    case PageClass::typed: return "typed";
    case PageClass::untyped: return "untyped";
  }
  return "unknown";
}

namespace {

constexpr std::uint64_t bit(int b) { return std::uint64_t{1} << b; }

// Every flag that names a use of the page (see PageClass in the header).
constexpr std::uint64_t kTypeFlags = [] {
  std::uint64_t mask = 0;
  for (int b = kpf::kLocked; b <= kpf::kPgtable; ++b) {
    if (b != kpf::kIdle) mask |= bit(b);
  }
  for (int b = kpf::kMlocked; b <= kpf::kOwnerPrivate; ++b) mask |= bit(b);
  return mask;
}();

}  // namespace

PageClass classify_page(std::uint64_t flags) {
  if (flags & bit(kpf::kNopage)) return PageClass::no_page;
  if (flags & bit(kpf::kReserved)) return PageClass::reserved;
  if (flags & bit(kpf::kOffline)) return PageClass::offline;
  if (flags & bit(kpf::kHwpoison)) return PageClass::hwpoison;
  if (flags & bit(kpf::kBuddy)) return PageClass::free;
  if (flags & kTypeFlags) return PageClass::typed;
  return PageClass::untyped;
}

std::vector<PfnRange> parse_iomem_system_ram(std::string_view text, std::uint64_t page_size) {
  std::vector<PfnRange> ram;
  bool any_address = false;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (line.empty() || line.front() == ' ') continue;  // nested resources
    auto colon = line.find(" : ");
    if (colon == std::string_view::npos) throw ParseError(lines.number(), "expected \"start-end : name\"");
    std::string_view range = line.substr(0, colon);
    auto dash = range.find('-');
    std::uint64_t start = 0, end = 0;
    auto hex = [&](std::string_view s, std::uint64_t& out) {
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
      return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty();
    };
    if (dash == std::string_view::npos || !hex(range.substr(0, dash), start) || !hex(range.substr(dash + 1), end) ||
        end < start) {
      throw ParseError(lines.number(), "malformed address range \"" + std::string(range) + "\"");
    }
    any_address = any_address || end != 0;
    if (line.substr(colon + 3) != "System RAM") continue;
    ram.push_back({start / page_size, (end + 1) / page_size});
  }
  if (!any_address) ram.clear();
  std::sort(ram.begin(), ram.end(), [](const PfnRange& a, const PfnRange& b) { return a.first < b.first; });
  return ram;
}

void PageCensus::add(const std::uint64_t* flags, std::size_t n, std::uint64_t first_pfn,
                     const std::vector<PfnRange>& ram) {
  auto classify = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      PageClass c = classify_page(flags[i]);
      ++pages[static_cast<std::size_t>(c)];
      if (c == PageClass::typed && (flags[i] & bit(kpf::kPgtable))) ++page_table_pages;
    }
  };
  if (ram.empty()) {
    classify(0, n);
    return;
  }
  const std::uint64_t end_pfn = first_pfn + n;
  std::uint64_t in_ram = 0;
  for (const auto& r : ram) {
    std::uint64_t from = std::max(r.first, first_pfn);
    std::uint64_t to = std::min(r.end, end_pfn);
    if (from >= to) continue;
    classify(from - first_pfn, to - first_pfn);
    in_ram += to - from;
  }
  pages[static_cast<std::size_t>(PageClass::no_page)] += n - in_ram;
  ram_pages += in_ram;
}

std::uint64_t AccountedUntyped::total() const {
  return per_cpu_free_lists + free_outside_zones + vmalloc + kernel_stack_unmapped + percpu +
         secondary_page_tables + page_tables_unflagged + zsmalloc + kernel_reclaimable_other + unaccepted +
         unflagged_reservations;
}

std::int64_t black_hole_estimate(const PageCensus& census, std::uint64_t page_size,
                                 const AccountedUntyped& accounted) {
  return static_cast<std::int64_t>(census.count(PageClass::untyped) * page_size) -
         static_cast<std::int64_t>(accounted.total());
}

namespace {

using Clock = std::chrono::steady_clock;

enum class Outcome { complete, over_budget, failed };
constexpr std::string_view kOutcomeNames[] = {"complete", "over_budget", "failed"};

struct CensusResult {
  PageCensus census;
  AccountedUntyped accounted;
  std::int64_t black_hole = 0;
  double duration_seconds = 0;
  Clock::time_point finished;
};

// The flagless pages the counters account for, read right after a census.
AccountedUntyped read_accounted_untyped(Snapshot& snapshot, const PageCensus& census,
                                        std::uint64_t page_size) {
  AccountedUntyped a;
  Meminfo m = parse_file(snapshot, Root::proc, "meminfo", parse_meminfo);
  a.vmalloc = m.bytes_or_zero("VmallocUsed");
  a.percpu = m.bytes_or_zero("Percpu");
  a.secondary_page_tables = m.bytes_or_zero("SecPageTables");
  a.unaccepted = m.bytes_or_zero("Unaccepted");
  if (auto kreclaimable = m.bytes("KReclaimable")) {
    a.kernel_reclaimable_other = *kreclaimable - std::min(*kreclaimable, m.bytes_or_zero("SReclaimable"));
  }
  // Kernels without KPF_PGTABLE (before 4.17) leave page tables flagless.
  if (census.page_table_pages == 0) a.page_tables_unflagged = m.bytes_or_zero("PageTables");
  const Reading& zoneinfo = snapshot.read(Root::proc, "zoneinfo");
  if (zoneinfo.ok()) {
    auto zones = parse_zoneinfo(zoneinfo.text);
    a.per_cpu_free_lists = per_cpu_free_list_pages(zones) * page_size;
    std::uint64_t zone_free = 0;
    for (const auto& z : zones) zone_free += z.free_pages * page_size;
    std::uint64_t memfree = m.bytes_or_zero("MemFree");
    a.free_outside_zones = memfree - std::min(memfree, zone_free);
  }
  const Reading& vmstat = snapshot.read(Root::proc, "vmstat");
  if (vmstat.ok()) {
    auto zspages = parse_vmstat(vmstat.text).get("nr_zspages").value_or(0);
    a.zsmalloc = zspages > 0 ? static_cast<std::uint64_t>(zspages) * page_size : 0;
  }
  if (census.ram_pages > 0) {
    BalloonPlacement balloon = BalloonPlacement::inside_memtotal;
    try {
      balloon = read_balloon(snapshot, page_size).placement();
    } catch (const std::exception&) {
      // A malformed balloon driver file: its own collector reports it.
    }
    std::uint64_t outside = census.count(PageClass::reserved);
    if (balloon == BalloonPlacement::outside_memtotal) outside += census.count(PageClass::offline);
    std::uint64_t ram = census.ram_pages * page_size;
    std::uint64_t accounted_outside = m.bytes_or_zero("MemTotal") + outside * page_size;
    a.unflagged_reservations = ram - std::min(ram, accounted_outside);
  }
  // Stacks of CONFIG_VMAP_STACK kernels are in VmallocUsed already; only the rest is new.
  const Reading& vmallocinfo = snapshot.read(Root::proc, "vmallocinfo");
  if (vmallocinfo.ok()) {
    std::uint64_t vmapped = parse_vmallocinfo(vmallocinfo.text, page_size).kernel_stack_bytes;
    std::uint64_t stacks = m.bytes_or_zero("KernelStack");
    a.kernel_stack_unmapped = stacks - std::min(stacks, vmapped);
  }
  return a;
}

class PagecensusCollector final : public Collector {
 public:
  explicit PagecensusCollector(const PagecensusConfig& config)
      : config_(config), page_size_(static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE))) {}

  ~PagecensusCollector() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::string_view name() const override { return "pagecensus"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    // Started by the first scrape so that it reads the procfs the scrapes read.
    std::call_once(started_, [&] {
      roots_ = snapshot.roots();
      thread_ = std::thread([this] { run(); });
    });
    std::lock_guard lock(mutex_);
    if (last_outcome_ == Outcome::failed) throw CollectError(error_file_, 0, error_);
    for (std::size_t i = 0; i < std::size(kOutcomeNames); ++i) {
      sink.counter("memledger_pagecensus_runs_total",
                   "Censuses of /proc/kpageflags by outcome: complete, over_budget (abandoned "
                   "after budget_seconds; the previous result stays), failed.",
                   {{"outcome", kOutcomeNames[i]}}, static_cast<double>(runs_[i]));
    }
    if (!result_) return;
    const CensusResult& r = *result_;
    for (std::size_t c = 0; c < kPageClasses; ++c) {
      sink.gauge("memledger_pagecensus_pages",
                 "Page frames of the last census by class: no_page, reserved, offline "
                 "(balloon), hwpoison, free, typed (a flag names its use), untyped (none does).",
                 {{"class", page_class_name(static_cast<PageClass>(c))}},
                 static_cast<double>(r.census.pages[c]));
    }
    sink.gauge("memledger_pagecensus_accounted_untyped_bytes",
               "Untyped pages the kernel's counters do account for: per-CPU free lists, free "
               "memory outside the zones, VmallocUsed, Percpu, SecPageTables, zsmalloc, other "
               "reclaimable kernel memory.",
               {}, static_cast<double>(r.accounted.total()));
    sink.gauge("memledger_pagecensus_black_hole_bytes",
               "Untyped pages minus the accounted ones: memory in use that no counter names, "
               "estimated without MemTotal. Signed.",
               {}, static_cast<double>(r.black_hole));
    sink.gauge("memledger_pagecensus_duration_seconds", "How long the last census read for.", {},
               r.duration_seconds);
    sink.gauge("memledger_pagecensus_age_seconds", "Time since the last census completed.", {},
               std::chrono::duration<double>(Clock::now() - r.finished).count());
  }

 private:
  void run() {
    // A census is background work: let anything else on the CPU go first.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      auto start = Clock::now();
      census_once();
      lock.lock();
      auto interval = std::chrono::duration<double>(config_.interval_seconds);
      wake_.wait_until(lock, start + std::chrono::duration_cast<Clock::duration>(interval),
                       [this] { return stopping_; });
    }
  }

  bool stop_requested() {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  void census_once() {
    Snapshot snapshot(roots_);
    const std::string path = snapshot.path(Root::proc, "kpageflags");
    auto start = Clock::now();
    auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(config_.budget_seconds));
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fail(path, std::strerror(errno));
      return;
    }
    std::vector<PfnRange> ram;
    if (const Reading& iomem = snapshot.read(Root::proc, "iomem"); iomem.ok()) {
      try {
        ram = parse_iomem_system_ram(iomem.text, page_size_);
      } catch (const ParseError& e) {
        ::close(fd);
        fail(iomem.path, "line " + std::to_string(e.line()) + ": " + e.what());
        return;
      }
    }
    constexpr std::size_t kChunkPages = 64 * 1024;  // 512 KiB of flags per read
    std::vector<std::uint64_t> chunk(kChunkPages);
    PageCensus census;
    off_t offset = 0;
    Outcome outcome = Outcome::complete;
    for (;;) {
      ssize_t n = ::pread(fd, chunk.data(), chunk.size() * sizeof(std::uint64_t), offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int error = errno;
        ::close(fd);
        fail(path, std::strerror(error));
        return;
      }
      if (n == 0) break;
      std::size_t pages = static_cast<std::size_t>(n) / sizeof(std::uint64_t);
      census.add(chunk.data(), pages, static_cast<std::uint64_t>(offset) / sizeof(std::uint64_t), ram);
      offset += static_cast<off_t>(pages * sizeof(std::uint64_t));
      if (stop_requested()) {
        ::close(fd);
        return;
      }
      if (Clock::now() > deadline) {
        outcome = Outcome::over_budget;
        break;
      }
    }
    ::close(fd);
    CensusResult result;
    result.duration_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (outcome == Outcome::complete) {
      try {
        result.census = census;
        result.accounted = read_accounted_untyped(snapshot, census, page_size_);
        result.black_hole = black_hole_estimate(census, page_size_, result.accounted);
      } catch (const CollectError& e) {
        fail(e.file(), e.what());
        return;
      } catch (const std::exception& e) {
        fail(snapshot.path(Root::proc, ""), e.what());
        return;
      }
      result.finished = Clock::now();
    }
    std::lock_guard lock(mutex_);
    ++runs_[static_cast<std::size_t>(outcome)];
    last_outcome_ = outcome;
    if (outcome == Outcome::complete) result_ = result;
  }

  void fail(const std::string& file, const std::string& error) {
    std::lock_guard lock(mutex_);
    ++runs_[static_cast<std::size_t>(Outcome::failed)];
    last_outcome_ = Outcome::failed;
    error_file_ = file;
    error_ = error;
  }

  const PagecensusConfig config_;
  const std::uint64_t page_size_;
  std::once_flag started_;
  SourceRoots roots_;
  std::thread thread_;

  std::mutex mutex_;  // guards everything below
  std::condition_variable wake_;
  bool stopping_ = false;
  std::uint64_t runs_[3] = {};
  std::optional<Outcome> last_outcome_;
  std::optional<CensusResult> result_;
  std::string error_file_;
  std::string error_;
};

}  // namespace

std::unique_ptr<Collector> make_pagecensus_collector(const Config& config) {
  return std::make_unique<PagecensusCollector>(config.pagecensus);
}

}  // namespace memledger
