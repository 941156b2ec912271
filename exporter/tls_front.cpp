#include "exporter/tls_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "config/config.h"
#include "exporter/logging.h"

namespace memledger {

namespace {

using Clock = std::chrono::steady_clock;

// Reclaims a relayed connection that neither side has used for this long. civetweb
// enforces the request and keep-alive timeouts itself; a scrape may take a while to
// collect with no bytes moving, so this is only a safety net.
constexpr auto kRelayIdleTimeout = std::chrono::minutes(2);

// What Go's net/http answers to plain HTTP on a TLS port; never metrics.
constexpr std::string_view kPlainHttpOnTlsPort =
    "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    "\r\nClient sent an HTTP request to an HTTPS server.\n";

std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

int milliseconds_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Accepts whatever certificate the client sends (RequestClientCert, RequireAnyClientCert).
int accept_any_certificate(int, X509_STORE_CTX*) { return 1; }

}  // namespace

std::shared_ptr<SSL_CTX> make_tls_context(const TlsServerConfig& config) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) throw std::runtime_error("SSL_CTX_new: " + openssl_errors());
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx.get(), config.min_version) != 1 ||
      (config.max_version && SSL_CTX_set_max_proto_version(ctx.get(), config.max_version) != 1)) {
    throw ConfigError(config.cert_file, 0, 0, "unsupported TLS version: " + openssl_errors());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), config.cert_file.c_str()) != 1) {
    throw ConfigError(config.cert_file, 0, 0, "cannot load the certificate: " + openssl_errors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw ConfigError(config.key_file, 0, 0, "cannot load the private key: " + openssl_errors());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    throw ConfigError(config.key_file, 0, 0,
                      "the private key does not match the certificate " + config.cert_file);
  }
  if (!config.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), config.client_ca_file.c_str(), nullptr) != 1) {
      throw ConfigError(config.client_ca_file, 0, 0,
                        "cannot load the client CA certificates: " + openssl_errors());
    }
    // Tells clients which CAs are accepted, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx.get(), names);
    }
  }
  switch (config.client_auth) {
    case ClientAuth::none:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::request:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, accept_any_certificate);
      break;
    case ClientAuth::require_any:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         accept_any_certificate);
      break;
    case ClientAuth::verify_if_given:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::require_and_verify:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  // Session resumption with client certificates needs a context id, else OpenSSL refuses
  // resumed sessions.
  static constexpr unsigned char kSessionContext[] = "memledger_exporter";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

int open_listener(const std::string& listen_address) {
  std::string host;
  std::string port;
  if (!listen_address.empty() && listen_address.front() == '[') {
    auto close = listen_address.find("]:");
    if (close == std::string::npos) throw std::runtime_error("bad address " + listen_address);
    host = listen_address.substr(1, close - 1);
    port = listen_address.substr(close + 2);
  } else {
    auto colon = listen_address.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("bad address " + listen_address);
    host = listen_address.substr(0, colon);
    port = listen_address.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  // No host: IPv6 "any", which also accepts IPv4 once IPV6_V6ONLY is off; IPv4 if the
  // kernel has no IPv6.
  hints.ai_family = host.empty() ? AF_INET6 : AF_UNSPEC;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 && host.empty()) {
    hints.ai_family = AF_INET;
    rc = getaddrinfo(nullptr, port.c_str(), &hints, &found);
  }
  if (rc != 0) throw std::runtime_error(listen_address + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    int zero = 0;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6 && host.empty()) {
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), 128) != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    return fd.release();
  }
  throw std::runtime_error("cannot listen on " + listen_address + ": " + last_error);
}

// One client's TLS session relayed to one civetweb connection.
class TlsFront::Relay {
 public:
  Relay(TlsFront& front, SSL* ssl, int client) : front_(front), ssl_(ssl), client_(client) {}
  ~Relay() {
    if (backend_port_) {
      std::lock_guard lock(front_.mutex_);
      front_.relay_ports_.erase(backend_port_);
    }
  }

