#include "exporter/basic_auth.h"

#include <crypt.h>

#include <memory>

#include "exporter/openssl_library.h"

namespace memledger {

namespace {

// A valid bcrypt hash at the usual cost, checked against for unknown users.
constexpr const char* kDecoyHash = "$2b$10$53fjLy8Z6civSrTn7DQJSu48JI3.EXdyVc1L9BC4CCMdLzYhXrU6S";

// Bounds the cache: a handful of scrapers each with one password; cleared when full.
constexpr std::size_t kMaxCachedCredentials = 64;

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// bcrypt through libcrypt; false also when the hash is unusable.
bool bcrypt_matches(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  const char* result = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  if (result == nullptr) return false;
  std::string_view computed(result);
  return computed.size() == hash.size() &&
         openssl().CRYPTO_memcmp(computed.data(), hash.data(), hash.size()) == 0;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int padding = 0;
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      int v = base64_value(c);
      if (c == '=' && last && j >= 2) {
        ++padding;
        v = 0;
      } else if (v < 0 || padding > 0) {
        return std::nullopt;  // invalid character, or data after padding
      }
      group = group << 6 | static_cast<std::uint32_t>(v);
    }
    out += static_cast<char>(group >> 16 & 0xff);
    if (padding < 2) out += static_cast<char>(group >> 8 & 0xff);
    if (padding < 1) out += static_cast<char>(group & 0xff);
  }
  return out;
}

std::optional<BasicCredentials> parse_basic_authorization(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  auto space = header.find(' ');
  if (space == std::string_view::npos || !equals_ignoring_case(header.substr(0, space), "basic")) {
    return std::nullopt;
  }
  auto encoded = header.substr(space + 1);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  auto decoded = base64_decode(encoded);
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

BasicAuthenticator::BasicAuthenticator(std::map<std::string, std::string, std::less<>> users)
    : users_(std::move(users)) {
  if (enabled()) openssl();  // the cache keys' SHA-256: fails here, at configuration, if it must
}

BasicAuthenticator::Digest BasicAuthenticator::cache_key(std::string_view user,
                                                         std::string_view password,
                                                         std::string_view hash) {
  // Lengths first, so that no two (user, password, hash) triples hash the same bytes.
  std::string material;
  for (auto part : {user, password, hash}) {
    material += std::to_string(part.size());
    material += ':';
    material.append(part);
  }
  Digest digest{};
  unsigned int length = 0;
  const OpenSsl& ssl = openssl();
  ssl.EVP_Digest(material.data(), material.size(), digest.data(), &length, ssl.EVP_sha256(), nullptr);
  ssl.OPENSSL_cleanse(material.data(), material.size());
  return digest;
}

bool BasicAuthenticator::check(const BasicCredentials& credentials) {
  static const std::string decoy = kDecoyHash;
  auto it = users_.find(credentials.user);
  const std::string& hash = it == users_.end() ? decoy : it->second;
  const Digest key = cache_key(credentials.user, credentials.password, hash);
  {
    std::lock_guard lock(cache_mutex_);
    if (verified_.count(key)) return it != users_.end();
  }
  bool matches;
  {
    std::lock_guard lock(bcrypt_mutex_);
    matches = bcrypt_matches(credentials.password, hash);
  }
  if (!matches || it == users_.end()) return false;
  std::lock_guard lock(cache_mutex_);
  if (verified_.size() >= kMaxCachedCredentials) verified_.clear();
  verified_.insert(key);
  return true;
}

}  // namespace memledger
