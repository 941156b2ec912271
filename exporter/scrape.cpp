#include "exporter/scrape.h"

#include <malloc.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <system_error>
#include <thread>

#include "collectors/errors.h"
#include "exporter/logging.h"
#include "version.h"

namespace memledger {

// What one collector did in one scrape, kept until every collector is done so that the
// exposition and the log follow the catalog's order whichever thread ran it.
struct ScrapeRunner::CollectorRun {
  MetricSink sink;
  bool success = true;
  std::string message;
  std::string file;
  std::size_t line = 0;
  double seconds = 0;
};

ScrapeRunner::ScrapeRunner(SourceRoots roots, std::vector<std::unique_ptr<Collector>> collectors)
    : roots_(std::move(roots)),
      collectors_(std::move(collectors)),
      last_seconds_(collectors_.size(), 0.0) {}

void ScrapeRunner::replace_collectors(std::vector<std::unique_ptr<Collector>> collectors) {
  std::lock_guard lock(collectors_mutex_);
  collectors_ = std::move(collectors);
  last_seconds_.assign(collectors_.size(), 0.0);
  last_error_.clear();
}

// Two threads take the collectors longest first (by the last scrape's durations): the
// process collector, most of a scrape, runs beside all the others, which read different
// files meanwhile. A second thread that cannot be had leaves all the work to this one.
void ScrapeRunner::run_all(Snapshot& snapshot, std::vector<CollectorRun>& runs) {
  std::vector<std::size_t> order(collectors_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return last_seconds_[a] > last_seconds_[b]; });
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < order.size();) {
      CollectorRun& run = runs[order[i]];
      auto start = std::chrono::steady_clock::now();
      // No exception may leave a thread, not even one thrown while recording another.
      try {
        try {
          collectors_[order[i]]->collect(snapshot, run.sink);
        } catch (const CollectError& e) {
          run.success = false;
          run.message = e.what();
          run.file = e.file();
          run.line = e.line();
        } catch (const std::exception& e) {
          run.success = false;
          run.message = e.what();
        }
      } catch (...) {
        run.success = false;
      }
      run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  };
  std::thread helper;
  if (order.size() > 1 && std::thread::hardware_concurrency() > 1) {
    try {
      helper = std::thread(work);
    } catch (const std::system_error&) {
    }
  }
  work();
  if (helper.joinable()) helper.join();
}

void ScrapeRunner::add_self_metrics(std::function<void(MetricSink&)> emit) {
  std::lock_guard lock(reload_mutex_);
  self_metrics_.push_back(std::move(emit));
}

void ScrapeRunner::set_config_reload_result(bool success, double timestamp_seconds) {
  std::lock_guard lock(reload_mutex_);
  reload_success_ = success;
  if (success) reload_timestamp_ = timestamp_seconds;
}

std::shared_ptr<const Exposition> ScrapeRunner::scrape() {
  std::unique_lock lock(flight_mutex_);
  ++requests_;
  if (in_flight_) {
    const std::uint64_t joined = generation_;
    flight_done_.wait(lock, [&] { return generation_ != joined; });
    if (latest_error_) std::rethrow_exception(latest_error_);
    return latest_;
  }
  in_flight_ = true;
  ++collections_;
  const ScrapeCounts counts{requests_, collections_};
  lock.unlock();
  std::shared_ptr<const Exposition> result;
  std::exception_ptr error;
  try {
    result = collect_and_serialize(counts);
  } catch (...) {
    error = std::current_exception();
  }
  // The snapshot's files and the collectors' samples are freed by now: hand their pages
  // back to the kernel, so that resident memory between scrapes is what stays in use.
  ::malloc_trim(0);
  lock.lock();
  latest_ = result;
  latest_error_ = error;
  in_flight_ = false;
  ++generation_;
  flight_done_.notify_all();
  lock.unlock();
  if (error) std::rethrow_exception(error);
  return result;
}

