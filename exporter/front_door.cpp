#include "exporter/front_door.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include "collectors/metric_sink.h"
#include "exporter/http_head.h"
#include "exporter/logging.h"
#include "exporter/openssl_library.h"
#include "exporter/tls_context.h"

namespace memledger {

namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;
using Wait = asio::socket_base::wait_type;

// A relayed request with no byte moving for this long is dropped. Not shorter: a scrape
// may take a while to collect before its first byte.
constexpr auto kRelayIdleTimeout = std::chrono::minutes(2);
// How long a closing connection is drained so that closing sends FIN, not a reset that
// would destroy the response it was just sent.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
// Responses are relayed through a buffer allocated only while one is in flight.
constexpr std::size_t kRelayBufferBytes = 16 * 1024;
// A closing connection reads and drops at most this much of what its client still sends.
constexpr std::size_t kMaxDrainBytes = 1 << 20;
// After running out of descriptors, accept() is retried this often.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
// Connections accepted before the loop serves the others again.
constexpr int kAcceptBatch = 64;

// What Go's net/http answers to plain HTTP on a TLS port; never metrics.
constexpr std::string_view kPlainHttpOnTlsPort =
    "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    "\r\nClient sent an HTTP request to an HTTPS server.\n";

constexpr std::string_view kStateNames[] = {"idle", "handshake", "reading", "active", "closing"};
constexpr std::string_view kRefusalNames[] = {"limit", "timeout", "head_too_large", "tls_failure",
                                              "bad_request", "backend_unavailable"};

std::string error_response(int status, std::string_view reason, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + std::string(body);
}

struct SslDeleter {
  void operator()(SSL* ssl) const { openssl().SSL_free(ssl); }
};

enum class Io { done, want_read, want_write, eof, error };

}  // namespace

void FrontDoorStats::count_response(int status) {
  std::lock_guard lock(codes_mutex);
  ++requests_by_code[status];
}

namespace {

const MetricFamilyDecl kHttpConnections{
    "memledger_http_connections", MetricType::Gauge,
    "Client connections open on the web port, by state: idle (no request yet, or kept "
    "alive), handshake (TLS), reading (part of a request head), active (the request at a "
    "worker, its response in flight), closing.",
    {"state"}};
const MetricFamilyDecl kHttpMaxConnections{
    "memledger_http_max_connections", MetricType::Gauge,
    "Client connections held at most (--web.max-connections, within the fd limit).", {}};
const MetricFamilyDecl kHttpConnectionsAccepted{
    "memledger_http_connections_accepted_total", MetricType::Counter,
    "Client connections accepted on the web port since start.", {}};
const MetricFamilyDecl kHttpConnectionsRefused{
    "memledger_http_connections_refused_total", MetricType::Counter,
    "Client connections closed without a request served, by reason: limit (closed for a "
    "newer one at --web.max-connections), timeout (no complete request within "
    "--web.request-timeout), head_too_large, tls_failure, bad_request (unframable body), "
    "backend_unavailable (no worker reachable).",
    {"reason"}};
const MetricFamilyDecl kHttpRequests{
    "memledger_http_requests_total", MetricType::Counter, "HTTP responses sent, by status code.",
    {"code"}};

}  // namespace

const std::vector<const MetricFamilyDecl*>& front_door_families() {
  static const std::vector<const MetricFamilyDecl*> families = {
      &kHttpConnections, &kHttpMaxConnections, &kHttpConnectionsAccepted, &kHttpConnectionsRefused,
      &kHttpRequests};
  return families;
}

void FrontDoorStats::emit(MetricSink& sink) {
  for (int s = 0; s < kStates; ++s) {
    sink.emit(kHttpConnections, {kStateNames[s]}, static_cast<double>(connections[s].load()));
  }
  sink.emit(kHttpMaxConnections, {}, max_connections);
  sink.emit(kHttpConnectionsAccepted, {}, static_cast<double>(accepted.load()));
  for (int r = 0; r < kRefusals; ++r) {
    sink.emit(kHttpConnectionsRefused, {kRefusalNames[r]}, static_cast<double>(refused[r].load()));
  }
  std::lock_guard lock(codes_mutex);
  for (const auto& [code, count] : requests_by_code) {
    std::string label = std::to_string(code);
    sink.emit(kHttpRequests, {label}, static_cast<double>(count));
  }
}

