#include "collectors/process_groups.h"

#include <pwd.h>
#include <regex.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "collectors/metric_sink.h"
#include "procfs/pid.h"
#include "procfs/text.h"

namespace memledger {

std::string group_template_error(std::string_view name_template, std::size_t capture_groups) {
  for (std::size_t i = 0; i < name_template.size(); ++i) {
    if (name_template[i] != '$') continue;
    if (i + 1 == name_template.size()) return "name ends with a lone \"$\" (write \"$$\" for a dollar)";
    char next = name_template[++i];
    if (next == '$') continue;
    if (next < '0' || next > '9') {
      return std::string("\"$") + next + "\" in name: expected $0..$9 or $$";
    }
    if (static_cast<std::size_t>(next - '0') > capture_groups) {
      return std::string("name uses $") + next + " but the regex has " +
             std::to_string(capture_groups) + " capture group(s)";
    }
  }
  return {};
}

OptionDecl group_by_option() {
  return {"group_by", OptionDecl::Kind::choice, "name", 0, {"name", "cgroup", "unit", "user"}};
}

ProcessGroupBy group_by_of(const CollectorOptions& options) {
  const std::string group_by = options.choice("group_by");
  return group_by == "cgroup" ? ProcessGroupBy::cgroup
         : group_by == "unit" ? ProcessGroupBy::unit
         : group_by == "user" ? ProcessGroupBy::user
                              : ProcessGroupBy::name;
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

struct ProcessGrouper::CompiledRule {
  ProcessGroupRule::Field field;
  std::string name_template;
  regex_t regex;

  explicit CompiledRule(const ProcessGroupRule& rule)
      : field(rule.field), name_template(rule.name_template) {
    if (int error = ::regcomp(&regex, rule.regex.c_str(), REG_EXTENDED)) {
      char reason[256];
      ::regerror(error, &regex, reason, sizeof reason);
      throw std::invalid_argument("invalid regex \"" + rule.regex + "\": " + reason);
    }
  }
  ~CompiledRule() { ::regfree(&regex); }
  CompiledRule(const CompiledRule&) = delete;
  CompiledRule& operator=(const CompiledRule&) = delete;
};

ProcessGrouper::ProcessGrouper(const ProcessConfig& config) : group_by_(config.group_by) {
  for (const auto& rule : config.rules) rules_.push_back(std::make_unique<CompiledRule>(rule));
}

ProcessGrouper::~ProcessGrouper() = default;

std::string ProcessGrouper::group_of(ProcessFacts& facts) {
  std::string group;
  bool matched = false;
  for (const auto& rule : rules_) {
    std::string comm_subject;
    const std::string* subject = &comm_subject;
    switch (rule->field) {
      case ProcessGroupRule::Field::comm:
        comm_subject = facts.comm();
        break;
      case ProcessGroupRule::Field::exe:
        subject = &facts.exe();
        break;
      case ProcessGroupRule::Field::cmdline:
        subject = &facts.cmdline();
        break;
    }
    regmatch_t match[10];
    if (::regexec(&rule->regex, subject->c_str(), 10, match, 0) != 0) continue;
    std::string_view tmpl = rule->name_template;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
      if (tmpl[i] == '$' && i + 1 < tmpl.size()) {
        char next = tmpl[++i];
        if (next == '$') {
          group.push_back('$');
        } else if (const regmatch_t& m = match[next - '0']; m.rm_so >= 0) {
          group.append(*subject, static_cast<std::size_t>(m.rm_so),
                       static_cast<std::size_t>(m.rm_eo - m.rm_so));
        }
      } else if (text::starts_with(tmpl.substr(i), "{comm}")) {
        group.append(facts.comm());
        i += 5;
      } else if (text::starts_with(tmpl.substr(i), "{exe}")) {
        group.append(text::basename_of(facts.exe()));
        i += 4;
      } else {
        group.push_back(tmpl[i]);
      }
    }
    matched = true;
    break;
  }
  if (!matched) group = fallback_group(facts);
  group = sanitize_label_value(group);
  if (group.empty()) group = "unknown";
  return group;
}

std::string ProcessGrouper::fallback_group(ProcessFacts& facts) {
  switch (group_by_) {
    case ProcessGroupBy::name:
      return std::string(facts.comm());
    case ProcessGroupBy::cgroup:
      return std::string(cgroup_path(facts.cgroup()));
    case ProcessGroupBy::unit: {
      std::string_view path = systemd_cgroup_path(facts.cgroup());
      return path.empty() ? std::string() : std::string(systemd_unit(path));
    }
    case ProcessGroupBy::user: {
      auto uid = facts.uid();
      return uid ? user_name(*uid) : std::string();
    }
  }
  return {};
}

const std::string& ProcessGrouper::user_name(std::uint32_t uid) {
  auto it = user_names_.find(uid);
  if (it != user_names_.end()) return it->second;
  std::string name = std::to_string(uid);
  passwd entry;
  passwd* found = nullptr;
  std::vector<char> buffer(4096);
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    name = found->pw_name;
  }
  return user_names_.emplace(uid, std::move(name)).first->second;
}


PidPath::PidPath(int pid, std::string_view file) {
  char* end = std::to_chars(buffer_, buffer_ + 12, pid).ptr;  // a pid has at most 10 digits
  *end++ = '/';
  std::memcpy(end, file.data(), file.size());
  size_ = static_cast<std::size_t>(end - buffer_) + file.size();
}

const std::string& PidFacts::exe() {
  if (!exe_) {
    exe_.emplace();
    std::string path = snapshot_.path(Root::proc, PidPath(pid_, "exe").view());
    char target[4096];
    ssize_t n = ::readlink(path.c_str(), target, sizeof target);
    if (n > 0) {
      std::string_view link(target, static_cast<std::size_t>(n));
      // A binary replaced by an upgrade still runs; group it under its path.
      constexpr std::string_view kDeleted = " (deleted)";
      if (text::ends_with(link, kDeleted)) link.remove_suffix(kDeleted.size());
      exe_->assign(link);
    }
  }
  return *exe_;
}

const std::string& PidFacts::cmdline() {
  if (!cmdline_) {
    cmdline_.emplace();
    if (snapshot_.read_uncached(Root::proc, PidPath(pid_, "cmdline").view(), *cmdline_) != 0) {
      cmdline_->clear();
    }
    std::replace(cmdline_->begin(), cmdline_->end(), '\0', ' ');
    while (!cmdline_->empty() && cmdline_->back() == ' ') cmdline_->pop_back();
  }
  return *cmdline_;
}

const std::string& PidFacts::cgroup() {
  if (!cgroup_) {
    cgroup_.emplace();
    if (snapshot_.read_uncached(Root::proc, PidPath(pid_, "cgroup").view(), *cgroup_) != 0) {
      cgroup_->clear();
    }
  }
  return *cgroup_;
}

std::optional<std::uint32_t> PidFacts::uid() {
  std::string status;
  if (snapshot_.read_uncached(Root::proc, PidPath(pid_, "status").view(), status) != 0) {
    return std::nullopt;
  }
  return status_real_uid(status);
}

}  // namespace memledger
