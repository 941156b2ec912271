#include <catch2/catch.hpp>

#include "collectors/registry.h"
#include "sample_lookup.h"
#include "config/config.h"
#include "exporter/basic_auth.h"
#include "exporter/cli.h"
#include "exporter/web_config.h"

using namespace memledger;

namespace {

// bcrypt (cost 10) of "s3cret", made with libxcrypt.
constexpr const char* kHash = "$2b$10$53fjLy8Z6civSrTn7DQJSu48JI3.EXdyVc1L9BC4CCMdLzYhXrU6S";

ConfigError web_config_error(std::string_view yaml) {
  try {
    parse_web_config(yaml, "web.yml", "/etc/memledger");
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError for:\n" << yaml);
  return ConfigError("", 0, 0, "");
}

}  // namespace

TEST_CASE("parse_web_config reads the exporter-toolkit format") {
  auto config = parse_web_config(
      "tls_server_config:\n"
      "  cert_file: server.crt\n"
      "  key_file: /abs/server.key\n"
      "  client_ca_file: ca.crt\n"
      "  client_auth_type: RequireAndVerifyClientCert\n"
      "  min_version: TLS13\n"
      "basic_auth_users:\n"
      "  prometheus: " + std::string(kHash) + "\n",
      "web.yml", "/etc/memledger");
  REQUIRE(config.tls);
  CHECK(config.tls->cert_file == "/etc/memledger/server.crt");  // relative to the file
  CHECK(config.tls->key_file == "/abs/server.key");
  CHECK(config.tls->client_ca_file == "/etc/memledger/ca.crt");
  CHECK(config.tls->client_auth == ClientAuth::require_and_verify);
  CHECK(config.tls->min_version == 0x0304);
  CHECK(config.basic_auth_users.at("prometheus") == kHash);
}

TEST_CASE("parse_web_config: an empty file or empty TLS section means plain HTTP") {
  CHECK_FALSE(parse_web_config("", "web.yml", "").tls);
  CHECK_FALSE(parse_web_config("tls_server_config: {}\n", "web.yml", "").tls);
  auto config = parse_web_config("tls_server_config:\n  cert_file: a\n  key_file: b\n", "w", "");
  REQUIRE(config.tls);
  CHECK(config.tls->min_version == 0x0303);  // TLS12, as exporter-toolkit defaults
  CHECK(config.tls->client_auth == ClientAuth::none);
}

TEST_CASE("parse_web_config errors name the line and column") {
  auto e = web_config_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_versoin: TLS12\n");
  CHECK(e.source() == "web.yml");
  CHECK(e.line() == 4);
  CHECK(e.column() == 3);
  CHECK_THAT(e.reason(), Catch::Contains("min_versoin"));

  e = web_config_error("basic_auth_users:\n  alice: plaintext\n");
  CHECK(e.line() == 2);
  CHECK(e.column() == 10);
  CHECK_THAT(e.reason(), Catch::Contains("bcrypt"));

  e = web_config_error("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: SSL3\n");
  CHECK(e.line() == 4);
  CHECK_THAT(e.reason(), Catch::Contains("TLS10"));

  e = web_config_error("tls_server_config: [\n");  // YAML syntax
  CHECK(e.line() >= 1);
}

TEST_CASE("parse_web_config rejects inconsistent TLS settings") {
  CHECK_THAT(web_config_error("tls_server_config:\n  cert_file: a\n").reason(),
             Catch::Contains("key_file"));
  CHECK_THAT(web_config_error("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                              "  client_auth_type: RequireAndVerifyClientCert\n")
                 .reason(),
             Catch::Contains("client_ca_file"));
  CHECK_THAT(web_config_error("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                              "  client_ca_file: ca\n")
                 .reason(),
             Catch::Contains("does not verify"));
  CHECK_THAT(web_config_error("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                              "  min_version: TLS13\n  max_version: TLS12\n")
                 .reason(),
             Catch::Contains("older"));
  CHECK_THAT(web_config_error("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                              "  client_auth_type: Sometimes\n")
                 .reason(),
             Catch::Contains("RequireAndVerifyClientCert"));
}

TEST_CASE("parse_web_config says which exporter-toolkit keys are not supported") {
  auto e = web_config_error("http_server_config:\n  http2: false\n");
  CHECK_THAT(e.reason(), Catch::Contains("not supported"));
  e = web_config_error("basic_auth_users:\n  a: " + std::string(kHash) + "\n  a: " + kHash + "\n");
  CHECK(e.line() == 3);
  CHECK_THAT(e.reason(), Catch::Contains("duplicate"));
}

TEST_CASE("base64_decode is strict RFC 4648") {
  CHECK(base64_decode("") == "");
  CHECK(base64_decode("YQ==") == "a");
  CHECK(base64_decode("YWI=") == "ab");
  CHECK(base64_decode("YWJj") == "abc");
  CHECK(base64_decode("YWxpY2U6czNjcmV0") == "alice:s3cret");
  CHECK_FALSE(base64_decode("YQ="));       // length not a multiple of 4
  CHECK_FALSE(base64_decode("Y===="));     // too much padding
  CHECK_FALSE(base64_decode("YQ==YWJj"));  // data after padding
  CHECK_FALSE(base64_decode("YW J"));
  CHECK_FALSE(base64_decode("=YWJ"));
}

TEST_CASE("parse_basic_authorization splits user and password at the first colon") {
  auto c = parse_basic_authorization("Basic YWxpY2U6czNjcmV0");
  REQUIRE(c);
  CHECK(c->user == "alice");
  CHECK(c->password == "s3cret");
  c = parse_basic_authorization("basic  YTpiOmM= ");  // scheme is case-insensitive
  REQUIRE(c);
  CHECK(c->user == "a");
  CHECK(c->password == "b:c");
  CHECK_FALSE(parse_basic_authorization("Bearer YWxpY2U6czNjcmV0"));
  CHECK_FALSE(parse_basic_authorization("Basic"));
  CHECK_FALSE(parse_basic_authorization("Basic YWxpY2U="));  // no colon
  CHECK_FALSE(parse_basic_authorization("Basic !!!!"));
}

TEST_CASE("BasicAuthenticator checks bcrypt hashes with libcrypt") {
  using Users = std::map<std::string, std::string, std::less<>>;
  BasicAuthenticator auth(Users{{"alice", kHash}});
  CHECK(auth.enabled());
  CHECK(auth.check({"alice", "s3cret"}));
  CHECK(auth.check({"alice", "s3cret"}));  // from the cache
  CHECK_FALSE(auth.check({"alice", "wrong"}));
  CHECK_FALSE(auth.check({"alice", ""}));
  CHECK_FALSE(auth.check({"bob", "s3cret"}));  // the decoy hash's password, unknown user
  CHECK_FALSE(BasicAuthenticator(Users{}).enabled());
}

TEST_CASE("parse_duration_ms takes ms, s and m") {
  CHECK(parse_duration_ms("500ms") == 500u);
  CHECK(parse_duration_ms("10s") == 10'000u);
  CHECK(parse_duration_ms("2m") == 120'000u);
  CHECK_FALSE(parse_duration_ms("10"));
  CHECK_FALSE(parse_duration_ms("s"));
  CHECK_FALSE(parse_duration_ms("1.5s"));
  CHECK_FALSE(parse_duration_ms("99999999999999999999s"));
}

TEST_CASE("yaml-cpp's own exceptions come out of both parsers as ConfigError") {
  // A mapping as a key made yaml-cpp's string conversion throw past parse_config and
  // abort the daemon (found by tests/fuzz/parse_config_fuzz.cpp).
  for (std::string_view yaml : {"[a]: 1\n", "collectors:\n  [a]: 1\n", "{a: b}: c\n"}) {
    CHECK_THROWS_AS(parse_exporter_config(yaml, "c.yml"), ConfigError);
    CHECK_THROWS_AS(parse_web_config(yaml, "w.yml", ""), ConfigError);
  }
}

TEST_CASE("parse_cli takes --web.config.file and --web.request-timeout") {
  auto cli = parse_cli({"--web.config.file=/etc/web.yml", "--web.request-timeout", "750ms"});
  REQUIRE(cli.error.empty());
  CHECK(cli.options.web_config_file == "/etc/web.yml");
  CHECK(cli.options.http.request_timeout_ms == 750);
  CHECK_FALSE(parse_cli({"--web.request-timeout=10"}).error.empty());   // no unit
  CHECK_FALSE(parse_cli({"--web.request-timeout=50ms"}).error.empty()); // below 100ms
  CHECK_FALSE(parse_cli({"--web.config.file"}).error.empty());          // no value
}

TEST_CASE("parse_cli takes --web.max-connections") {
  auto cli = parse_cli({"--web.max-connections=10000"});
  REQUIRE(cli.error.empty());
  CHECK(cli.options.http.max_connections == 10000);
  CHECK(parse_cli({}).options.http.max_connections == 4096);
  CHECK_FALSE(parse_cli({"--web.max-connections=8"}).error.empty());  // below 16
  CHECK_FALSE(parse_cli({"--web.max-connections=many"}).error.empty());
}