class FrontDoor::Impl {
 public:
  Impl(Options options, std::shared_ptr<SSL_CTX> tls);
  ~Impl();

  class Connection;
  Options options_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_{io_};
  int port_ = 0;
  const bool tls_enabled_;
  std::shared_ptr<SSL_CTX> tls_;  // loop thread only
  std::shared_ptr<FrontDoorStats> stats_ = std::make_shared<FrontDoorStats>();
  std::array<std::atomic<std::uint64_t>, 65536 / 64> relay_ports_{};  // a bit per port
  std::list<std::shared_ptr<Connection>> connections_;  // oldest first
  bool accept_exhausted_ = false;   // accept() ran out of descriptors (logged once)
  bool connect_exhausted_ = false;  // so did a connection to civetweb
  char scratch_[16 * 1024];  // what one read from a client brings, before it is kept
  std::thread thread_;

  void wait_accept();
  void accept_ready();
  void admit(int fd);
  bool evict_oldest_waiting();
  void mark_relay_port(int port, bool in_use) {
    std::uint64_t bit = std::uint64_t{1} << (port % 64);
    if (in_use) {
      relay_ports_[port / 64].fetch_or(bit);
    } else {
      relay_ports_[port / 64].fetch_and(~bit);
    }
  }
};

// One client connection, from accept to close. Runs on the loop thread only. step() does
// all it can without blocking and arms the waits it needs; every wake-up calls it again.
class FrontDoor::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  using State = FrontDoorStats::State;

  Connection(Impl& door, int fd) : door_(door), client_(door.io_), backend_(door.io_), timer_(door.io_) {
    asio::error_code error;
    client_.assign(fd_protocol(fd), fd, error);
  }

  // False when the loop could not take the descriptor (it is still the caller's).
  bool open() const { return client_.is_open(); }
  ~Connection() { close(); }

  void start(std::list<std::shared_ptr<Connection>>::iterator position) {
    position_ = position;
    set_state(State::idle);
    set_deadline(Clock::now() + std::chrono::milliseconds(door_.options_.request_timeout_ms));
    step();
  }

  State state() const { return state_; }

  void refuse(FrontDoorStats::Refusal reason) { ++door_.stats_->refused[reason]; }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (started_) --door_.stats_->connections[state_];
    close_backend();
    ssl_.reset();
    asio::error_code ignored;
    timer_.cancel();
    client_.close(ignored);
    door_.connections_.erase(position_);  // may drop the last owner but one: the caller's
  }

 private:
  static tcp fd_protocol(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
  }

  void set_state(State next) {
    if (started_) --door_.stats_->connections[state_];
    started_ = true;
    state_ = next;
    ++door_.stats_->connections[state_];
  }

  void step() {
    for (bool again = true; again && !closed_;) {
      switch (state_) {
        case State::idle:
        case State::handshake:
        case State::reading: again = receive(); break;
        case State::active: again = relay(); break;
        case State::closing: again = linger(); break;
        default: again = false;
      }
    }
  }

  // --- Waiting: every wait is armed after an operation said EAGAIN (asio's epoll is
  // edge-triggered), at most one per socket and direction.

  void wait_client(Wait type) {
    wait(client_, type, type == Wait::wait_read ? client_read_ : client_write_, client_generation_);
  }
  void wait_backend(Wait type) {
    wait(backend_, type, type == Wait::wait_read ? backend_read_ : backend_write_, backend_generation_);
  }
  // `generation` changes when the socket is closed for another one (the backend after each
  // request): a wait on the old one then neither clears the flags of the new one nor steps.
  void wait(tcp::socket& socket, Wait type, bool& pending, const std::uint64_t& generation) {
    if (pending) return;
    pending = true;
    socket.async_wait(type, [self = shared_from_this(), &pending, &generation,
                             armed = generation](const asio::error_code&) {
      if (armed != generation) return;
      pending = false;
      self->step();
    });
  }

  // The timer fires at the earliest deadline set; a later deadline re-arms it then.
  void set_deadline(Clock::time_point deadline) {
    deadline_ = deadline;
    if (timer_pending_ && armed_for_ <= deadline) return;
    armed_for_ = deadline;
    timer_pending_ = true;
    timer_.expires_at(deadline);
    timer_.async_wait([self = shared_from_this(), generation = ++timer_generation_](
                          const asio::error_code&) {
      if (generation != self->timer_generation_ || self->closed_) return;
      self->timer_pending_ = false;
      self->on_deadline();
    });
  }

  void on_deadline() {
    if (Clock::now() < deadline_) {
      set_deadline(deadline_);
      return;
    }
    switch (state_) {
      case State::idle:
        if (!kept_alive_) refuse(FrontDoorStats::timeout);
        close();
        break;
      case State::handshake:
      case State::reading:
        refuse(FrontDoorStats::timeout);
        close();
        break;
      case State::active:
        if (backend_connecting_) {
          backend_unavailable();
          step();
        } else {
          close();
        }
        break;
      default: close();
    }
  }

  // --- The client's bytes, in plain text or through TLS.

  Io client_read(char* buffer, std::size_t size, std::size_t& got) {
    if (ssl_) {
      const OpenSsl& ssl = openssl();
      ssl.ERR_clear_error();
      int n = ssl.SSL_read(ssl_.get(), buffer, static_cast<int>(size));
      if (n > 0) {
        got = static_cast<std::size_t>(n);
        return Io::done;
      }
      return ssl_status(n);
    }
    ssize_t n = ::recv(client_.native_handle(), buffer, size, 0);
    if (n > 0) {
      got = static_cast<std::size_t>(n);
      return Io::done;
    }
    if (n == 0) return Io::eof;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Io::want_read : Io::error;
  }

  Io client_write(const char* data, std::size_t size, std::size_t& sent) {
    if (ssl_) {
      const OpenSsl& ssl = openssl();
      ssl.ERR_clear_error();
      int n = ssl.SSL_write(ssl_.get(), data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
      if (n > 0) {
        sent = static_cast<std::size_t>(n);
        return Io::done;
      }
      Io status = ssl_status(n);
      return status == Io::eof ? Io::error : status;
    }
    ssize_t n = ::send(client_.native_handle(), data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      sent = static_cast<std::size_t>(n);
      return Io::done;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Io::want_write : Io::error;
  }

  Io ssl_status(int rc) {
    switch (openssl().SSL_get_error(ssl_.get(), rc)) {
      case SSL_ERROR_WANT_READ: return Io::want_read;
      case SSL_ERROR_WANT_WRITE: return Io::want_write;
      case SSL_ERROR_ZERO_RETURN: return Io::eof;  // close_notify
      default: openssl().ERR_clear_error(); return Io::error;
    }
  }

  bool wait_for(Io status) {
    wait_client(status == Io::want_write ? Wait::wait_write : Wait::wait_read);
    return false;
  }

  // --- Before a request: the TLS handshake, then the request's bytes.

  bool receive() {
    if (door_.tls_enabled_ && !ssl_) return start_tls();
    if (state_ == State::handshake) return handshake();
    auto framing = frame_request(request_, door_.options_.max_request_bytes);
    using Verdict = RequestFraming::Verdict;
    switch (framing.verdict) {
      case Verdict::complete: return forward(framing);
      case Verdict::too_large:
        refuse(FrontDoorStats::head_too_large);
        return framing.body_too_large
                   ? reply(413, "Content Too Large", "request body too large\n")
                   : reply(431, "Request Header Fields Too Large", "request head too large\n");
      case Verdict::bad_length:
        refuse(FrontDoorStats::bad_request);
        return reply(400, "Bad Request", "invalid Content-Length\n");
      case Verdict::chunked:
        refuse(FrontDoorStats::bad_request);
        return reply(501, "Not Implemented", "request bodies need a Content-Length\n");
      case Verdict::incomplete: break;
    }
    if (client_eof_) {  // the client left before its request was whole
      close();
      return false;
    }
    std::size_t room = door_.options_.max_request_bytes + 1 - request_.size();
    std::size_t got = 0;
    Io status = client_read(door_.scratch_, std::min(room, sizeof door_.scratch_), got);
    if (status == Io::want_read || status == Io::want_write) return wait_for(status);
    if (status == Io::eof) {
      client_eof_ = true;
      return true;
    }
    if (status == Io::error) {
      close();
      return false;
    }
    if (request_.empty()) {
      set_state(State::reading);
      if (kept_alive_) {  // the next request's head has its own time
        set_deadline(Clock::now() + std::chrono::milliseconds(door_.options_.request_timeout_ms));
      }
    }
    request_.append(door_.scratch_, got);
    return true;
  }

  // A TLS connection starts with a handshake record (type 22). Anything else that looks
  // like text is a plain HTTP client on the TLS port: it is told so. OpenSSL gets the
  // connection only once the whole first record (the ClientHello) is there: until then it
  // waits in the kernel's buffer, so a trickled handshake costs no memory of ours.
  bool start_tls() {
    unsigned char header[5];
    ssize_t n = ::recv(client_.native_handle(), header, sizeof header, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return wait_for(Io::want_read);
    }
    if (n <= 0) {
      close();
      return false;
    }
    if (header[0] != 22) {
      refuse(FrontDoorStats::tls_failure);
      if (header[0] >= 'A' && header[0] <= 'Z') return reply_raw(400, kPlainHttpOnTlsPort);
      close();
      return false;
    }
    if (state_ != State::handshake) set_state(State::handshake);
    int available = 0;
    std::size_t record = n == sizeof header ? sizeof header + (std::size_t{header[3]} << 8 | header[4]) : 0;
    if (record == 0 || ::ioctl(client_.native_handle(), FIONREAD, &available) != 0 ||
        static_cast<std::size_t>(available) < record) {
      if (client_eof_pending()) {
        close();
        return false;
      }
      return wait_for(Io::want_read);
    }
    const OpenSsl& ssl = openssl();
    ssl_.reset(ssl.SSL_new(door_.tls_.get()));
    if (!ssl_ || ssl.SSL_set_fd(ssl_.get(), client_.native_handle()) != 1) {
      ssl.ERR_clear_error();
      refuse(FrontDoorStats::tls_failure);
      close();
      return false;
    }
    return true;
  }

  // True when the client has closed its side (checked while its bytes are only peeked).
  bool client_eof_pending() {
    pollfd ready{client_.native_handle(), POLLRDHUP, 0};
    return ::poll(&ready, 1, 0) > 0 && (ready.revents & (POLLRDHUP | POLLHUP | POLLERR));
  }

  bool handshake() {
    const OpenSsl& ssl = openssl();
    ssl.ERR_clear_error();
    int rc = ssl.SSL_accept(ssl_.get());
    if (rc == 1) {
      set_state(State::idle);
      return true;
    }
    int error = ssl.SSL_get_error(ssl_.get(), rc);
    if (error == SSL_ERROR_WANT_READ) return wait_for(Io::want_read);
    if (error == SSL_ERROR_WANT_WRITE) return wait_for(Io::want_write);
    // Scanners and clients with the wrong certificate end here: debug only, not a flood.
    log_event(spdlog::level::debug, "TLS handshake failed", {{"err", openssl_errors()}});
    refuse(FrontDoorStats::tls_failure);
    close();
    return false;
  }

  // --- A complete request: to civetweb on a new loopback connection, and back.

  bool forward(const RequestFraming& framing) {
    set_state(State::active);
    request_size_ = framing.size;
    forwarded_ = 0;
    head_only_ = framing.head_only;
    set_deadline(Clock::now() + std::chrono::milliseconds(door_.options_.request_timeout_ms));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      if (!door_.connect_exhausted_) {
        door_.connect_exhausted_ = true;
        log_event(spdlog::level::err, "cannot connect to the HTTP workers",
                  {{"err", std::strerror(errno)}});
      }
      return backend_unavailable();
    }
    door_.connect_exhausted_ = false;
    asio::error_code error;
    backend_.assign(tcp::v4(), fd, error);
    if (error) {
      ::close(fd);
      return backend_unavailable();
    }
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sockaddr_in remote = local;
    remote.sin_port = htons(static_cast<std::uint16_t>(door_.options_.backend_port));
    // Bound to 127.0.0.1 explicitly: relays_from() trusts 127.0.0.1:port pairs only, and
    // no other socket can hold the same pair towards civetweb at the same time.
    socklen_t length = sizeof local;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
      return backend_unavailable();
    }
    backend_port_ = ntohs(local.sin_port);
    door_.mark_relay_port(backend_port_, true);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0 &&
        errno != EINPROGRESS) {
      return backend_unavailable();
    }
    backend_connecting_ = true;
    return true;
  }

  bool backend_unavailable() {
    close_backend();
    refuse(FrontDoorStats::backend_unavailable);
    return reply(503, "Service Unavailable", "no HTTP worker reachable\n");
  }

  void close_backend() {
    if (backend_port_) door_.mark_relay_port(backend_port_, false);
    backend_port_ = 0;
    asio::error_code ignored;
    backend_.close(ignored);
    ++backend_generation_;
    backend_read_ = backend_write_ = false;
    backend_connecting_ = false;
  }

  bool relay() {
    int backend = backend_.native_handle();
    if (backend_connecting_) {
      pollfd ready{backend, POLLOUT, 0};
      if (::poll(&ready, 1, 0) == 0) {
        wait_backend(Wait::wait_write);
        return false;
      }
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(backend, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) return backend_unavailable();
      backend_connecting_ = false;
      set_deadline(Clock::now() + kRelayIdleTimeout);
    }
    bool progress = false;
    if (forwarded_ < request_size_) {
      ssize_t n = ::send(backend, request_.data() + forwarded_, request_size_ - forwarded_,
                         MSG_NOSIGNAL);
      if (n > 0) {
        forwarded_ += static_cast<std::size_t>(n);
        progress = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        wait_backend(Wait::wait_write);
      } else {
        return response_head_ ? drop() : backend_unavailable();
      }
    }
    // The response goes out as it comes, once its head says how long it is.
    if (response_head_ && sent_ < buffered_) {
      std::size_t sent = 0;
      Io status = client_write(response_.get() + sent_, buffered_ - sent_, sent);
      if (status == Io::done) {
        sent_ += sent;
        if (sent_ == buffered_) sent_ = buffered_ = 0;
        set_deadline(Clock::now() + kRelayIdleTimeout);
        return true;
      }
      if (status == Io::want_read || status == Io::want_write) return wait_for(status);
      return drop();  // the client is gone
    }
    if (response_complete_) return response_done();
    if (!response_) response_ = std::make_unique<char[]>(kRelayBufferBytes);
    ssize_t n = ::recv(backend, response_.get() + buffered_, kRelayBufferBytes - buffered_, 0);
    if (n > 0) {
      buffered_ += static_cast<std::size_t>(n);
      response_arrived(static_cast<std::size_t>(n));
      set_deadline(Clock::now() + kRelayIdleTimeout);
      return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      wait_backend(Wait::wait_read);
      return progress;
    }
    // civetweb closed: the response ends here (a response without a length ends so, and
    // one cut short must not look whole to the client).
    if (!response_head_) {
      if (buffered_ == 0) return backend_unavailable();
      response_head_ = ResponseHead{};  // not a response head: pass it on as it is
    }
    response_head_->close = true;
    unframed_ = true;
    response_complete_ = true;
    return true;
  }

  // `n` new bytes at the end of the buffer: find the head, then count the body down.
  void response_arrived(std::size_t n) {
    std::size_t body = n;
    if (!response_head_) {
      response_head_ = parse_response_head(std::string_view(response_.get(), buffered_));
      if (!response_head_) {
        if (buffered_ < kRelayBufferBytes) return;  // more of the head to come
        response_head_ = ResponseHead{};  // a head this long is not civetweb's: pass it on
      }
      int status = response_head_->status;
      // Not HTTP, or an interim 1xx answer (civetweb sends none: the handler reads no
      // body): passed on until civetweb closes.
      if (status < 200) {
        unframed_ = true;
        response_head_->close = true;
        return;
      }
      door_.stats_->count_response(status);
      if (head_only_ || status == 204 || status == 304) {
        body_left_ = 0;
      } else if (response_head_->content_length) {
        body_left_ = *response_head_->content_length;
      } else {
        unframed_ = true;  // ends when civetweb closes
        response_head_->close = true;
        return;
      }
      body = buffered_ - std::min(buffered_, response_head_->head_size);
    }
    if (unframed_) return;
    if (body >= body_left_) {
      buffered_ -= body - body_left_;  // anything past the response is not for the client
      body_left_ = 0;
      response_complete_ = true;
    } else {
      body_left_ -= body;
    }
  }

  // The response is out: keep the connection for the next request, or close it.
  bool response_done() {
    close_backend();
    bool keep = !response_head_->close && !client_eof_;
    response_.reset();
    response_head_.reset();
    buffered_ = sent_ = 0;
    response_complete_ = unframed_ = false;
    request_.erase(0, request_size_);
    request_size_ = forwarded_ = 0;
    if (!keep) return start_closing();
    if (request_.empty()) std::string().swap(request_);  // idle: no buffer held
    kept_alive_ = true;
    set_state(request_.empty() ? State::idle : State::reading);
    set_deadline(Clock::now() + std::chrono::milliseconds(
                                    request_.empty() ? door_.options_.keep_alive_timeout_ms
                                                     : door_.options_.request_timeout_ms));
    return true;
  }

  bool drop() {
    close();
    return false;
  }

  // --- Closing: an answer of the front's own, or the last response, then a lingering close.

  bool reply(int status, std::string_view reason, std::string_view body) {
    return reply_raw(status, error_response(status, reason, body));
  }

  bool reply_raw(int status, std::string_view response) {
    close_backend();
    door_.stats_->count_response(status);
    out_ = response;
    return start_closing();
  }

  bool start_closing() {
    set_state(State::closing);
    std::string().swap(request_);
    response_.reset();
    set_deadline(std::min(deadline_, Clock::now() + kLingerTimeout));
    return true;
  }

  bool linger() {
    while (out_sent_ < out_.size()) {
      std::size_t sent = 0;
      Io status = client_write(out_.data() + out_sent_, out_.size() - out_sent_, sent);
      if (status == Io::want_read || status == Io::want_write) return wait_for(status);
      if (status != Io::done) return drop();
      out_sent_ += sent;
    }
    if (!shut_down_) {
      shut_down_ = true;
      if (ssl_) {
        const OpenSsl& ssl = openssl();
        ssl.ERR_clear_error();
        ssl.SSL_shutdown(ssl_.get());  // best effort close_notify; the socket closes either way
        ssl.ERR_clear_error();
      }
      ::shutdown(client_.native_handle(), SHUT_WR);
    }
    // Whatever the client still sends is read and dropped until it closes too, so that
    // closing sends FIN, not a reset that would destroy the answer; up to a bound.
    ssize_t n = ::recv(client_.native_handle(), door_.scratch_, sizeof door_.scratch_, 0);
    if (n > 0) {
      drained_ += static_cast<std::size_t>(n);
      return drained_ < kMaxDrainBytes || drop();
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      wait_client(Wait::wait_read);
      return false;
    }
    return drop();
  }

  Impl& door_;
  tcp::socket client_;
  tcp::socket backend_;
  asio::steady_timer timer_;
  std::list<std::shared_ptr<Connection>>::iterator position_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  State state_ = State::idle;
  bool started_ = false;
  bool closed_ = false;
  bool kept_alive_ = false;   // a response went out: now waiting for the next request
  bool client_eof_ = false;
  bool client_read_ = false, client_write_ = false;  // waits pending
  bool backend_read_ = false, backend_write_ = false;
  const std::uint64_t client_generation_ = 0;  // one client socket for the connection's life
  std::uint64_t backend_generation_ = 0;
  Clock::time_point deadline_;
  Clock::time_point armed_for_;
  bool timer_pending_ = false;
  std::uint64_t timer_generation_ = 0;

  std::string request_;  // received, not yet forwarded (the head in progress, pipelined requests)
  std::size_t request_size_ = 0;  // the complete request at its start
  std::size_t forwarded_ = 0;
  bool head_only_ = false;
  int backend_port_ = 0;
  bool backend_connecting_ = false;
  std::unique_ptr<char[]> response_;  // kRelayBufferBytes while a response is in flight
  std::size_t buffered_ = 0, sent_ = 0;
  std::optional<ResponseHead> response_head_;
  std::uint64_t body_left_ = 0;
  bool unframed_ = false;
  bool response_complete_ = false;

  std::string out_;  // the front's own answer
  std::size_t out_sent_ = 0;
  bool shut_down_ = false;
  std::size_t drained_ = 0;
};

