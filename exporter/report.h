#pragma once
// The report a person reads: the ledger of each method, the top contributors of each
// category and a verdict. A pure function of one collection's metric families (two with an
// interval), so `explain` and the landing page show exactly the numbers /metrics serves.
#include <prometheus/metric_family.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace memledger {

struct ReportInput {
  std::vector<prometheus::MetricFamily> families;
  // With an interval: the same families, collected that many seconds earlier.
  std::vector<prometheus::MetricFamily> earlier;
  double interval_seconds = 0;
  std::vector<std::string> failed_collectors;  // "name failed: reason (file:line)"
};

struct ReportRow {
  std::string name;
  double bytes = 0;
};

struct ReportSection {
  std::string key;    // JSON name
  std::string title;  // for people
  std::vector<ReportRow> rows;
  std::optional<double> total;  // what the rows are a breakdown of, when one figure says it
};

struct Finding {
  bool abnormal = false;  // else a note
  std::string text;
};

struct Report {
  double memtotal = 0;
  std::string method = "lru";                              // the headline method
  std::vector<ReportRow> ledger;                           // that method's, in exposition order
  std::map<std::string, std::vector<ReportRow>> ledgers;   // every method's
  std::map<std::string, double> change;                    // category -> change over the interval
  std::vector<ReportRow> unexplained_by_method;            // headline first
  std::vector<ReportRow> uncertainty_by_method;
  std::vector<ReportSection> sections;
  // With an interval: the contributors (call sites, sockets, caches, groups, mounts) that
  // grew in the window, largest growth first.
  std::vector<ReportRow> grew;
  std::vector<Finding> verdict;
  std::vector<std::string> failed;
  double interval_seconds = 0;

  double ledger_bytes(std::string_view category) const;
  bool abnormal() const;
};

Report build_report(const ReportInput& input);

// "1.5 GiB", "-12.0 MiB", "512 B".
std::string human_bytes(double bytes);
// "12.7%".
std::string percent(double share);

}  // namespace memledger
