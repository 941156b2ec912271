#pragma once
// HTTPS in front of the embedded civetweb server.
//
// Debian's civetweb 1.15 loads OpenSSL at run time through a function table written for
// the OpenSSL 1.1 API. Bookworm ships OpenSSL 3, where SSL_get_peer_certificate is no
// longer an exported symbol (it became SSL_get1_peer_certificate): civetweb starts, then
// calls a null pointer on the first HTTPS request. So TLS is terminated here, with
// OpenSSL 3 linked at build time, and each decrypted connection is relayed to civetweb
// listening on a loopback port. civetweb keeps doing HTTP (timeouts, workers, parsing);
// this file only does TLS. The loopback listener only serves connections this relay
// opened (relays_from), so local users cannot use it to skip client-certificate checks.
#include <openssl/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "exporter/web_config.h"

namespace memledger {

// An SSL_CTX with the certificate, key, client-certificate policy and protocol versions
// of `config`. Throws ConfigError naming the file that cannot be loaded.
std::shared_ptr<SSL_CTX> make_tls_context(const TlsServerConfig& config);

// Opens a listening TCP socket for node_exporter-style "[host]:port" (":port" listens on
// every address, IPv6 and IPv4). Throws std::runtime_error.
int open_listener(const std::string& listen_address);

class TlsFront {
 public:
  struct Options {
    std::string listen_address;
    int backend_port = 0;             // civetweb's port on 127.0.0.1
    int handshake_timeout_ms = 10'000;  // also bounds the wait for a request's first bytes
    int max_connections = 128;        // beyond this, connections wait in the listen backlog
  };

  // Binds at once (throws std::runtime_error) and serves until destroyed.
  TlsFront(Options options, std::shared_ptr<SSL_CTX> context);
  ~TlsFront();
  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  // New handshakes use `context` (reloaded certificates); open connections keep theirs.
  void set_context(std::shared_ptr<SSL_CTX> context);

  int port() const { return port_; }

  // True when 127.0.0.1:`local_port` is the source of a connection this relay opened.
  bool relays_from(int local_port) const;

 private:
  class Relay;
  void accept_loop();
  void serve(int client_fd);
  std::shared_ptr<SSL_CTX> context() const;

  Options options_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: readable once the front is shutting down
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::shared_ptr<SSL_CTX> context_;
  int active_ = 0;  // connection threads running
  bool stopping_ = false;
  std::set<int> relay_ports_;
  std::thread acceptor_;
};

}  // namespace memledger
