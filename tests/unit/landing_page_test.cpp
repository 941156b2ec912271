#include <catch2/catch.hpp>

#include <string>

#include "exporter/landing_page.h"
#include "exporter/report.h"
#include "sample_lookup.h"

using namespace memledger;

namespace {

constexpr double GiB = 1024.0 * 1024 * 1024;

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("html_escape leaves no markup in names that come from the host") {
  CHECK(html_escape("<script>a&b\"c'</script>") == "&lt;script&gt;a&amp;b&quot;c&#39;&lt;/script&gt;");
}

TEST_CASE("the landing page draws each method's ledger with the unexplained part marked") {
  MetricSink sink;
  testing::add_gauge(sink, "memledger_meminfo_bytes", {{"field", "MemTotal"}}, 16 * GiB);
  for (std::string method : {"lru", "cache"}) {
    testing::add_gauge(sink, "memledger_ledger_bytes", {{"method", method}, {"category", "free"}}, 8 * GiB);
    testing::add_gauge(sink, "memledger_ledger_bytes", {{"method", method}, {"category", "slab_reclaimable"}}, 1 * GiB);
    testing::add_gauge(sink, "memledger_ledger_bytes", {{"method", method}, {"category", "unexplained"}}, 3 * GiB);
    testing::add_gauge(sink, "memledger_unexplained_bytes", {{"method", method}}, 3 * GiB);
  }
  testing::add_gauge(sink, "memledger_slab_cache_bytes", {{"cache", "<evil>"}}, 1 * GiB);
  ReportInput input;
  input.families = sink.families();
  std::string html = render_landing_page(build_report(input), {"/metrics", 30});
  CHECK(count(html, "<svg class=\"ledger-bar\"") == 2);
  CHECK(count(html, "class=\"segment unexplained\"") == 2);
  // 3 GiB of 16 GiB is 18.75% of the 960-unit bar.
  CHECK(html.find("data-category=\"unexplained\" x=\"540.00\" y=\"0\" width=\"180.00\"") != std::string::npos);
  CHECK(html.find("Unexplained (lru): <b>3.0 GiB</b>") != std::string::npos);
  CHECK(html.find("<li class=\"abnormal\">[abnormal] 3.0 GiB (18.8% of MemTotal)") != std::string::npos);
  CHECK(html.find("&lt;evil&gt;") != std::string::npos);
  CHECK(html.find("<evil>") == std::string::npos);
  CHECK(html.find("<a href=\"/metrics\">") != std::string::npos);
  CHECK(html.find("http-equiv=\"refresh\" content=\"30\"") != std::string::npos);
}
