#pragma once
// Finding one sample in a MetricSink by family name and exact label set, for collector tests.
#include <catch2/catch.hpp>

#include <deque>
#include <initializer_list>
#include <vector>
#include <string_view>

#include "collectors/metric_sink.h"
#include "collectors/registry.h"

namespace memledger::testing {

// A collector built from its declaration and a YAML section of options ("top_caches: 3").
inline std::unique_ptr<Collector> make_collector(const CollectorInfo& info, std::string_view options = "") {
  std::string yaml = "collectors:\n  " + std::string(info.name()) + ":\n";
  std::string_view rest = options;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    yaml += "    " + std::string(rest.substr(0, nl)) + "\n";
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  return info.make_from(parse_exporter_config(yaml, "test.yml"));
}

// A sample of an ad-hoc gauge family, for tests that build expositions by hand (explain's
// input, the scrape runner's): production code emits declared families only.
inline void add_gauge(MetricSink& sink, std::string_view family,
                      std::initializer_list<LabelPair> labels, double value) {
  static std::deque<MetricFamilyDecl> decls;  // emit() keeps no reference, but be safe
  MetricFamilyDecl& decl = decls.emplace_back();
  decl.name = family;
  decl.type = MetricType::Gauge;
  decl.help = "test";
  std::vector<std::string_view> values;
  for (const auto& [name, value] : labels) {
    decl.labels.push_back(name);
    values.push_back(value);
  }
  sink.emit(decl, values, value);
}

inline const prometheus::ClientMetric* find_sample(const MetricSink& sink, std::string_view family,
                                                   std::initializer_list<LabelPair> labels) {
  for (const auto& f : sink.families()) {
    if (f.name != family) continue;
    for (const auto& m : f.metric) {
      bool all = m.label.size() == labels.size();
      for (const auto& [name, value] : labels) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == name && l.value == value);
        all = all && found;
      }
      if (all) return &m;
    }
  }
  return nullptr;
}

// The gauge value of the sample; fails the test when there is none.
inline double gauge_value(const MetricSink& sink, std::string_view family,
                          std::initializer_list<LabelPair> labels) {
  const auto* m = find_sample(sink, family, labels);
  if (!m) FAIL("no sample of " << family);
  return m->gauge.value;
}

inline std::size_t sample_count(const MetricSink& sink, std::string_view family) {
  for (const auto& f : sink.families()) {
    if (f.name == family) return f.metric.size();
  }
  return 0;
}

}  // namespace memledger::testing
