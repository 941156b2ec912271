#include "exporter/http_head.h"

#include <charconv>

namespace memledger {

namespace {

// Offset just past the empty line ending the head, or npos.
std::size_t head_end(std::string_view text) {
  for (std::size_t i = text.find('\n'); i != std::string_view::npos; i = text.find('\n', i + 1)) {
    if (i + 1 < text.size() && text[i + 1] == '\n') return i + 2;
    if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') return i + 3;
  }
  return std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] + 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> to_u64(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

// Calls visit(name, value) for each header line of `head` (the request or status line
// excluded). Lines without a colon are skipped: civetweb judges them.
template <class Visit>
void for_each_header(std::string_view head, Visit&& visit) {
  std::size_t start = head.find('\n');
  while (start != std::string_view::npos && start + 1 < head.size()) {
    std::size_t end = head.find('\n', start + 1);
    std::string_view line = head.substr(start + 1, end == std::string_view::npos
                                                        ? std::string_view::npos
                                                        : end - start - 1);
    if (auto colon = line.find(':'); colon != std::string_view::npos) {
      visit(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
    }
    start = end;
  }
}

}  // namespace

RequestFraming frame_request(std::string_view received, std::size_t max_bytes) {
  using Verdict = RequestFraming::Verdict;
  RequestFraming out;
  std::size_t end = head_end(received.substr(0, max_bytes));
  if (end == std::string_view::npos) {
    out.verdict = received.size() >= max_bytes ? Verdict::too_large : Verdict::incomplete;
    return out;
  }
  std::string_view head = received.substr(0, end);
  out.head_only = head.substr(0, 5) == "HEAD ";
  std::optional<std::uint64_t> length;
  bool bad_length = false;
  bool transfer_encoding = false;
  for_each_header(head, [&](std::string_view name, std::string_view value) {
    if (iequals(name, "Content-Length")) {
      auto n = to_u64(value);
      // Repeated lengths must agree (RFC 9110 8.6), else the framing is ambiguous.
      if (!n || (length && *length != *n)) bad_length = true;
      length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      transfer_encoding = true;
    }
  });
  if (bad_length) {
    out.verdict = Verdict::bad_length;
  } else if (transfer_encoding) {
    out.verdict = Verdict::chunked;
  } else if (length.value_or(0) > max_bytes - end) {
    out.verdict = Verdict::too_large;
    out.body_too_large = true;
  } else if (received.size() < end + length.value_or(0)) {
    out.verdict = Verdict::incomplete;
  } else {
    out.verdict = Verdict::complete;
    out.size = end + static_cast<std::size_t>(length.value_or(0));
  }
  return out;
}

std::optional<ResponseHead> parse_response_head(std::string_view received) {
  std::size_t end = head_end(received);
  if (end == std::string_view::npos) return std::nullopt;
  ResponseHead out;
  out.head_size = end;
  std::string_view head = received.substr(0, end);
  // "HTTP/1.1 200 OK"
  if (head.size() < 12 || head.substr(0, 7) != "HTTP/1." || head[8] != ' ') return out;
  auto status = to_u64(head.substr(9, 3));
  if (!status || *status < 100 || *status > 999) return out;
  bool keep_alive_header = false;
  bool invalid = false;
  for_each_header(head, [&](std::string_view name, std::string_view value) {
    if (iequals(name, "Content-Length")) {
      auto n = to_u64(value);
      if (!n || (out.content_length && *out.content_length != *n)) invalid = true;
      out.content_length = n;
    } else if (iequals(name, "Connection")) {
      if (iequals(value, "close")) out.close = true;
      if (iequals(value, "keep-alive")) keep_alive_header = true;
    } else if (iequals(name, "Transfer-Encoding")) {
      invalid = true;  // the front frames by length only; such a response ends with the connection
    }
  });
  if (invalid) out.content_length.reset();
  if (head[7] == '0' && !keep_alive_header) out.close = true;
  out.status = static_cast<int>(*status);
  return out;
}

}  // namespace memledger
