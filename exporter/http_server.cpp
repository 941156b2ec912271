#include "exporter/http_server.h"

#include <CivetServer.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "config/config.h"
#include "exporter/landing_page.h"
#include "exporter/logging.h"
#include "exporter/front_door.h"
#include "exporter/report.h"
#include "exporter/tls_context.h"

namespace memledger {

std::string gzip_compress(const std::string& data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

namespace {

bool accepts_gzip(mg_connection* conn) {
  const char* header = mg_get_header(conn, "Accept-Encoding");
  return header && std::strstr(header, "gzip") != nullptr;
}

struct Header {
  const char* name;
  const char* value;
};

// `content_type` must be NUL-terminated (the constants below are).
void send(mg_connection* conn, int status, std::string_view content_type,
          const std::string& body, bool head_only, std::initializer_list<Header> extra = {}) {
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", content_type.data(), -1);
  for (const auto& header : extra) mg_response_header_add(conn, header.name, header.value, -1);
  std::string length = std::to_string(body.size());
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_send(conn);
  if (!head_only) mg_write(conn, body.data(), body.size());
}

class RootHandler final : public CivetHandler {
 public:
  RootHandler(std::string telemetry_path, ScrapeRunner& runner,
              std::shared_ptr<BasicAuthenticator> auth)
      : telemetry_path_(std::move(telemetry_path)), runner_(runner), auth_(std::move(auth)) {}

  bool handleGet(CivetServer*, mg_connection* conn) override { return serve(conn, false); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return serve(conn, true); }

  void set_auth(std::shared_ptr<BasicAuthenticator> auth) {
    std::lock_guard lock(auth_mutex_);
    auth_ = std::move(auth);
  }

  void set_front(const FrontDoor* front) { front_ = front; }

 private:
  bool serve(mg_connection* conn, bool head_only) {
    const mg_request_info* request = mg_get_request_info(conn);
    std::string_view uri = request->local_uri ? request->local_uri : "";
    try {
      if (!relayed(*request)) {
        send(conn, 403, kTextType, "this port only serves the front door\n", head_only);
        return true;
      }
      if (!authorized(conn)) {
        send(conn, 401, kTextType, "Unauthorized\n", head_only,
             {{"WWW-Authenticate", "Basic realm=\"memledger_exporter\""}});
        return true;
      }
      if (uri == telemetry_path_) {
        auto exposition = runner_.scrape();
        if (accepts_gzip(conn)) {
          send(conn, 200, kMetricsType, gzip_compress(exposition->text), head_only,
               {{"Content-Encoding", "gzip"}});
        } else {
          send(conn, 200, kMetricsType, exposition->text, head_only);
        }
      } else if (uri == "/") {
        send(conn, 200, "text/html; charset=utf-8", landing_page(*runner_.scrape()), head_only);
      } else {
        send(conn, 404, kTextType, "404 page not found\n", head_only);
      }
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "request failed", {{"uri", uri}, {"err", e.what()}});
      send(conn, 500, kTextType, "internal error\n", head_only);
    }
    return true;
  }

  bool relayed(const mg_request_info& request) const {
    const FrontDoor* front = front_;
    return front && std::string_view(request.remote_addr) == "127.0.0.1" &&
           front->relays_from(request.remote_port);
  }

  bool authorized(mg_connection* conn) {
    std::shared_ptr<BasicAuthenticator> auth;
    {
      std::lock_guard lock(auth_mutex_);
      auth = auth_;
    }
    if (!auth || !auth->enabled()) return true;
    const char* header = mg_get_header(conn, "Authorization");
    if (!header) return false;
    auto credentials = parse_basic_authorization(header);
    return credentials && auth->check(*credentials);
  }

  // The landing page draws the same collection /metrics serves (shared with any scrape in
  // flight).
  std::string landing_page(const Exposition& collection) const {
    ReportInput input;
    input.families = collection.families;
    input.failed_collectors = collection.failures;
    LandingPageOptions options;
    options.telemetry_path = telemetry_path_;
    return render_landing_page(build_report(input), options);
  }


  static constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
  static constexpr std::string_view kTextType = "text/plain; charset=utf-8";
  std::string telemetry_path_;
  ScrapeRunner& runner_;
  // civetweb listens on loopback for the front door only.
  std::atomic<const FrontDoor*> front_{nullptr};
  std::mutex auth_mutex_;
  std::shared_ptr<BasicAuthenticator> auth_;
};

}  // namespace

WebSecurity prepare_web_security(const WebConfig& config) {
  WebSecurity security;
  security.auth = std::make_shared<BasicAuthenticator>(config.basic_auth_users);
  if (config.tls) security.tls = make_tls_context(*config.tls);
  return security;
}

HttpServer::HttpServer(const HttpOptions& options, WebSecurity security, ScrapeRunner& runner)
    : tls_(security.tls != nullptr) {
  // civetweb serves the front door only, on an ephemeral loopback port. Requests reach it
  // whole, and each on a connection of its own that the front door closes after the
  // response, so a worker is never held by an idle or slow client.
  std::vector<std::string> civet_options = {
      "listening_ports", "127.0.0.1:0",
      "num_threads", std::to_string(options.max_requests),
      "request_timeout_ms", std::to_string(options.request_timeout_ms),
      "enable_keep_alive", "yes",  // so its answers tell the client whether it may keep the connection
      "keep_alive_timeout_ms", "500",
  };
  auto handler = std::make_unique<RootHandler>(options.telemetry_path, runner, std::move(security.auth));
  RootHandler* root = handler.get();
  handler_ = std::move(handler);
  try {
    server_ = std::make_unique<CivetServer>(civet_options);
  } catch (const CivetException& e) {
    throw std::runtime_error(std::string("cannot start the HTTP workers: ") + e.what());
  }
  server_->addHandler("/", handler_.get());
  FrontDoor::Options front;
  front.listen_address = options.listen_address;
  front.backend_port = server_->getListeningPorts().at(0);
  front.request_timeout_ms = options.request_timeout_ms;
  front.keep_alive_timeout_ms = std::min(options.request_timeout_ms, 1000);
  front.max_connections =
      connections_within_fd_limit(options.max_connections, raise_fd_limit(), options.max_requests);
  front_ = std::make_unique<FrontDoor>(front, std::move(security.tls));
  root->set_front(front_.get());
  runner.add_self_metrics([stats = front_->stats()](MetricSink& sink) { stats->emit(sink); });
}

HttpServer::~HttpServer() {
  front_.reset();
  if (server_) server_->close();
}

void HttpServer::update_security(WebSecurity security, const std::string& source) {
  if ((security.tls != nullptr) != tls()) {
    throw ConfigError(source, 0, 0,
                      std::string("turning TLS ") + (tls() ? "off" : "on") + " needs a restart");
  }
  static_cast<RootHandler*>(handler_.get())->set_auth(std::move(security.auth));
  if (tls_) front_->set_context(std::move(security.tls));
}

std::vector<int> HttpServer::listening_ports() { return {front_->port()}; }

int HttpServer::max_connections() const { return front_->stats()->max_connections; }

}  // namespace memledger
