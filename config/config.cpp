#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "config/yaml_reader.h"
#include "procfs/snapshot.h"

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

const OptionDecl& find_option(const CollectorSchema& schema, std::string_view key) {
  for (const auto& option : schema.options) {
    if (option.key == key) return option;
  }
  throw std::logic_error("collector " + std::string(schema.name) + " has no option " + std::string(key));
}

// Checks one option's value the way its kind says; throws ConfigError at the value.
void check_option(const YamlReader& r, const OptionDecl& option, const YAML::Node& node) {
  const std::string key(option.key);
  switch (option.kind) {
    case OptionDecl::Kind::count:
      if (static_cast<double>(r.count(node, key)) < option.minimum) {
        r.fail(node, key + " must be at least " + std::to_string(static_cast<long long>(option.minimum)));
      }
      break;
    case OptionDecl::Kind::seconds: {
      auto v = r.scalar<double>(node, key, "a number of seconds");
      if (!(v >= 0)) r.fail(node, key + " must be a non-negative number of seconds");
      if (v < option.minimum) {
        r.fail(node, key + " must be at least " + std::to_string(static_cast<long long>(option.minimum)));
      }
      break;
    }
    case OptionDecl::Kind::boolean:
      r.scalar<bool>(node, key, "true or false");
      break;
    case OptionDecl::Kind::choice: {
      std::string expected;
      for (auto choice : option.choices) expected += (expected.empty() ? "" : ", ") + std::string(choice);
      auto value = r.scalar<std::string>(node, key, expected);
      if (std::find(option.choices.begin(), option.choices.end(), value) == option.choices.end()) {
        r.fail(node, key + " must be one of " + expected + ", got \"" + value + "\"");
      }
      break;
    }
    case OptionDecl::Kind::list:
      if (node.IsNull()) break;
      if (!node.IsSequence()) r.fail(node, key + " must be a list");
      if (option.check_item) {
        for (const auto& item : node) option.check_item(r, item);
      }
      break;
  }
}

void parse_collector(const YamlReader& r, const YAML::Node& key, const YAML::Node& node,
                     const std::vector<const CollectorSchema*>& schemas, Config& config) {
  std::string name = key.as<std::string>();
  auto schema = std::find_if(schemas.begin(), schemas.end(),
                             [&](const CollectorSchema* s) { return s->name == name; });
  if (schema == schemas.end()) r.fail(key, "unknown collector \"" + name + "\"");
  std::string where = "collectors." + name;
  if (node.IsNull()) return;
  r.expect_map(node, where);
  std::set<std::string_view> known = {"enabled"};
  for (const auto& option : (*schema)->options) known.insert(option.key);
  r.check_keys(node, where, known);
  for (const auto& kv : node) {
    const std::string& option = kv.first.Scalar();
    if (option == "enabled") {
      config.collector_enabled[name] = r.scalar<bool>(kv.second, "enabled", "true or false");
    } else {
      check_option(r, find_option(**schema, option), kv.second);
    }
  }
  config.sections[name] = node;
}

}  // namespace

YAML::Node CollectorOptions::value(std::string_view key, OptionDecl::Kind kind) const {
  const OptionDecl& option = find_option(*schema_, key);
  if (option.kind != kind) {
    throw std::logic_error(std::string(schema_->name) + "." + std::string(key) + " read as another kind");
  }
  if (section_ && section_.IsMap()) {
    if (YAML::Node set = section_[std::string(key)]; set && !set.IsNull()) return set;
  }
  return YAML::Load(std::string(option.default_value));
}

std::size_t CollectorOptions::count(std::string_view key) const {
  return value(key, OptionDecl::Kind::count).as<std::size_t>();
}

double CollectorOptions::seconds(std::string_view key) const {
  return value(key, OptionDecl::Kind::seconds).as<double>();
}

bool CollectorOptions::boolean(std::string_view key) const {
  return value(key, OptionDecl::Kind::boolean).as<bool>();
}

std::string CollectorOptions::choice(std::string_view key) const {
  return value(key, OptionDecl::Kind::choice).as<std::string>();
}

YAML::Node CollectorOptions::list(std::string_view key) const {
  YAML::Node node = value(key, OptionDecl::Kind::list);
  return node.IsSequence() ? node : YAML::Node(YAML::NodeType::Sequence);
}

CollectorOptions Config::options(const CollectorSchema& schema) const {
  auto it = sections.find(schema.name);
  return CollectorOptions(schema, it == sections.end() ? YAML::Node() : it->second);
}

Config parse_config(std::string_view yaml, std::string_view source,
                    const std::vector<const CollectorSchema*>& schemas) {
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
      for (const auto& kv : collectors) parse_collector(r, kv.first, kv.second, schemas, config);
    }
    return config;
  } catch (const YAML::Exception& e) {
    bool known = e.mark.line >= 0;
    throw ConfigError(std::string(source), known ? e.mark.line + 1 : 0,
                      known ? e.mark.column + 1 : 0, e.msg);
  }
}

Config load_config_file(const std::string& path, const std::vector<const CollectorSchema*>& schemas) {
  std::string text;
  if (int error = read_whole_file(path, text)) {
    throw ConfigError(path, 0, 0, std::string("cannot read: ") + std::strerror(error));
  }
  return parse_config(text, path, schemas);
}

}  // namespace memledger
