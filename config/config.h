#pragma once
// The configuration file: one section per collector, checked against each collector's
// declared options (collectors/registry.h holds the declarations), so the file, the
// defaults and the collectors cannot disagree.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace memledger {

class YamlReader;

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

// One option of a collector's section, with its default as YAML text.
struct OptionDecl {
  enum class Kind { count, seconds, boolean, choice, list };
  using ItemCheck = std::function<void(const YamlReader&, const YAML::Node&)>;
  OptionDecl(std::string_view key, Kind kind, std::string_view default_value, double minimum = 0,
             std::vector<std::string_view> choices = {}, ItemCheck check_item = {})
      : key(key), kind(kind), default_value(default_value), minimum(minimum),
        choices(std::move(choices)), check_item(std::move(check_item)) {}
  std::string_view key;
  Kind kind;
  std::string_view default_value;         // "30", "1.0", "true", "name", "[]"
  double minimum;                         // count and seconds
  std::vector<std::string_view> choices;  // choice
  ItemCheck check_item;                   // list: checks one element; throws ConfigError
};

// A collector's name, whether it runs by default, and its options.
struct CollectorSchema {
  std::string_view name;
  bool enabled_by_default = true;
  std::vector<OptionDecl> options;
};

// One collector's options: the file's values over the declared defaults.
class CollectorOptions {
 public:
  CollectorOptions(const CollectorSchema& schema, YAML::Node section)
      : schema_(&schema), section_(std::move(section)) {}
  std::size_t count(std::string_view key) const;
  double seconds(std::string_view key) const;
  bool boolean(std::string_view key) const;
  std::string choice(std::string_view key) const;
  YAML::Node list(std::string_view key) const;  // a sequence, possibly empty

 private:
  YAML::Node value(std::string_view key, OptionDecl::Kind kind) const;
  const CollectorSchema* schema_;
  YAML::Node section_;
};

struct Config {
  // collector name -> enabled; a collector absent here keeps its declared default.
  std::map<std::string, bool, std::less<>> collector_enabled;
  // collector name -> its section of the file (absent: every option at its default).
  std::map<std::string, YAML::Node, std::less<>> sections;
  CollectorOptions options(const CollectorSchema& schema) const;
};

// Parses YAML text against the collectors' schemas; unknown collectors and keys, wrong
// types and out-of-range values are errors, not silently ignored. `source` names the
// text in error messages (usually the file path).
Config parse_config(std::string_view yaml, std::string_view source,
                    const std::vector<const CollectorSchema*>& schemas);

// Reads and parses a file; throws ConfigError (also when the file cannot be read).
Config load_config_file(const std::string& path, const std::vector<const CollectorSchema*>& schemas);

}  // namespace memledger