FrontDoor::Impl::Impl(Options options, std::shared_ptr<SSL_CTX> tls)
    : options_(std::move(options)), tls_enabled_(tls != nullptr), tls_(std::move(tls)) {
  stats_->max_connections = options_.max_connections;
  int fd = open_listener(options_.listen_address);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  bool v6 = bound.ss_family == AF_INET6;
  port_ = v6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
             : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  acceptor_.assign(v6 ? tcp::v6() : tcp::v4(), fd);
  wait_accept();
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {  // one connection's failure never ends the loop
        log_event(spdlog::level::err, "HTTP front door error", {{"err", e.what()}});
      }
    }
  });
}

FrontDoor::Impl::~Impl() {
  io_.stop();
  thread_.join();
  // Close every connection and let their cancelled waits run, while the loop still exists.
  while (!connections_.empty()) {
    auto connection = connections_.front();
    connection->close();
  }
  asio::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  io_.restart();
  io_.poll();
}

void FrontDoor::Impl::wait_accept() {
  acceptor_.async_wait(tcp::acceptor::wait_read, [this](const asio::error_code& error) {
    if (!error) accept_ready();
  });
}

void FrontDoor::Impl::accept_ready() {
  if (!acceptor_.is_open()) return;
  for (int i = 0; i < kAcceptBatch; ++i) {
    int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (accept_exhausted_) {
        accept_exhausted_ = false;
        log_event(spdlog::level::info, "accepting HTTP connections again");
      }
      admit(fd);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait_accept();
      return;
    }
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // The connections held keep being served; new ones wait in the listen backlog.
      if (!accept_exhausted_) {
        accept_exhausted_ = true;
        log_event(spdlog::level::err, "cannot accept HTTP connections",
                  {{"err", std::strerror(errno)},
                   {"open_connections", std::to_string(connections_.size())}});
      }
      accept_retry_.expires_after(kAcceptRetry);
      accept_retry_.async_wait([this](const asio::error_code& error) {
        if (!error) accept_ready();
      });
      return;
    }
    // ECONNABORTED and the like: that one connection is gone, try the next.
  }
  // The listening socket is edge-triggered: what is left is accepted after the others had
  // their turn, without waiting for a new connection.
  asio::post(io_, [this] { accept_ready(); });
}

