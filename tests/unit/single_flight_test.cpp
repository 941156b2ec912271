// ScrapeRunner's single flight: requests that arrive while a collection runs share it.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "collectors/registry.h"
#include "exporter/scrape.h"
#include "sample_lookup.h"

using namespace memledger;

namespace {

// Holds every collection until released, so the test controls what overlaps.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  int started = 0;
  bool open = false;
};

class GatedCollector final : public Collector {
 public:
  explicit GatedCollector(Gate& gate) : gate_(gate) {}
  std::string_view name() const override { return "gated"; }
  void collect(Snapshot&, MetricSink& sink) override {
    std::unique_lock lock(gate_.mutex);
    ++gate_.started;
    gate_.changed.notify_all();
    gate_.changed.wait(lock, [&] { return gate_.open; });
    testing::add_gauge(sink, "memledger_test_collections", {}, gate_.started);
  }

 private:
  Gate& gate_;
};

std::vector<std::unique_ptr<Collector>> gated(Gate& gate) {
  std::vector<std::unique_ptr<Collector>> collectors;
  collectors.push_back(std::make_unique<GatedCollector>(gate));
  return collectors;
}

}  // namespace

TEST_CASE("concurrent scrapes share the collection in flight") {
  Gate gate;
  ScrapeRunner runner(SourceRoots{}, gated(gate));
  constexpr int kClients = 16;
  std::vector<std::shared_ptr<const Exposition>> results(kClients);
  std::vector<std::thread> clients;
  clients.emplace_back([&] { results[0] = runner.scrape(); });
  {
    std::unique_lock lock(gate.mutex);
    gate.changed.wait(lock, [&] { return gate.started == 1; });
  }
  for (int i = 1; i < kClients; ++i) clients.emplace_back([&, i] { results[i] = runner.scrape(); });
  // The joiners cannot be observed waiting; give them time to arrive. Were they to start
  // collections of their own, `started` would exceed 1 below.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard lock(gate.mutex);
    gate.open = true;
  }
  gate.changed.notify_all();
  for (auto& t : clients) t.join();

  CHECK(gate.started == 1);
  for (const auto& r : results) CHECK(r == results[0]);
  CHECK_THAT(results[0]->text, Catch::Contains("memledger_scrape_collections_total 1"));

  // The next scrape runs a new collection and counts every request so far.
  auto next = runner.scrape();
  CHECK(gate.started == 2);
  CHECK_THAT(next->text, Catch::Contains("memledger_scrape_collections_total 2"));
  CHECK_THAT(next->text, Catch::Contains("memledger_scrape_requests_total 17"));
}
