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

using LabelPair = std::pair<std::string_view, std::string_view>;

// Valid UTF-8 out of arbitrary bytes: each byte of an invalid sequence becomes U+FFFD.
std::string sanitize_label_value(std::string_view raw);

class MetricSink {
 public:
  void gauge(std::string_view family, std::string_view help,
             std::initializer_list<LabelPair> labels, double value);
  void gauge(std::string_view family, std::string_view help,
             const std::vector<LabelPair>& labels, double value);
  void counter(std::string_view family, std::string_view help,
               std::initializer_list<LabelPair> labels, double value);

  // Moves every sample of `other` into this sink, merging families of the same name.
  void absorb(MetricSink&& other);

  const std::vector<prometheus::MetricFamily>& families() const { return families_; }
  std::vector<prometheus::MetricFamily> take() { return std::move(families_); }

 private:
  prometheus::MetricFamily& family(std::string_view name, std::string_view help,
                                   prometheus::MetricType type);
  template <class Labels>
  void add(std::string_view family_name, std::string_view help, prometheus::MetricType type,
           const Labels& labels, double value);

  std::vector<prometheus::MetricFamily> families_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

}  // namespace memledger
