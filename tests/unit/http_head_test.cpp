#include <catch2/catch.hpp>

#include "exporter/front_door.h"
#include "exporter/http_head.h"

using memledger::frame_request;
using memledger::parse_response_head;
using Verdict = memledger::RequestFraming::Verdict;

TEST_CASE("frame_request: a scrape's head, whole and in pieces") {
  std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";
  auto whole = frame_request(request, 8192);
  CHECK(whole.verdict == Verdict::complete);
  CHECK(whole.size == request.size());
  CHECK_FALSE(whole.head_only);
  for (std::size_t cut = 0; cut < request.size(); ++cut) {
    CHECK(frame_request(std::string_view(request).substr(0, cut), 8192).verdict == Verdict::incomplete);
  }
  // A pipelined second request is not part of the first.
  CHECK(frame_request(request + "GET / HTTP/1.1\r\n", 8192).size == request.size());
  CHECK(frame_request("HEAD / HTTP/1.0\n\n", 8192).head_only);
  CHECK(frame_request("HEAD / HTTP/1.0\n\n", 8192).size == 17);
}

TEST_CASE("frame_request: bodies are framed by Content-Length only") {
  auto body = frame_request("POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello+next", 8192);
  CHECK(body.verdict == Verdict::complete);
  CHECK(body.size == 43);
  CHECK(frame_request("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort", 8192).verdict ==
        Verdict::incomplete);
  for (const char* bad : {"-1", "abc", "99999999999999999999999", "", "5 5"}) {
    CHECK(frame_request(std::string("GET / HTTP/1.1\r\nContent-Length: ") + bad + "\r\n\r\n", 8192)
              .verdict == Verdict::bad_length);
  }
  CHECK(frame_request("GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n12345", 8192)
            .verdict == Verdict::bad_length);
  CHECK(frame_request("GET / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", 8192)
            .verdict == Verdict::complete);
  CHECK(frame_request("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 8192).verdict ==
        Verdict::chunked);
  auto large = frame_request("POST / HTTP/1.1\r\nContent-Length: 9000\r\n\r\n", 8192);
  CHECK(large.verdict == Verdict::too_large);
  CHECK(large.body_too_large);
}

TEST_CASE("frame_request: a head past the limit is too large, whatever follows") {
  std::string huge = "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(10000, 'a');
  CHECK(frame_request(huge, 8192).verdict == Verdict::too_large);
  CHECK_FALSE(frame_request(huge, 8192).body_too_large);
  CHECK(frame_request(huge + "\r\n\r\n", 8192).verdict == Verdict::too_large);
  CHECK(frame_request(std::string(100, 'x'), 8192).verdict == Verdict::incomplete);
  // Junk with an empty line is framed; civetweb answers it.
  CHECK(frame_request(std::string(1000, '\0') + "\r\n\r\n", 8192).verdict == Verdict::complete);
}

TEST_CASE("parse_response_head: civetweb's responses") {
  std::string ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
                   "Connection: keep-alive\r\n\r\nabc";
  auto head = parse_response_head(ok);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->head_size == ok.size() - 3);
  CHECK(head->content_length == 3u);
  CHECK_FALSE(head->close);
  CHECK_FALSE(parse_response_head(ok.substr(0, 40)));

  auto closing = parse_response_head("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
  REQUIRE(closing);
  CHECK(closing->status == 400);
  CHECK(closing->close);
  CHECK_FALSE(closing->content_length);

  auto old = parse_response_head("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(old);
  CHECK(old->close);  // HTTP/1.0 without keep-alive
  CHECK(parse_response_head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n")->close == false);

  CHECK(parse_response_head("garbage\r\n\r\n")->status == 0);
  CHECK(parse_response_head("HTTP/1.1 2x0 OK\r\n\r\n")->status == 0);
  auto chunked = parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                     "Content-Length: 5\r\n\r\n");
  CHECK_FALSE(chunked->content_length);  // ends with the connection
}

TEST_CASE("connections_within_fd_limit keeps room for the workers and the collectors") {
  using memledger::connections_within_fd_limit;
  CHECK(connections_within_fd_limit(4096, 1'048'576, 8) == 4096);
  CHECK(connections_within_fd_limit(4096, 256, 8) == 256 - 64 - 3 * 8);
  CHECK(connections_within_fd_limit(4096, 1024, 8) == 1024 - 64 - 24);
  CHECK(connections_within_fd_limit(4096, 50, 8) == 16);  // a floor, even when nothing fits
}