  void run() {
    auto timeout = std::chrono::milliseconds(front_.options_.handshake_timeout_ms);
    auto deadline = Clock::now() + timeout;
    for (;;) {
      bool progress = false;
      short client_events = 0;
      short backend_events = 0;
      if (!client_eof_ && to_backend_.empty()) {
        int n = SSL_read(ssl_, buffer_up_, sizeof buffer_up_);
        if (n > 0) {
          to_backend_ = std::string_view(buffer_up_, static_cast<std::size_t>(n));
          progress = true;
        } else if (!want(SSL_get_error(ssl_, n), client_events, &client_eof_)) {
          return;
        }
      }
      if (!to_backend_.empty()) {
        if (!backend_ && !connect_backend()) return;
        ssize_t n = ::send(backend_.get(), to_backend_.data(), to_backend_.size(), MSG_NOSIGNAL);
        if (n > 0) {
          to_backend_.remove_prefix(static_cast<std::size_t>(n));
          progress = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          backend_events |= POLLOUT;
        } else {
          return;
        }
      }
      if (client_eof_ && to_backend_.empty()) {
        if (!backend_) return;  // the client left without asking anything
        if (!backend_write_shut_) {
          ::shutdown(backend_.get(), SHUT_WR);
          backend_write_shut_ = true;
        }
      }
      if (backend_ && !backend_eof_ && to_client_.empty()) {
        ssize_t n = ::recv(backend_.get(), buffer_down_, sizeof buffer_down_, 0);
        if (n > 0) {
          to_client_ = std::string_view(buffer_down_, static_cast<std::size_t>(n));
          progress = true;
        } else if (n == 0) {
          backend_eof_ = true;
          progress = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          backend_events |= POLLIN;
        } else {
          return;
        }
      }
      if (!to_client_.empty()) {
        int n = SSL_write(ssl_, to_client_.data(), static_cast<int>(to_client_.size()));
        if (n > 0) {
          to_client_.remove_prefix(static_cast<std::size_t>(n));
          progress = true;
        } else if (bool eof = false; !want(SSL_get_error(ssl_, n), client_events, &eof) || eof) {
          return;
        }
      }
      if (backend_eof_ && to_client_.empty()) {
        SSL_shutdown(ssl_);  // best effort close_notify; the socket closes either way
        return;
      }
      if (progress) {
        deadline = Clock::now() + (backend_ ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  kRelayIdleTimeout)
                                            : timeout);
        continue;
      }
      pollfd fds[3] = {{client_, client_events, 0},
                       {backend_ ? backend_.get() : -1, backend_events, 0},
                       {front_.stop_fd_, POLLIN, 0}};
      int ready = ::poll(fds, 3, milliseconds_until(deadline));
      if (ready == 0 || (ready < 0 && errno != EINTR) || fds[2].revents) return;
    }
  }

 private:
  // Turns an SSL error into the socket event to wait for; false when the session is over.
  bool want(int ssl_error, short& events, bool* eof) {
    switch (ssl_error) {
      case SSL_ERROR_WANT_READ: events |= POLLIN; return true;
      case SSL_ERROR_WANT_WRITE: events |= POLLOUT; return true;
      case SSL_ERROR_ZERO_RETURN: *eof = true; return true;
      default: ERR_clear_error(); return false;
    }
  }

  bool connect_backend() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sockaddr_in remote = local;
    remote.sin_port = htons(static_cast<std::uint16_t>(front_.options_.backend_port));
    // Bound to 127.0.0.1 explicitly: relays_from() trusts 127.0.0.1:port pairs only, and
    // no other socket can hold the same pair towards the backend at the same time.
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return false;
    socklen_t length = sizeof local;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &length) != 0) return false;
    {
      std::lock_guard lock(front_.mutex_);
      backend_port_ = ntohs(local.sin_port);
      front_.relay_ports_.insert(backend_port_);
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
      return false;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
    backend_ = std::move(fd);
    return true;
  }

  TlsFront& front_;
  SSL* ssl_;
  int client_;
  UniqueFd backend_;
  int backend_port_ = 0;
  bool client_eof_ = false;
  bool backend_eof_ = false;
  bool backend_write_shut_ = false;
  std::string_view to_backend_;
  std::string_view to_client_;
  char buffer_up_[16 * 1024];
  char buffer_down_[16 * 1024];
};

