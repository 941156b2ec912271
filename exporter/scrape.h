#pragma once
// The scrape handler's engine: runs the enabled collectors over one Snapshot, two at a
// time, isolates their failures, adds the exporter's own metrics and serializes the
// exposition. Concurrent scrapes share the collection in flight instead of queueing.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collectors/collector.h"
#include "procfs/snapshot.h"

namespace memledger {

// The families the exporter adds to every scrape about itself.
const std::vector<const MetricFamilyDecl*>& exporter_families();

// One collection: what /metrics serves, and the same samples for the pages and explain
// that read them.
struct Exposition {
  std::string text;  // Prometheus text format 0.0.4
  std::vector<prometheus::MetricFamily> families;
  std::vector<std::string> failures;  // "name failed: reason (file:line)", catalog order
};

class ScrapeRunner {
 public:
  ScrapeRunner(SourceRoots roots, std::vector<std::unique_ptr<Collector>> collectors);
  ~ScrapeRunner();

  // One collection, or a share of the one already running when this call arrives.
  std::shared_ptr<const Exposition> scrape();

  // Swaps in a new collector set (config reload); the scrape in flight finishes first.
  void replace_collectors(std::vector<std::unique_ptr<Collector>> collectors);

  void set_config_reload_result(bool success, double timestamp_seconds);

  // `emit` adds families to the exporter's own metrics on every scrape (the HTTP server's).
  void add_self_metrics(std::function<void(MetricSink&)> emit);

 private:
  struct ScrapeCounts {
    std::uint64_t requests;
    std::uint64_t collections;
  };
  struct CollectorRun;
  void collect_loop();
  std::shared_ptr<const Exposition> collect_and_serialize(ScrapeCounts counts);
  void run_all(Snapshot& snapshot, std::vector<CollectorRun>& runs);
  void report_failure(std::string_view collector, const std::string& message,
                      const std::string& file, std::size_t line);
  void report_success(std::string_view collector);

  SourceRoots roots_;
  std::mutex collectors_mutex_;  // held for a whole collection
  std::vector<std::unique_ptr<Collector>> collectors_;
  std::vector<double> last_seconds_;  // each collector's duration at the last scrape
  std::map<std::string, std::string, std::less<>> last_error_;  // to log each error once

  std::mutex flight_mutex_;
  std::condition_variable flight_wanted_;  // wakes the collecting thread
  std::condition_variable flight_done_;
  bool in_flight_ = false;
  bool stopping_ = false;
  ScrapeCounts flight_counts_{};
  std::uint64_t generation_ = 0;
  std::shared_ptr<const Exposition> latest_;  // held only while joiners take it
  std::size_t joiners_ = 0;                    // requests waiting on the flight
  std::exception_ptr latest_error_;  // what the last collection threw, for those who joined it
  std::uint64_t requests_ = 0;
  std::uint64_t collections_ = 0;

  std::mutex reload_mutex_;
  bool reload_success_ = true;
  double reload_timestamp_ = 0;
  std::vector<std::function<void(MetricSink&)>> self_metrics_;  // under reload_mutex_

  // Every collection runs on this one thread, whichever HTTP worker asked for it: glibc
  // keeps a cache of freed blocks per thread (tcache), and a collection's thousands of
  // small blocks, freed by each of the 8 workers in turn, had kept pages of the heap
  // resident in 8 caches (0.5 MiB at 1,000 processes) that malloc_trim cannot return.
  std::thread collector_thread_;  // last: starts once everything above is constructed
};

}  // namespace memledger
