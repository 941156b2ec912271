#pragma once
// Small allocation-free helpers shared by the /proc and /sys parsers.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "procfs/errors.h"

namespace memledger::text {

// Iterates lines of a file without copying; tracks the 1-based line number.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : rest_(text) {}
  bool next(std::string_view& line) {
    if (rest_.empty()) return false;
    auto nl = rest_.find('\n');
    unterminated_ = nl == std::string_view::npos;
    line = rest_.substr(0, nl);
    rest_ = nl == std::string_view::npos ? std::string_view{} : rest_.substr(nl + 1);
    ++number_;
    return true;
  }
  std::size_t number() const { return number_; }
  // The line just read is the file's last and has no newline: accepted, but a parser whose
  // records can be told apart from a prefix of themselves checks it was not cut short.
  bool unterminated() const { return unterminated_; }

 private:
  std::string_view rest_;
  std::size_t number_ = 0;
  bool unterminated_ = false;
};

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits off the next whitespace-separated field; returns empty when none is left.
inline std::string_view next_field(std::string_view& s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  std::size_t end = 0;
  while (end < s.size() && !is_space(s[end])) ++end;
  auto field = s.substr(0, end);
  s.remove_prefix(end);
  return field;
}

inline std::optional<std::uint64_t> to_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

inline std::optional<std::int64_t> to_i64(std::string_view s) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Like to_u64 but throws a ParseError naming the line and the offending field.
inline std::uint64_t require_u64(std::string_view s, std::size_t line, std::string_view what) {
  auto v = to_u64(s);
  if (!v) {
    throw ParseError(line, std::string(what) + ": expected an unsigned integer, got \"" +
                               std::string(s.substr(0, 40)) + "\"");
  }
  return *v;
}

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The last component of a path ("/usr/bin/python3" -> "python3").
inline std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The one whole-file check of the parsers: an empty file is a read cut short. A last line
// without its newline is accepted (hand-edited fixture trees often lack it); a line cut in
// the middle of a record fails that record's own parse.
inline void require_content(std::string_view text) {
  if (text.empty()) throw ParseError(0, "file is empty");
}

}  // namespace memledger::text
