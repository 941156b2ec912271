#pragma once
// Where collectors put their samples. A family is declared once per exposition, whoever
// adds to it (duplicate # TYPE lines make Prometheus reject the scrape), and every label
// value passes through sanitize_label_value, so no collector can emit invalid UTF-8.
#include <prometheus/metric_family.h>

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace memledger {

using MetricType = prometheus::MetricType;
using LabelPair = std::pair<std::string_view, std::string_view>;

// One metric family, declared once next to the code that emits it and listed in its
// collector's declaration (collectors/registry.h), so the README's reference can be
// checked against every family the exporter can emit.
struct MetricFamilyDecl {
  std::string_view name;
  MetricType type;
  std::string_view help;
  std::vector<std::string_view> labels;  // label names, in the order emit() takes values
};

// Valid UTF-8 out of arbitrary bytes: each byte of an invalid sequence becomes U+FFFD.
std::string sanitize_label_value(std::string_view raw);

class MetricSink {
 public:
  // One sample of `family`; `label_values` in the order of family.labels (checked).
  void emit(const MetricFamilyDecl& family, std::initializer_list<std::string_view> label_values,
            double value);
  void emit(const MetricFamilyDecl& family, const std::vector<std::string_view>& label_values,
            double value);

  // Moves every sample of `other` into this sink, merging families of the same name.
  void absorb(MetricSink&& other);

  const std::vector<prometheus::MetricFamily>& families() const { return families_; }
  std::vector<prometheus::MetricFamily> take() { return std::move(families_); }

 private:
  prometheus::MetricFamily& family(std::string_view name, std::string_view help, MetricType type);
  template <class Values>
  void add(const MetricFamilyDecl& family, const Values& label_values, double value);

  std::vector<prometheus::MetricFamily> families_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

}  // namespace memledger