TlsFront::TlsFront(Options options, std::shared_ptr<SSL_CTX> context)
    : options_(std::move(options)), context_(std::move(context)) {
  listen_fd_ = open_listener(options_.listen_address);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    ::close(listen_fd_);
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
  acceptor_ = std::thread([this] { accept_loop(); });
}

TlsFront::~TlsFront() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  changed_.notify_all();
  acceptor_.join();
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return active_ == 0; });
  }
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void TlsFront::set_context(std::shared_ptr<SSL_CTX> context) {
  std::lock_guard lock(mutex_);
  context_ = std::move(context);
}

std::shared_ptr<SSL_CTX> TlsFront::context() const {
  std::lock_guard lock(mutex_);
  return context_;
}

bool TlsFront::relays_from(int local_port) const {
  std::lock_guard lock(mutex_);
  return relay_ports_.count(local_port) > 0;
}

void TlsFront::accept_loop() {
  bool logged_exhaustion = false;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || active_ < options_.max_connections; });
      if (stopping_) return;
    }
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 || fds[1].revents) {
      if (errno == EINTR) continue;
      return;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        if (!logged_exhaustion) {
          log_event(spdlog::level::err, "cannot accept HTTPS connections",
                    {{"err", std::strerror(errno)}});
          logged_exhaustion = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    logged_exhaustion = false;
    {
      std::lock_guard lock(mutex_);
      ++active_;
    }
    try {
      std::thread([this, fd] {
        serve(fd);
        // Last touch of *this: the destructor waits for active_ to reach 0 under mutex_.
        std::lock_guard lock(mutex_);
        --active_;
        changed_.notify_all();
      }).detach();
    } catch (const std::system_error&) {  // no thread: refuse this one connection
      ::close(fd);
      std::lock_guard lock(mutex_);
      --active_;
    }
  }
}

void TlsFront::serve(int client_fd) {
  UniqueFd client(client_fd);
  int one = 1;
  ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto deadline = Clock::now() + std::chrono::milliseconds(options_.handshake_timeout_ms);
  auto wait_for = [&](short events) {
    pollfd fds[2] = {{client.get(), events, 0}, {stop_fd_, POLLIN, 0}};
    for (;;) {
      int ready = ::poll(fds, 2, milliseconds_until(deadline));
      if (ready < 0 && errno == EINTR) continue;
      return ready > 0 && !fds[1].revents;
    }
  };

  // A TLS connection starts with a handshake record (type 22). Anything else that looks
  // like text is a plain HTTP client on the TLS port: tell it so and close.
  unsigned char first = 0;
  if (!wait_for(POLLIN) || ::recv(client.get(), &first, 1, MSG_PEEK) != 1) return;
  if (first != 22) {
    if (first >= 'A' && first <= 'Z') {
      // Consume what arrived so that closing sends FIN, not a reset that hides the answer.
      char discard[4096];
      (void)!::recv(client.get(), discard, sizeof discard, 0);
      (void)!::send(client.get(), kPlainHttpOnTlsPort.data(), kPlainHttpOnTlsPort.size(),
                    MSG_NOSIGNAL);
      ::shutdown(client.get(), SHUT_WR);
    }
    return;
  }

  SslPtr ssl(SSL_new(context().get()));
  if (!ssl || SSL_set_fd(ssl.get(), client.get()) != 1) {
    ERR_clear_error();
    return;
  }
  for (;;) {
    int rc = SSL_accept(ssl.get());
    if (rc == 1) break;
    int error = SSL_get_error(ssl.get(), rc);
    short events = error == SSL_ERROR_WANT_READ ? POLLIN : error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (events == 0) {
      // Scanners and clients with the wrong certificate end here; debug only, not a flood.
      log_event(spdlog::level::debug, "TLS handshake failed", {{"err", openssl_errors()}});
      return;
    }
    if (!wait_for(events)) return;
  }
  Relay(*this, ssl.get(), client.get()).run();
}

}  // namespace memledger
