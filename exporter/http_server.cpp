#include "exporter/http_server.h"

#include <CivetServer.h>
#include <zlib.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

#include "exporter/logging.h"

namespace memledger {

std::string civetweb_listening_port(const std::string& listen_address) {
  // civetweb takes "port", "ip:port" or "[ipv6]:port"; an empty host means every address.
  if (!listen_address.empty() && listen_address.front() == ':') return listen_address.substr(1);
  return listen_address;
}

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

void send(mg_connection* conn, int status, std::string_view content_type,
          const std::string& body, bool gzipped, bool head_only) {
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", content_type.data(), -1);
  if (gzipped) mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
  std::string length = std::to_string(body.size());
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_send(conn);
  if (!head_only) mg_write(conn, body.data(), body.size());
}

class RootHandler final : public CivetHandler {
 public:
  RootHandler(std::string telemetry_path, ScrapeRunner& runner)
      : telemetry_path_(std::move(telemetry_path)), runner_(runner) {}

  bool handleGet(CivetServer*, mg_connection* conn) override { return serve(conn, false); }
  bool handleHead(CivetServer*, mg_connection* conn) override { return serve(conn, true); }

 private:
  bool serve(mg_connection* conn, bool head_only) {
    const mg_request_info* request = mg_get_request_info(conn);
    std::string_view uri = request->local_uri ? request->local_uri : "";
    try {
      if (uri == telemetry_path_) {
        auto exposition = runner_.scrape();
        if (accepts_gzip(conn)) {
          send(conn, 200, kMetricsType, gzip_compress(exposition->text), true, head_only);
        } else {
          send(conn, 200, kMetricsType, exposition->text, false, head_only);
        }
      } else if (uri == "/") {
        send(conn, 200, "text/html; charset=utf-8", landing_page(), false, head_only);
      } else {
        send(conn, 404, "text/plain; charset=utf-8", "404 page not found\n", false, head_only);
      }
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "request failed", {{"uri", uri}, {"err", e.what()}});
      send(conn, 500, "text/plain; charset=utf-8", "internal error\n", false, head_only);
    }
    return true;
  }

  std::string landing_page() const {
    return "<!DOCTYPE html>\n<html><head><title>memledger_exporter</title></head><body>\n"
           "<h1>memledger_exporter</h1>\n"
           "<p>Accounts for every byte of this host's memory: a ledger whose categories sum "
           "to MemTotal, and the unexplained remainder that no kernel counter claims.</p>\n"
           "<p><a href=\"" + telemetry_path_ + "\">Metrics</a></p>\n</body></html>\n";
  }

  static constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
  std::string telemetry_path_;
  ScrapeRunner& runner_;
};

}  // namespace

HttpServer::HttpServer(const HttpOptions& options, ScrapeRunner& runner) {
  std::vector<std::string> civet_options = {
      "listening_ports", civetweb_listening_port(options.listen_address),
      "num_threads", std::to_string(options.max_requests),
      "request_timeout_ms", std::to_string(options.request_timeout_ms),
      "enable_keep_alive", "yes",
      "keep_alive_timeout_ms", std::to_string(options.request_timeout_ms),
  };
  handler_ = std::make_unique<RootHandler>(options.telemetry_path, runner);
  try {
    server_ = std::make_unique<CivetServer>(civet_options);
  } catch (const CivetException& e) {
    throw std::runtime_error("cannot listen on " + options.listen_address + ": " + e.what());
  }
  server_->addHandler("/", handler_.get());
}

HttpServer::~HttpServer() {
  if (server_) server_->close();
}

std::vector<int> HttpServer::listening_ports() { return server_->getListeningPorts(); }

}  // namespace memledger
