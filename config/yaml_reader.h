#pragma once
// Strict reading of YAML configuration files (the exporter's config and the web config):
// every problem is a ConfigError naming the file, line and column.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <set>
#include <string>
#include <string_view>

#include "config/config.h"

namespace memledger {

class YamlReader {
 public:
  explicit YamlReader(std::string_view source) : source_(source) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& what) const {
    const YAML::Mark mark = node.Mark();
    bool known = mark.line >= 0;
    throw ConfigError(source_, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0, what);
  }

  void expect_map(const YAML::Node& node, std::string_view where) const {
    if (!node.IsMap()) fail(node, std::string(where) + " must be a mapping");
  }

  // Unknown keys are errors (an empty `known` accepts any key); so are duplicates, which
  // yaml-cpp would silently merge, and non-scalar keys. Keys in `unsupported` are known
  // to a related format but not implemented here: they say so plainly.
  void check_keys(const YAML::Node& node, std::string_view where,
                  const std::set<std::string_view>& known,
                  const std::set<std::string_view>& unsupported = {}) const {
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) fail(kv.first, std::string(where) + " keys must be strings");
      const std::string& key = kv.first.Scalar();
      if (!seen.insert(key).second) fail(kv.first, "duplicate key \"" + key + "\" in " + std::string(where));
      if (known.empty() || known.count(key)) continue;
      if (unsupported.count(key)) fail(kv.first, "\"" + key + "\" is not supported by memledger_exporter");
      fail(kv.first, "unknown key \"" + key + "\" in " + std::string(where));
    }
  }

  template <class T>
  T scalar(const YAML::Node& node, std::string_view key, std::string_view type_name) const {
    if (!node.IsScalar()) fail(node, std::string(key) + " must be " + std::string(type_name));
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, std::string(key) + " must be " + std::string(type_name) + ", got \"" +
                     node.Scalar() + "\"");
    }
  }

  std::string string(const YAML::Node& node, std::string_view key) const {
    return scalar<std::string>(node, key, "a string");
  }

  std::size_t count(const YAML::Node& node, std::string_view key) const {
    auto v = scalar<long long>(node, key, "a non-negative integer");
    if (v < 0) fail(node, std::string(key) + " must be a non-negative integer");
    return static_cast<std::size_t>(v);
  }

 private:
  std::string source_;
};

}  // namespace memledger
