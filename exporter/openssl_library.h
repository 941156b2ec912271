#pragma once
// OpenSSL 3, loaded (dlopen) the first time the web configuration asks for TLS or basic
// auth. Linked at build time, libssl and libcrypto were mapped, relocated and bound at
// every start: 1.7 MiB of the daemon's resident memory (README, Performance) for two
// features most hosts never configure.
//
// The table holds the functions the exporter calls, typed from OpenSSL's own headers, so
// a call through it is checked as a direct call would be.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

namespace memledger {

// libssl's and libcrypto's functions (dlsym on libssl finds libcrypto's: its dependency).
#define MEMLEDGER_OPENSSL_FUNCTIONS(X)                                                          \
  X(TLS_server_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_ctrl)                           \
  X(SSL_CTX_use_certificate_chain_file) X(SSL_CTX_use_PrivateKey_file)                          \
  X(SSL_CTX_check_private_key) X(SSL_CTX_load_verify_locations) X(SSL_load_client_CA_file)      \
  X(SSL_CTX_set_client_CA_list) X(SSL_CTX_set_verify) X(SSL_CTX_set_session_id_context)         \
  X(SSL_CTX_set_options) X(SSL_new) X(SSL_free) X(SSL_set_fd) X(SSL_accept) X(SSL_read)         \
  X(SSL_write) X(SSL_get_error) X(SSL_shutdown) X(ERR_get_error) X(ERR_error_string_n)          \
  X(ERR_clear_error) X(EVP_Digest) X(EVP_sha256) X(OPENSSL_cleanse) X(CRYPTO_memcmp)

struct OpenSsl {
#define MEMLEDGER_OPENSSL_MEMBER(name) decltype(&::name) name = nullptr;
  MEMLEDGER_OPENSSL_FUNCTIONS(MEMLEDGER_OPENSSL_MEMBER)
#undef MEMLEDGER_OPENSSL_MEMBER
};

// The table, loading the libraries on the first call (thread-safe; they stay loaded).
// Throws std::runtime_error naming the library or function that could not be loaded;
// the next call tries again.
const OpenSsl& openssl();

}  // namespace memledger
