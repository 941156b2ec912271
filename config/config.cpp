#include "config/config.h"

#include <regex.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "collectors/process.h"
#include "collectors/snapshot.h"
#include "config/yaml_reader.h"

namespace memledger {

ConfigError::ConfigError(const std::string& source, std::size_t line, std::size_t column,
                         const std::string& what)
    : std::runtime_error(source + (line ? ":" + std::to_string(line) : "") +
                         (column ? ":" + std::to_string(column) : "") + ": " + what),
      source_(source),
      line_(line),
      column_(column),
      reason_(what) {}

namespace {


// Every collector's section and the keys it takes besides "enabled".
const std::map<std::string_view, std::set<std::string_view>> kCollectorSchema = {
    {"meminfo", {}},
    {"slab", {"top_caches"}},
    {"vmalloc", {"top_callers"}},
    {"hugepages", {}},
    {"lru", {}},
    {"zoneinfo", {}},
    {"ledger", {}},
    {"process",
     {"group_by", "rules", "top_groups", "smaps_budget_seconds", "large_process_rss_bytes",
      "large_process_refresh_seconds", "pagemap_min_rss_bytes", "read_threads"}},
    {"balloon", {}},
    {"shmem", {"scan_open_files", "open_files_refresh_seconds"}},
    {"cgroup", {"top_cgroups"}},
    {"buddyinfo", {}},
    {"allocinfo", {"top_sites"}},
    {"pagecensus", {"interval_seconds", "budget_seconds"}},
};

double seconds(const YamlReader& r, const YAML::Node& node, std::string_view key) {
  auto v = r.scalar<double>(node, key, "a number of seconds");
  if (!(v >= 0)) r.fail(node, std::string(key) + " must be a non-negative number of seconds");
  return v;
}

ProcessGroupRule parse_process_rule(const YamlReader& r, const YAML::Node& node) {
  r.expect_map(node, "collectors.process.rules[]");
  r.check_keys(node, "collectors.process.rules[]", {"match", "regex", "name"});
  ProcessGroupRule rule;
  const YAML::Node match = node["match"];
  const YAML::Node regex = node["regex"];
  const YAML::Node name = node["name"];
  if (!match || !regex || !name) r.fail(node, "a rule needs match, regex and name");
  auto field = r.scalar<std::string>(match, "match", "comm, exe or cmdline");
  if (field == "comm") {
    rule.field = ProcessGroupRule::Field::comm;
  } else if (field == "exe") {
    rule.field = ProcessGroupRule::Field::exe;
  } else if (field == "cmdline") {
    rule.field = ProcessGroupRule::Field::cmdline;
  } else {
    r.fail(match, "match must be comm, exe or cmdline, got \"" + field + "\"");
  }
  rule.regex = r.scalar<std::string>(regex, "regex", "a string");
  regex_t compiled;
  if (int error = ::regcomp(&compiled, rule.regex.c_str(), REG_EXTENDED)) {
    char reason[256];
    ::regerror(error, &compiled, reason, sizeof reason);
    r.fail(regex, "invalid regex \"" + rule.regex + "\": " + reason);
  }
  std::size_t capture_groups = compiled.re_nsub;
  ::regfree(&compiled);
  rule.name_template = r.scalar<std::string>(name, "name", "a string");
  if (auto error = group_template_error(rule.name_template, capture_groups); !error.empty()) {
    r.fail(name, error);
  }
  return rule;
}

void parse_process(const YamlReader& r, const YAML::Node& node, ProcessConfig& process) {
  if (auto by = node["group_by"]) {
    auto value = r.scalar<std::string>(by, "group_by", "name, cgroup, unit or user");
    if (value == "name") {
      process.group_by = ProcessGroupBy::name;
    } else if (value == "cgroup") {
      process.group_by = ProcessGroupBy::cgroup;
    } else if (value == "unit") {
      process.group_by = ProcessGroupBy::unit;
    } else if (value == "user") {
      process.group_by = ProcessGroupBy::user;
    } else {
      r.fail(by, "group_by must be name, cgroup, unit or user, got \"" + value + "\"");
    }
  }
  if (auto rules = node["rules"]; rules && !rules.IsNull()) {
    if (!rules.IsSequence()) r.fail(rules, "rules must be a list");
    for (const auto& rule : rules) process.rules.push_back(parse_process_rule(r, rule));
  }
  if (auto n = node["top_groups"]) process.top_groups = r.count(n, "top_groups");
  if (auto n = node["smaps_budget_seconds"]) {
    process.smaps_budget_seconds = seconds(r, n, "smaps_budget_seconds");
  }
  if (auto n = node["large_process_rss_bytes"]) {
    process.large_process_rss_bytes = r.count(n, "large_process_rss_bytes");
  }
  if (auto n = node["large_process_refresh_seconds"]) {
    process.large_process_refresh_seconds = seconds(r, n, "large_process_refresh_seconds");
  }
  if (auto n = node["pagemap_min_rss_bytes"]) {
    process.pagemap_min_rss_bytes = r.count(n, "pagemap_min_rss_bytes");
  }
  if (auto n = node["read_threads"]) {
    process.read_threads = r.count(n, "read_threads");
    if (process.read_threads == 0) r.fail(n, "read_threads must be at least 1");
  }
}

void parse_collector(const YamlReader& r, const YAML::Node& key, const YAML::Node& node,
                     Config& config) {
  std::string name = key.as<std::string>();
  auto schema = kCollectorSchema.find(name);
  if (schema == kCollectorSchema.end()) r.fail(key, "unknown collector \"" + name + "\"");
  std::string where = "collectors." + name;
  if (node.IsNull()) return;
  r.expect_map(node, where);
  std::set<std::string_view> known = schema->second;
  known.insert("enabled");
  r.check_keys(node, where, known);
  if (auto enabled = node["enabled"]) {
    config.collector_enabled[name] = r.scalar<bool>(enabled, "enabled", "true or false");
  }
  if (name == "slab") {
    if (auto n = node["top_caches"]) config.slab.top_caches = r.count(n, "top_caches");
  }
  if (name == "vmalloc") {
    if (auto n = node["top_callers"]) config.vmalloc.top_callers = r.count(n, "top_callers");
  }
  if (name == "process") parse_process(r, node, config.process);
  if (name == "shmem") {
    if (auto b = node["scan_open_files"]) {
      config.shmem.scan_open_files = r.scalar<bool>(b, "scan_open_files", "true or false");
    }
    if (auto n = node["open_files_refresh_seconds"]) {
      config.shmem.open_files_refresh_seconds = seconds(r, n, "open_files_refresh_seconds");
    }
  }
  if (name == "cgroup") {
    if (auto n = node["top_cgroups"]) config.cgroup.top_cgroups = r.count(n, "top_cgroups");
  }
  if (name == "allocinfo") {
    if (auto n = node["top_sites"]) config.allocinfo.top_sites = r.count(n, "top_sites");
  }
  if (name == "pagecensus") {
    auto& census = config.pagecensus;
    if (auto n = node["interval_seconds"]) census.interval_seconds = seconds(r, n, "interval_seconds");
    if (auto n = node["budget_seconds"]) census.budget_seconds = seconds(r, n, "budget_seconds");
    if (census.interval_seconds < 1) r.fail(node, "interval_seconds must be at least 1");
  }
}

}  // namespace

Config parse_config(std::string_view yaml, std::string_view source) {
  YamlReader r(source);
  // Not only Load throws: yaml-cpp's conversions do too (a mapping used as a key, found by
  // tests/fuzz/parse_config_fuzz.cpp, aborted the daemon). All of them are ConfigErrors.
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    Config config;
    if (root.IsNull()) return config;
    r.expect_map(root, "the top level");
    r.check_keys(root, "the top level", {"collectors"});
    if (auto collectors = root["collectors"]) {
      if (collectors.IsNull()) return config;
      r.expect_map(collectors, "collectors");
      for (const auto& kv : collectors) {
        parse_collector(r, kv.first, kv.second, config);
      }
    }
    return config;
  } catch (const YAML::Exception& e) {
    bool known = e.mark.line >= 0;
    throw ConfigError(std::string(source), known ? e.mark.line + 1 : 0,
                      known ? e.mark.column + 1 : 0, e.msg);
  }
}

Config load_config_file(const std::string& path) {
  std::string text;
  if (int error = read_whole_file(path, text)) {
    throw ConfigError(path, 0, 0, std::string("cannot read: ") + std::strerror(error));
  }
  return parse_config(text, path);
}

Config default_config() { return parse_config(default_config_yaml(), "<embedded default>"); }

}  // namespace memledger