void ScrapeRunner::report_failure(std::string_view collector, const std::string& message,
                                  const std::string& file, std::size_t line) {
  std::string key = file + ":" + std::to_string(line) + ": " + message;
  auto it = last_error_.find(collector);
  if (it != last_error_.end() && it->second == key) return;  // logged already
  last_error_[std::string(collector)] = key;
  std::string line_text = std::to_string(line);
  log_event(spdlog::level::err, "collector failed",
            {{"collector", collector},
             {"file", file},
             {"line", line ? std::string_view(line_text) : std::string_view("-")},
             {"err", message}});
}

void ScrapeRunner::report_success(std::string_view collector) {
  auto it = last_error_.find(collector);
  if (it == last_error_.end()) return;
  last_error_.erase(it);
  log_event(spdlog::level::info, "collector recovered", {{"collector", collector}});
}

std::shared_ptr<const Exposition> ScrapeRunner::collect_and_serialize(ScrapeCounts counts) {
  MetricSink out;
  MetricSink self;
  {
    std::lock_guard lock(collectors_mutex_);
    std::vector<CollectorRun> runs(collectors_.size());
    {
      Snapshot snapshot(roots_);
      run_all(snapshot, runs);
    }
    for (std::size_t i = 0; i < collectors_.size(); ++i) {
      std::string_view name = collectors_[i]->name();
      CollectorRun& run = runs[i];
      last_seconds_[i] = run.seconds;
      // A failed collector's partial samples are dropped: half a ledger misleads.
      if (run.success) {
        report_success(name);
        out.absorb(std::move(run.sink));
      } else {
        report_failure(name, run.message.empty() ? "unknown exception" : run.message, run.file,
                       run.line);
      }
      self.gauge("memledger_scrape_collector_success",
                 "1 if the collector succeeded on this scrape, 0 if it failed (see the log).",
                 {{"collector", name}}, run.success ? 1 : 0);
      self.gauge("memledger_scrape_collector_duration_seconds",
                 "Time the collector took on this scrape.", {{"collector", name}}, run.seconds);
    }
  }
  self.counter("memledger_scrape_requests_total",
               "Requests for metrics (HTTP scrapes and --once) since the exporter started.", {},
               static_cast<double>(counts.requests));
  self.counter("memledger_scrape_collections_total",
               "Collections run since the exporter started; concurrent requests share one, so "
               "this grows slower than memledger_scrape_requests_total under concurrent scrapes.",
               {}, static_cast<double>(counts.collections));
  self.gauge("memledger_build_info", "Version and git revision of the running exporter; always 1.",
             {{"version", kVersion}, {"revision", kRevision}}, 1);
  {
    std::lock_guard lock(reload_mutex_);
    self.gauge("memledger_config_last_reload_successful",
               "1 if the last configuration load succeeded, 0 if it failed.", {},
               reload_success_ ? 1 : 0);
    self.gauge("memledger_config_last_reload_success_timestamp_seconds",
               "Unix time of the last successful configuration load.", {}, reload_timestamp_);
    for (const auto& emit : self_metrics_) emit(self);
  }
  out.absorb(std::move(self));
  auto exposition = std::make_shared<Exposition>();
  exposition->text = prometheus::TextSerializer().Serialize(out.families());
  return exposition;
}

}  // namespace memledger

#include "collectors/registry.h"

namespace memledger {

std::vector<std::unique_ptr<Collector>> build_collectors(
    const Config& config, const std::map<std::string, bool, std::less<>>& overrides) {
  std::vector<std::unique_ptr<Collector>> collectors;
  for (const auto& info : collector_catalog()) {
    bool enabled = info.enabled_by_default;
    if (auto it = config.collector_enabled.find(info.name); it != config.collector_enabled.end()) {
      enabled = it->second;
    }
    if (auto it = overrides.find(info.name); it != overrides.end()) enabled = it->second;
    if (enabled) collectors.push_back(info.make(config));
  }
  return collectors;
}

}  // namespace memledger
