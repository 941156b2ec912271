#pragma once
// Errors a collector may raise. The scrape loop catches them, marks the collector
// failed for this scrape and logs the file and line once.
#include <cstddef>
#include <stdexcept>
#include <string>

namespace memledger {

// Thrown by pure parsers: they know the line, not the file.
class ParseError : public std::runtime_error {
 public:
  ParseError(std::size_t line, const std::string& what)
      : std::runtime_error(what), line_(line) {}
  std::size_t line() const { return line_; }

 private:
  std::size_t line_;  // 1-based; 0 when the problem is not tied to one line
};

// What the scrape loop reports: a file (may be empty) and line (0: whole file).
class CollectError : public std::runtime_error {
 public:
  CollectError(std::string file, std::size_t line, const std::string& what)
      : std::runtime_error(what), file_(std::move(file)), line_(line) {}
  const std::string& file() const { return file_; }
  std::size_t line() const { return line_; }

 private:
  std::string file_;
  std::size_t line_;
};

}  // namespace memledger
