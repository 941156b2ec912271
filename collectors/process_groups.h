#pragma once
// Process groups: how a process is named for the per-process series (the first matching
// rule, else group_by: name, cgroup, unit or user). Shared by every collector that names
// processes (process, blackhole, sockets), so one process has one group everywhere.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"
#include "procfs/snapshot.h"

namespace memledger {

// How a process is named into a group when no rule matches it.
enum class ProcessGroupBy { name, cgroup, unit, user };

// One ordered grouping rule: the first whose regex matches names the group.
struct ProcessGroupRule {
  enum class Field { comm, exe, cmdline };
  Field field = Field::comm;
  std::string regex;          // POSIX extended (regex(7)); validated when the config loads
  std::string name_template;  // $0..$9: the match and its groups; {comm}, {exe}
};

// Why a rule's name template is invalid ("" when valid): "$" must be followed by a digit
// no larger than the regex's capture groups, or by another "$".
std::string group_template_error(std::string_view name_template, std::size_t capture_groups);

struct ProcessConfig {
  ProcessGroupBy group_by = ProcessGroupBy::name;
  std::vector<ProcessGroupRule> rules;
  std::size_t top_groups = 50;
  double smaps_budget_seconds = 1.0;
  std::uint64_t large_process_rss_bytes = 1ull << 30;
  double large_process_refresh_seconds = 60;
  // From this RSS on, PSS comes from pagemap (bounded lock hold) instead of smaps_rollup.
  std::uint64_t pagemap_min_rss_bytes = 1ull << 40;  // opt-in: see the README
  std::size_t read_threads = 2;  // threads reading /proc/<pid> files at once
};

// The group_by option every collector that names processes declares, and its value.
OptionDecl group_by_option();
ProcessGroupBy group_by_of(const CollectorOptions& options);

// Checks one item of collectors.process.rules (throws ConfigError at it), and reads it.
ProcessGroupRule parse_process_rule(const YamlReader& reader, const YAML::Node& node);

// What grouping may ask about one process; implementations read lazily and remember.
class ProcessFacts {
 public:
  virtual ~ProcessFacts() = default;
  virtual std::string_view comm() = 0;
  virtual const std::string& exe() = 0;      // empty when unreadable
  virtual const std::string& cmdline() = 0;  // arguments joined by spaces
  virtual const std::string& cgroup() = 0;   // the /proc/<pid>/cgroup text
  virtual std::optional<std::uint32_t> uid() = 0;
};

// Names a process's group: the first matching rule, else config.group_by. Regexes are
// compiled once here; the collector calls this once per process lifetime.
class ProcessGrouper {
 public:
  explicit ProcessGrouper(const ProcessConfig& config);
  ~ProcessGrouper();
  ProcessGrouper(const ProcessGrouper&) = delete;
  ProcessGrouper& operator=(const ProcessGrouper&) = delete;

  // Valid UTF-8, never empty (so two raw names never collide after sanitizing).
  std::string group_of(ProcessFacts& facts);

 private:
  struct CompiledRule;
  std::string fallback_group(ProcessFacts& facts);
  const std::string& user_name(std::uint32_t uid);

  ProcessGroupBy group_by_;
  std::vector<std::unique_ptr<CompiledRule>> rules_;
  std::map<std::uint32_t, std::string> user_names_;
};

// "<pid>/<file>", built on the stack: thousands of them per scrape.
class PidPath {
 public:
  PidPath(int pid, std::string_view file);
  std::string_view view() const { return {buffer_, size_}; }

 private:
  char buffer_[48];
  std::size_t size_;
};

// ProcessFacts of a live process, reading its files only when a rule or group_by asks.
class PidFacts final : public ProcessFacts {
 public:
  PidFacts(Snapshot& snapshot, int pid, std::string_view comm)
      : snapshot_(snapshot), pid_(pid), comm_(comm) {}
  std::string_view comm() override { return comm_; }
  const std::string& exe() override;
  const std::string& cmdline() override;
  const std::string& cgroup() override;
  std::optional<std::uint32_t> uid() override;

 private:
  Snapshot& snapshot_;
  int pid_;
  std::string_view comm_;
  std::optional<std::string> exe_, cmdline_, cgroup_;
};

}  // namespace memledger
