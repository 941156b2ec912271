#pragma once
// The configuration schema, its YAML parser and the embedded default.
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace memledger {

struct SlabConfig {
  std::size_t top_caches = 30;
};

struct VmallocConfig {
  std::size_t top_callers = 20;
};

// How a process is named into a group when no rule matches it.
enum class ProcessGroupBy { name, cgroup, unit, user };

// One ordered grouping rule: the first whose regex matches names the group.
struct ProcessGroupRule {
  enum class Field { comm, exe, cmdline };
  Field field = Field::comm;
  std::string regex;          // POSIX extended (regex(7)); validated when the config loads
  std::string name_template;  // $0..$9: the match and its groups; {comm}, {exe}
};

struct ProcessConfig {
  ProcessGroupBy group_by = ProcessGroupBy::name;
  std::vector<ProcessGroupRule> rules;
  std::size_t top_groups = 50;
  double smaps_budget_seconds = 1.0;
  std::uint64_t large_process_rss_bytes = 1ull << 30;
  double large_process_refresh_seconds = 60;
  // From this RSS on, PSS comes from pagemap (bounded lock hold) instead of smaps_rollup.
  std::uint64_t pagemap_min_rss_bytes = 64ull << 20;
  std::size_t read_threads = 2;  // threads reading /proc/<pid> files at once
};

struct ShmemConfig {
  bool scan_open_files = true;  // look for deleted files in every /proc/<pid>/fd
  double open_files_refresh_seconds = 60;  // a scan serves the scrapes of this long
};

struct CgroupConfig {
  std::size_t top_cgroups = 20;
};

struct AllocinfoConfig {
  std::size_t top_sites = 30;
};

struct PagecensusConfig {
  double interval_seconds = 900;  // between the starts of two censuses
  double budget_seconds = 60;     // a census still reading after this is abandoned
};

struct Config {
  // collector name -> enabled; a collector absent here keeps its built-in default.
  std::map<std::string, bool, std::less<>> collector_enabled;
  SlabConfig slab;
  VmallocConfig vmalloc;
  ProcessConfig process;
  ShmemConfig shmem;
  CgroupConfig cgroup;
  AllocinfoConfig allocinfo;
  PagecensusConfig pagecensus;
};

// A config that cannot be used: names the source, line and column (1-based; 0 = unknown).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& source, std::size_t line, std::size_t column,
              const std::string& what);
  const std::string& source() const { return source_; }
  std::size_t line() const { return line_; }
  std::size_t column() const { return column_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string source_;
  std::size_t line_;
  std::size_t column_;
  std::string reason_;
};

// Parses YAML text; unknown keys and wrong types are errors, not silently ignored.
// `source` names the text in error messages (usually the file path).
Config parse_config(std::string_view yaml, std::string_view source);

// Reads and parses a file; throws ConfigError (also when the file cannot be read).
Config load_config_file(const std::string& path);

// The text of config/memledger_exporter.yml, embedded at build time.
std::string_view default_config_yaml();

// parse_config(default_config_yaml()).
Config default_config();

}  // namespace memledger
