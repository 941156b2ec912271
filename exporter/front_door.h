#pragma once
// The one front door for HTTP and HTTPS: an event loop (standalone asio, one thread)
// that accepts every connection on the public port, holds idle and slow clients for a
// few hundred bytes each (TLS handshake, request head, keep-alive), and hands only
// complete requests to civetweb's workers, which listen on a loopback port.
//
// Per connection: the TLS handshake and the request head (and a Content-Length body)
// must be complete within `request_timeout_ms` of the accept; an idle keep-alive
// connection is closed after `keep_alive_timeout_ms`; a request larger than
// `max_request_bytes` gets 431 (413 for its body). At `max_connections`, a new connection
// closes the oldest one still waiting for a request, so held connections cannot lock
// scrapes out. Each complete request goes to civetweb on a fresh loopback connection
// (non-blocking connect, same deadline); its response is relayed whole, then that
// connection is closed so the worker is free at once. civetweb answers only connections
// opened here (relays_from), so local users cannot use its port to skip TLS or limits.
#include <openssl/types.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace memledger {

class MetricSink;
struct MetricFamilyDecl;

// The memledger_http_* families FrontDoorStats::emit adds to every scrape.
const std::vector<const MetricFamilyDecl*>& front_door_families();

// What the front door counts: written by its loop, read by scrapes.
struct FrontDoorStats {
  enum State { idle, handshake, reading, active, closing, kStates };
  enum Refusal { limit, timeout, head_too_large, tls_failure, bad_request, backend_unavailable,
                 kRefusals };
  std::array<std::atomic<std::int64_t>, kStates> connections{};
  std::array<std::atomic<std::uint64_t>, kRefusals> refused{};
  std::atomic<std::uint64_t> accepted{0};
  int max_connections = 0;
  std::mutex codes_mutex;
  std::map<int, std::uint64_t> requests_by_code;  // responses sent, by HTTP status

  void count_response(int status);
  // memledger_http_* families.
  void emit(MetricSink& sink);
};

class FrontDoor {
 public:
  struct Options {
    std::string listen_address;  // node_exporter style "[host]:port"
    int backend_port = 0;        // civetweb on 127.0.0.1
    int request_timeout_ms = 10'000;
    int keep_alive_timeout_ms = 1'000;
    int max_connections = 4'096;
    std::size_t max_request_bytes = 8'192;
  };

  // Binds at once (throws std::runtime_error) and serves until destroyed. `tls` null:
  // plain HTTP.
  FrontDoor(Options options, std::shared_ptr<SSL_CTX> tls);
  ~FrontDoor();
  FrontDoor(const FrontDoor&) = delete;
  FrontDoor& operator=(const FrontDoor&) = delete;

  // New handshakes use `context` (reloaded certificates); open connections keep theirs.
  void set_context(std::shared_ptr<SSL_CTX> context);

  int port() const;
  const std::shared_ptr<FrontDoorStats>& stats() const;

  // True when 127.0.0.1:`local_port` is the source of a connection the front door opened.
  bool relays_from(int local_port) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Opens a listening TCP socket for node_exporter-style "[host]:port" (":port" listens on
// every address, IPv6 and IPv4). Throws std::runtime_error.
int open_listener(const std::string& listen_address);

// Raises the soft RLIMIT_NOFILE to the hard limit where allowed (a sandbox may forbid
// setrlimit); returns the soft limit in force.
std::uint64_t raise_fd_limit();

// `requested` connections, fewer if they would not leave room within `fd_limit` for
// civetweb's `workers` (3 descriptors per request in flight: client, relay, civetweb's
// side) and the collectors' files.
int connections_within_fd_limit(int requested, std::uint64_t fd_limit, int workers);

}  // namespace memledger
