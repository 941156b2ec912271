#include "exporter/tls_context.h"

#include <stdexcept>

#include "config/config.h"
#include "exporter/openssl_library.h"

namespace memledger {

std::string openssl_errors() {
  const OpenSsl& ssl = openssl();
  std::string out;
  while (unsigned long code = ssl.ERR_get_error()) {
    char buf[256];
    ssl.ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

namespace {

// Accepts whatever certificate the client sends (RequestClientCert, RequireAnyClientCert).
int accept_any_certificate(int, X509_STORE_CTX*) { return 1; }

}  // namespace

std::shared_ptr<SSL_CTX> make_tls_context(const TlsServerConfig& config) {
  const OpenSsl& ssl = openssl();
  std::shared_ptr<SSL_CTX> ctx(ssl.SSL_CTX_new(ssl.TLS_server_method()), ssl.SSL_CTX_free);
  if (!ctx) throw std::runtime_error("SSL_CTX_new: " + openssl_errors());
  ssl.ERR_clear_error();
  // SSL_CTX_set_min_proto_version, SSL_CTX_set_max_proto_version and SSL_CTX_set_mode are
  // macros over SSL_CTX_ctrl (openssl/ssl.h).
  if (ssl.SSL_CTX_ctrl(ctx.get(), SSL_CTRL_SET_MIN_PROTO_VERSION, config.min_version, nullptr) != 1 ||
      (config.max_version &&
       ssl.SSL_CTX_ctrl(ctx.get(), SSL_CTRL_SET_MAX_PROTO_VERSION, config.max_version, nullptr) != 1)) {
    throw ConfigError(config.cert_file, 0, 0, "unsupported TLS version: " + openssl_errors());
  }
  if (ssl.SSL_CTX_use_certificate_chain_file(ctx.get(), config.cert_file.c_str()) != 1) {
    throw ConfigError(config.cert_file, 0, 0, "cannot load the certificate: " + openssl_errors());
  }
  if (ssl.SSL_CTX_use_PrivateKey_file(ctx.get(), config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw ConfigError(config.key_file, 0, 0, "cannot load the private key: " + openssl_errors());
  }
  if (ssl.SSL_CTX_check_private_key(ctx.get()) != 1) {
    throw ConfigError(config.key_file, 0, 0,
                      "the private key does not match the certificate " + config.cert_file);
  }
  if (!config.client_ca_file.empty()) {
    if (ssl.SSL_CTX_load_verify_locations(ctx.get(), config.client_ca_file.c_str(), nullptr) != 1) {
      throw ConfigError(config.client_ca_file, 0, 0,
                        "cannot load the client CA certificates: " + openssl_errors());
    }
    // Tells clients which CAs are accepted, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = ssl.SSL_load_client_CA_file(config.client_ca_file.c_str())) {
      ssl.SSL_CTX_set_client_CA_list(ctx.get(), names);
    }
  }
  switch (config.client_auth) {
    case ClientAuth::none:
      ssl.SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::request:
      ssl.SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, accept_any_certificate);
      break;
    case ClientAuth::require_any:
      ssl.SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                             accept_any_certificate);
      break;
    case ClientAuth::verify_if_given:
      ssl.SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::require_and_verify:
      ssl.SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  // Session resumption with client certificates needs a context id, else OpenSSL refuses
  // resumed sessions.
  static constexpr unsigned char kSessionContext[] = "memledger_exporter";
  ssl.SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  ssl.SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  ssl.SSL_CTX_ctrl(ctx.get(), SSL_CTRL_MODE,
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS,
                   nullptr);
  return ctx;
}


}  // namespace memledger
