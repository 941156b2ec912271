#include "exporter/web_config.h"

#include <yaml-cpp/yaml.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "procfs/snapshot.h"
#include "config/config.h"
#include "config/yaml_reader.h"

namespace memledger {

namespace {

// Keys of the exporter-toolkit format this exporter does not implement: said plainly
// rather than "unknown", since the file may be shared with Go exporters.
const std::set<std::string_view> kToolkitOnly = {
    "cert", "key", "client_ca", "cipher_suites", "curve_preferences",
    "prefer_server_cipher_suites", "client_allowed_sans", "http_server_config", "rate_limit"};

std::uint16_t parse_tls_version(const YamlReader& r, const YAML::Node& node, std::string_view key) {
  auto name = r.string(node, key);
  for (std::uint16_t v = 0x0301; v <= 0x0304; ++v) {
    if (name == tls_version_name(v)) return v;
  }
  r.fail(node, std::string(key) + " must be TLS10, TLS11, TLS12 or TLS13, got \"" + name + "\"");
}

ClientAuth parse_client_auth(const YamlReader& r, const YAML::Node& node) {
  static const std::map<std::string_view, ClientAuth> names = {
      {"NoClientCert", ClientAuth::none},
      {"RequestClientCert", ClientAuth::request},
      {"RequireAnyClientCert", ClientAuth::require_any},
      {"VerifyClientCertIfGiven", ClientAuth::verify_if_given},
      {"RequireAndVerifyClientCert", ClientAuth::require_and_verify},
  };
  auto name = r.string(node, "client_auth_type");
  auto it = names.find(name);
  if (it == names.end()) {
    r.fail(node, "client_auth_type must be NoClientCert, RequestClientCert, RequireAnyClientCert, "
                 "VerifyClientCertIfGiven or RequireAndVerifyClientCert, got \"" + name + "\"");
  }
  return it->second;
}

std::string resolve(std::string_view base_directory, const std::string& file) {
  if (file.empty() || file.front() == '/' || base_directory.empty()) return file;
  return (std::filesystem::path(base_directory) / file).string();
}

std::optional<TlsServerConfig> parse_tls(const YamlReader& r, const YAML::Node& node,
                                         std::string_view base_directory) {
  if (node.IsNull()) return std::nullopt;
  r.expect_map(node, "tls_server_config");
  r.check_keys(node, "tls_server_config",
               {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
                "max_version"},
               kToolkitOnly);
  if (node.size() == 0) return std::nullopt;
  TlsServerConfig tls;
  if (auto n = node["cert_file"]) tls.cert_file = resolve(base_directory, r.string(n, "cert_file"));
  if (auto n = node["key_file"]) tls.key_file = resolve(base_directory, r.string(n, "key_file"));
  if (auto n = node["client_ca_file"]) {
    tls.client_ca_file = resolve(base_directory, r.string(n, "client_ca_file"));
  }
  if (auto n = node["client_auth_type"]) tls.client_auth = parse_client_auth(r, n);
  if (auto n = node["min_version"]) tls.min_version = parse_tls_version(r, n, "min_version");
  if (auto n = node["max_version"]) tls.max_version = parse_tls_version(r, n, "max_version");

  if (tls.cert_file.empty()) r.fail(node, "tls_server_config needs cert_file");
  if (tls.key_file.empty()) r.fail(node, "tls_server_config needs key_file");
  bool verifies = tls.client_auth == ClientAuth::verify_if_given ||
                  tls.client_auth == ClientAuth::require_and_verify;
  if (verifies && tls.client_ca_file.empty()) {
    r.fail(node, "client_auth_type " + r.string(node["client_auth_type"], "") +
                     " needs client_ca_file to verify client certificates against");
  }
  if (!tls.client_ca_file.empty() && !verifies) {
    r.fail(node["client_ca_file"],
           "client_ca_file is set but client_auth_type does not verify client certificates "
           "(use VerifyClientCertIfGiven or RequireAndVerifyClientCert)");
  }
  if (tls.max_version && tls.max_version < tls.min_version) {
    r.fail(node["max_version"], "max_version is older than min_version");
  }
  return tls;
}

// $2a$, $2b$ or $2y$, a two-digit cost, then 53 characters of bcrypt's base64.
bool is_bcrypt_hash(std::string_view hash) {
  if (hash.size() != 60 || hash.substr(0, 2) != "$2" || hash[3] != '$' || hash[6] != '$') return false;
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  if (hash[4] < '0' || hash[4] > '3' || hash[5] < '0' || hash[5] > '9') return false;
  for (char c : hash.substr(7)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string_view tls_version_name(std::uint16_t version) {
  switch (version) {
    case 0x0301: return "TLS10";
    case 0x0302: return "TLS11";
    case 0x0303: return "TLS12";
    case 0x0304: return "TLS13";
    default: return "newest";
  }
}

WebConfig parse_web_config(std::string_view yaml, std::string_view source,
                           std::string_view base_directory) {
  YamlReader r(source);
  // yaml-cpp throws from conversions as well as from Load: all of it is a ConfigError.
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    WebConfig config;
    if (root.IsNull()) return config;
    r.expect_map(root, "the top level");
    r.check_keys(root, "the top level", {"tls_server_config", "basic_auth_users"}, kToolkitOnly);
    if (auto tls = root["tls_server_config"]) config.tls = parse_tls(r, tls, base_directory);
    if (auto users = root["basic_auth_users"]; users && !users.IsNull()) {
      r.expect_map(users, "basic_auth_users");
      r.check_keys(users, "basic_auth_users", {});
      for (const auto& kv : users) {
        auto user = kv.first.Scalar();
        if (user.empty() || user.find(':') != std::string::npos) {
          r.fail(kv.first, "basic_auth_users: a user name must be non-empty and without ':'");
        }
        auto hash = r.string(kv.second, "the password hash of \"" + user + "\"");
        if (!is_bcrypt_hash(hash)) {
          r.fail(kv.second, "the password of \"" + user +
                                "\" must be a bcrypt hash ($2y$10$... , e.g. from htpasswd -nBC 10)");
        }
        config.basic_auth_users.emplace(user, hash);
      }
    }
    return config;
  } catch (const YAML::Exception& e) {
    bool known = e.mark.line >= 0;
    throw ConfigError(std::string(source), known ? e.mark.line + 1 : 0,
                      known ? e.mark.column + 1 : 0, e.msg);
  }
}

WebConfig load_web_config_file(const std::string& path) {
  std::string text;
  if (int error = read_whole_file(path, text)) {
    throw ConfigError(path, 0, 0, std::string("cannot read: ") + std::strerror(error));
  }
  return parse_web_config(text, path, std::filesystem::path(path).parent_path().string());
}

}  // namespace memledger
