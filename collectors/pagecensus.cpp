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

#include "ledger/accounted_untyped.h"
#include "ledger/ledger.h"
#include "procfs/kpageflags.h"
#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kPagecensusRunsTotal{
    "memledger_pagecensus_runs_total", MetricType::Counter,
    "Censuses of /proc/kpageflags by outcome: complete, over_budget (abandoned after "
    "budget_seconds; the previous result stays), failed.",
    {"outcome"}};
const MetricFamilyDecl kPagecensusPages{
    "memledger_pagecensus_pages", MetricType::Gauge,
    "Page frames of the last census by class: no_page, reserved, offline (balloon), "
    "hwpoison, free, typed (a flag names its use), untyped (none does).",
    {"class"}};
const MetricFamilyDecl kPagecensusAccountedUntypedBytes{
    "memledger_pagecensus_accounted_untyped_bytes", MetricType::Gauge,
    "Untyped pages the kernel's counters do account for: per-CPU free lists, free memory "
    "outside the zones, VmallocUsed, Percpu, SecPageTables, zsmalloc, other reclaimable "
    "kernel memory.",
    {}};
const MetricFamilyDecl kPagecensusBlackHoleBytes{
    "memledger_pagecensus_black_hole_bytes", MetricType::Gauge,
    "Untyped pages minus the accounted ones: memory in use that no counter names, "
    "estimated without MemTotal. Signed.",
    {}};
const MetricFamilyDecl kPagecensusDurationSeconds{
    "memledger_pagecensus_duration_seconds", MetricType::Gauge,
    "How long the last census read for.",
    {}};
const MetricFamilyDecl kPagecensusAgeSeconds{
    "memledger_pagecensus_age_seconds", MetricType::Gauge,
    "Time since the last census completed.",
    {}};

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


class PagecensusCollector final : public Collector {
 public:
  explicit PagecensusCollector(const PagecensusConfig& config)
      : config_(config) {}

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
      sink.emit(kPagecensusRunsTotal, {kOutcomeNames[i]}, static_cast<double>(runs_[i]));
    }
    if (!result_) return;
    const CensusResult& r = *result_;
    for (std::size_t c = 0; c < kPageClasses; ++c) {
      sink.emit(kPagecensusPages, {page_class_name(static_cast<PageClass>(c))}, static_cast<double>(r.census.pages[c]));
    }
    sink.emit(kPagecensusAccountedUntypedBytes, {}, static_cast<double>(r.accounted.total()));
    sink.emit(kPagecensusBlackHoleBytes, {}, static_cast<double>(r.black_hole));
    sink.emit(kPagecensusDurationSeconds, {}, r.duration_seconds);
    sink.emit(kPagecensusAgeSeconds, {}, std::chrono::duration<double>(Clock::now() - r.finished).count());
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
        ram = parse_iomem_system_ram(iomem.text, snapshot.page_size());
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
        result.accounted = accounted_untyped(read_ledger_inputs(snapshot), census);
        result.black_hole = black_hole_estimate(census, snapshot.page_size(), result.accounted);
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

const CollectorInfo kPagecensusCollector{
    {"pagecensus", false, {
          {"interval_seconds", OptionDecl::Kind::seconds, "900", 1},
          {"budget_seconds", OptionDecl::Kind::seconds, "60"}}},
    "background census of /proc/kpageflags (root): balloon pages, black hole",
    {&kPagecensusRunsTotal, &kPagecensusPages, &kPagecensusAccountedUntypedBytes, &kPagecensusBlackHoleBytes, &kPagecensusDurationSeconds, &kPagecensusAgeSeconds},
    [](const CollectorOptions& options) -> std::unique_ptr<Collector> { return std::make_unique<PagecensusCollector>(
        PagecensusConfig{options.seconds("interval_seconds"), options.seconds("budget_seconds")}); }};

}  // namespace memledger