void FrontDoor::Impl::admit(int fd) {
  if (static_cast<int>(connections_.size()) >= options_.max_connections && !evict_oldest_waiting()) {
    ::close(fd);  // every connection has a request in flight
    ++stats_->refused[FrontDoorStats::limit];
    return;
  }
  ++stats_->accepted;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto connection = std::make_shared<Connection>(*this, fd);
  if (!connection->open()) {
    ::close(fd);
    return;
  }
  connections_.push_back(connection);
  connection->start(std::prev(connections_.end()));
}

bool FrontDoor::Impl::evict_oldest_waiting() {
  for (auto& connection : connections_) {
    auto state = connection->state();
    if (state == FrontDoorStats::idle || state == FrontDoorStats::handshake ||
        state == FrontDoorStats::reading) {
      auto victim = connection;  // close() erases it from the list
      victim->refuse(FrontDoorStats::limit);
      victim->close();
      return true;
    }
  }
  return false;
}

FrontDoor::FrontDoor(Options options, std::shared_ptr<SSL_CTX> tls)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(tls))) {}

FrontDoor::~FrontDoor() = default;

void FrontDoor::set_context(std::shared_ptr<SSL_CTX> context) {
  asio::post(impl_->io_, [impl = impl_.get(), context = std::move(context)] { impl->tls_ = context; });
}

int FrontDoor::port() const { return impl_->port_; }

const std::shared_ptr<FrontDoorStats>& FrontDoor::stats() const { return impl_->stats_; }

bool FrontDoor::relays_from(int local_port) const {
  if (local_port <= 0 || local_port >= 65536) return false;
  return (impl_->relay_ports_[local_port / 64].load() >> (local_port % 64)) & 1;
}

std::uint64_t raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur;
}

int connections_within_fd_limit(int requested, std::uint64_t fd_limit, int workers) {
  // The collectors' files, the listeners, logs and the loop itself.
  constexpr std::uint64_t kReserved = 64;
  std::uint64_t in_flight = 3 * static_cast<std::uint64_t>(workers);
  std::uint64_t room = fd_limit > kReserved + in_flight ? fd_limit - kReserved - in_flight : 16;
  return static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(requested), std::max<std::uint64_t>(room, 16)));
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
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    int zero = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6 && host.empty()) {
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    // The backlog holds connections only while the loop is out of descriptors.
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    return fd;
  }
  throw std::runtime_error("cannot listen on " + listen_address + ": " + last_error);
}

}  // namespace memledger
