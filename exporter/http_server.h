#pragma once
// The embedded HTTP server (civetweb): the metrics page, a landing page at "/", 404
// elsewhere. Serves the text format, gzipped when the client accepts gzip.
#include <memory>
#include <string>
#include <vector>

#include "exporter/scrape.h"

class CivetServer;
class CivetHandler;

namespace memledger {

struct HttpOptions {
  std::string listen_address = ":9747";  // node_exporter style: [host]:port
  std::string telemetry_path = "/metrics";
  int max_requests = 8;             // worker threads: requests served at once
  int request_timeout_ms = 10'000;  // slow or idle clients are dropped after this
};

// node_exporter's ":9747" / "host:port" / "[v6]:port" to civetweb's listening_ports.
std::string civetweb_listening_port(const std::string& listen_address);

// Gzip (RFC 1952) of `data` with zlib; exposed for tests.
std::string gzip_compress(const std::string& data);

class HttpServer {
 public:
  // Starts listening at once; throws std::runtime_error when the address cannot be bound.
  HttpServer(const HttpOptions& options, ScrapeRunner& runner);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The ports actually bound (useful with port 0).
  std::vector<int> listening_ports();

 private:
  std::unique_ptr<CivetHandler> handler_;
  std::unique_ptr<CivetServer> server_;
};

}  // namespace memledger
