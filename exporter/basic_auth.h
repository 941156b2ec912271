#pragma once
// HTTP basic authentication against the bcrypt hashes of the web config. bcrypt is
// libcrypt's (crypt_rn understands $2a$/$2b$/$2y$); it is deliberately slow (~50 ms at
// cost 10), so successful checks are cached and the slow path runs one at a time.
#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace memledger {

struct BasicCredentials {
  std::string user;
  std::string password;
};

// The credentials of an "Authorization: Basic <base64(user:password)>" header value;
// nullopt for any other scheme or malformed base64.
std::optional<BasicCredentials> parse_basic_authorization(std::string_view header);

// Strict RFC 4648 base64 (padding required, no whitespace); nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);

class BasicAuthenticator {
 public:
  // user -> bcrypt hash; an empty map lets every request through.
  explicit BasicAuthenticator(std::map<std::string, std::string, std::less<>> users);

  bool enabled() const { return !users_.empty(); }

  // Thread-safe. Unknown users cost a bcrypt run too, so timing does not reveal names.
  bool check(const BasicCredentials& credentials);

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest cache_key(std::string_view user, std::string_view password, std::string_view hash);

  std::map<std::string, std::string, std::less<>> users_;
  std::mutex bcrypt_mutex_;  // one bcrypt at a time: a flood of wrong passwords uses one core
  std::mutex cache_mutex_;
  std::set<Digest> verified_;  // SHA-256 of user, password and hash of each success
};

}  // namespace memledger
