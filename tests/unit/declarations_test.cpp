// The declarations are the one home of collectors and metric families: the shipped
// configuration file and the README's metrics reference are checked against them, so
// neither can drift.
#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "collectors/registry.h"
#include "exporter/scrape.h"

namespace memledger {
namespace {

std::string read_source_file(const std::string& relative) {
  std::ifstream in(std::string(MEMLEDGER_SOURCE_DIR) + "/" + relative);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("config/memledger_exporter.yml states every collector's declared defaults, nothing else") {
  const std::string text = read_source_file("config/memledger_exporter.yml");
  CHECK_NOTHROW(parse_exporter_config(text, "config/memledger_exporter.yml"));
  YAML::Node collectors = YAML::Load(text)["collectors"];
  REQUIRE(collectors.IsMap());
  std::set<std::string> declared;
  for (const auto* info : collector_catalog()) {
    const std::string name(info->name());
    declared.insert(name);
    INFO("collector " << name);
    YAML::Node section = collectors[name];
    REQUIRE(section.IsMap());
    REQUIRE(section["enabled"]);
    CHECK(section["enabled"].as<bool>() == info->enabled_by_default());
    std::set<std::string> keys = {"enabled"};
    for (const auto& option : info->schema.options) {
      const std::string key(option.key);
      keys.insert(key);
      INFO("option " << key);
      REQUIRE(section[key]);
      CHECK(YAML::Dump(section[key]) == YAML::Dump(YAML::Load(std::string(option.default_value))));
    }
    for (const auto& kv : section) CHECK(keys.count(kv.first.as<std::string>()) == 1);
  }
  for (const auto& kv : collectors) CHECK(declared.count(kv.first.as<std::string>()) == 1);
}

TEST_CASE("the README's metrics reference lists every declared family and nothing else") {
  const std::string readme = read_source_file("README.md");
  auto begin = readme.find("\n## Metrics reference");
  REQUIRE(begin != std::string::npos);
  auto end = readme.find("\n## ", begin + 1);
  const std::string reference = readme.substr(begin, end - begin);
  std::set<std::string> documented;
  // Every name in the first column of a table row ("| `a`, `b` | ...").
  const std::regex row(R"(\n\| ([^|]*`memledger_[^|]*)\|)");
  const std::regex name(R"(`(memledger_[a-z0-9_]+)`)");
  for (std::sregex_iterator it(reference.begin(), reference.end(), row), last; it != last; ++it) {
    const std::string cell = (*it)[1];
    for (std::sregex_iterator n(cell.begin(), cell.end(), name); n != last; ++n) documented.insert((*n)[1]);
  }
  std::set<std::string> declared;
  for (const auto* info : collector_catalog()) {
    for (const auto* family : info->families) declared.insert(std::string(family->name));
  }
  for (const auto* family : exporter_families()) declared.insert(std::string(family->name));
  for (const auto& name : declared) {
    INFO(name << " is declared but not in the README's metrics reference");
    CHECK(documented.count(name) == 1);
  }
  for (const auto& name : documented) {
    INFO(name << " is in the README's metrics reference but no code declares it");
    CHECK(declared.count(name) == 1);
  }
}

}  // namespace
}  // namespace memledger
