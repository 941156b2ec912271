#pragma once
// --web.config.file: TLS and basic auth, in the format of Prometheus' exporter-toolkit so
// that one file serves node_exporter and this exporter alike. Parsing is pure; loading
// certificates happens where the TLS context is built (exporter/tls_context.h).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace memledger {

// Go's tls.ClientAuthType, by the names exporter-toolkit uses.
enum class ClientAuth {
  none,                // NoClientCert
  request,             // RequestClientCert: asked for, neither required nor verified
  require_any,         // RequireAnyClientCert: required, not verified
  verify_if_given,     // VerifyClientCertIfGiven
  require_and_verify,  // RequireAndVerifyClientCert
};

struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // empty: none
  ClientAuth client_auth = ClientAuth::none;
  std::uint16_t min_version = 0x0303;  // wire version numbers: 0x0301 TLS 1.0 ... 0x0304 TLS 1.3
  std::uint16_t max_version = 0;       // 0: the newest the library supports
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;  // absent: plain HTTP
  // user -> bcrypt hash; empty: no authentication.
  std::map<std::string, std::string, std::less<>> basic_auth_users;
};

// Parses the YAML text; relative file names are resolved against `base_directory` (the
// config file's directory, as exporter-toolkit does). Throws ConfigError naming `source`,
// line and column for unknown keys, wrong types and inconsistent settings.
WebConfig parse_web_config(std::string_view yaml, std::string_view source,
                           std::string_view base_directory);

// Reads and parses a file; throws ConfigError (also when it cannot be read).
WebConfig load_web_config_file(const std::string& path);

// "TLS12" and friends, for log lines.
std::string_view tls_version_name(std::uint16_t version);

}  // namespace memledger
