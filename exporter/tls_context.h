#pragma once
// The OpenSSL 3 context of the HTTPS front door (exporter/front_door.h).
//
// Debian's civetweb 1.15 loads OpenSSL at run time through a function table written for
// the OpenSSL 1.1 API. Bookworm ships OpenSSL 3, where SSL_get_peer_certificate is no
// longer an exported symbol (it became SSL_get1_peer_certificate): civetweb starts, then
// calls a null pointer on the first HTTPS request. So TLS is terminated by the front
// door, with OpenSSL 3 (exporter/openssl_library.h: loaded when TLS is configured).
#include <openssl/types.h>

#include <memory>
#include <string>

#include "exporter/web_config.h"

namespace memledger {

// An SSL_CTX with the certificate, key, client-certificate policy and protocol versions
// of `config`. Throws ConfigError naming the file that cannot be loaded, and
// std::runtime_error when OpenSSL cannot.
std::shared_ptr<SSL_CTX> make_tls_context(const TlsServerConfig& config);

// OpenSSL's error queue as one line, emptying it.
std::string openssl_errors();

}  // namespace memledger
