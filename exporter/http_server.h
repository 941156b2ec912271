#pragma once
// The embedded HTTP server (civetweb): the metrics page, a landing page at "/", 404
// elsewhere. Serves the text format, gzipped when the client accepts gzip. With a web
// config: HTTP basic auth on every page, and HTTPS. civetweb listens on loopback behind
// the front door (exporter/front_door.h), which owns the public port in both schemes.
#include <openssl/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exporter/basic_auth.h"
#include "exporter/scrape.h"
#include "exporter/web_config.h"

class CivetServer;
class CivetHandler;

namespace memledger {

class FrontDoor;

struct HttpOptions {
  std::string listen_address = ":9747";  // node_exporter style: [host]:port
  std::string telemetry_path = "/metrics";
  int max_requests = 8;             // worker threads: requests served at once
  int request_timeout_ms = 10'000;  // slow or idle clients are dropped after this
  int max_connections = 4'096;      // client connections held; lowered to fit the fd limit
};

// Gzip (RFC 1952) of `data` with zlib; exposed for tests.
std::string gzip_compress(const std::string& data);

// A web config made ready to serve: certificates loaded, authenticator built. Building
// it is the part of a reload that can fail; swapping it in cannot.
struct WebSecurity {
  std::shared_ptr<BasicAuthenticator> auth;
  std::shared_ptr<SSL_CTX> tls;  // null: plain HTTP
};

// Throws ConfigError (unreadable certificate or key, mismatched pair, bad CA file).
WebSecurity prepare_web_security(const WebConfig& config);

class HttpServer {
 public:
  // Starts listening at once; throws std::runtime_error when the address cannot be bound.
  HttpServer(const HttpOptions& options, WebSecurity security, ScrapeRunner& runner);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Reload: new credentials at once, new certificates for new connections. Turning TLS
  // on or off needs a restart (the port changes hands): throws ConfigError naming
  // `source` and changes nothing.
  void update_security(WebSecurity security, const std::string& source);

  // The public ports actually bound (useful with port 0).
  std::vector<int> listening_ports();
  bool tls() const { return tls_; }
  // Client connections held at most: --web.max-connections within the fd limit.
  int max_connections() const;

 private:
  bool tls_;
  std::unique_ptr<CivetHandler> handler_;
  std::unique_ptr<CivetServer> server_;
  std::unique_ptr<FrontDoor> front_;
};

}  // namespace memledger
