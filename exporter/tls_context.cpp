#include "exporter/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

#include "config/config.h"

namespace memledger {

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

namespace {

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
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}


}  // namespace memledger
