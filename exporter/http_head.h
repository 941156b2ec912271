#pragma once
// Just enough HTTP/1.x framing for the front door (exporter/front_door.h) to know where a
// request and its response end: civetweb still parses and answers every request. Pure
// functions over the bytes received so far.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace memledger {

struct RequestFraming {
  enum class Verdict {
    incomplete,      // more bytes needed
    complete,        // `size` bytes (head and body) form one request
    too_large,       // no end of head within the limit, or a body past it: 431 / 413
    bad_length,      // Content-Length that is not one number: 400
    chunked,         // a Transfer-Encoding the front cannot frame: 501
  };
  Verdict verdict = Verdict::incomplete;
  std::size_t size = 0;   // head + body, when complete
  bool head_only = false; // HEAD: the response carries no body whatever its Content-Length
  bool body_too_large = false;  // too_large because of the body (413), not the head (431)
};

// Frames the first request in `received`. A request (head and body) longer than
// `max_bytes` is too_large. The end of the head is an empty line, "\r\n\r\n" or "\n\n"
// (as civetweb accepts).
RequestFraming frame_request(std::string_view received, std::size_t max_bytes);

struct ResponseHead {
  int status = 0;
  std::size_t head_size = 0;
  std::optional<std::uint64_t> content_length;
  bool close = false;  // "Connection: close", or HTTP/1.0 without "Connection: keep-alive"
};

// Parses the response head at the start of `received`: nullopt while it is incomplete;
// a status of 0 when what came is not an HTTP/1.x response head.
std::optional<ResponseHead> parse_response_head(std::string_view received);

}  // namespace memledger
