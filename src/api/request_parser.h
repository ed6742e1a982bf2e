// nil::api request parsing — bytes in, one HTTP/1.1 request out, never an exception.
//
// Wraps Beast's request parser for HttpServer's sessions (and for the fuzz target
// tests/fuzz/fuzz_http_request.cpp, which drives exactly this code). Why a wrapper:
// - Beast throws from inside the parser on some input (a header or trailer field of 64 KiB or
//   more: std::length_error "field value too large" from basic_fields); an exception escaping an
//   I/O handler ends the process. feed() catches everything and turns it into a rejection.
// - Message framing is checked once the header is complete, before any body byte is read
//   (RFC 9112 §6.1-6.3): a Transfer-Encoding whose last coding is not `chunked`, Transfer-Encoding
//   in an HTTP/1.0 request, Transfer-Encoding together with Content-Length, or more than one
//   Content-Length are refused (400, connection closed), never guessed at: a proxy in front of
//   nild may have framed the same bytes differently (request smuggling).
// - Buffered bytes are capped (header_limit + 4 KiB): a chunk header or trailer section that never
//   ends cannot grow the buffer.
//
// Threads: one parser per connection, used by one thread at a time.
#pragma once

#include <boost/beast/http.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_server.h"

namespace nil::api {

// Why a request was refused before it reached the handler. `status` 0: close without answering;
// otherwise the registry's status of `code`, or 431 for a header that is too large.
struct Rejection {
  http::status status = http::status::unknown;
  ErrorCode code = ErrorCode::kMalformedRequest;
  std::string detail;
  bool answer() const { return status != http::status::unknown; }
};

class RequestParser {
 public:
  struct Limits {
    uint64_t body_limit = 8 << 20;
    uint32_t header_limit = 64 * 1024;
  };
  enum class State { kNeedMore, kDone, kRejected };

  explicit RequestParser(Limits limits);

  // Feeds buffered bytes; returns how many were consumed (the caller drops them from its buffer;
  // the rest belongs to a later call or, after kDone, to the next request). Never throws.
  size_t feed(std::string_view bytes);
  // The peer closed its side: a request is never framed by EOF, so anything started is incomplete.
  void feed_eof();

  State state() const { return state_; }
  bool header_done() const { return parser_->is_header_done(); }
  bool started() const { return started_; }  // some byte of this request was consumed
  const Rejection& rejection() const { return rejection_; }
  Request release();  // after kDone

  // The most bytes a connection keeps buffered for one parse step.
  size_t max_buffered() const { return limits_.header_limit + 4096; }

  // The framing rules above, on a complete header: nullopt when acceptable.
  static std::optional<Rejection> check_framing(
      const http::request_parser<http::string_body>::value_type& h);

 private:
  void reject(http::status status, ErrorCode code, std::string detail);
  void on_error(const boost::system::error_code& ec);

  Limits limits_;
  std::optional<http::request_parser<http::string_body>> parser_;
  State state_ = State::kNeedMore;
  bool framing_checked_ = false;
  bool started_ = false;
  Rejection rejection_;
};

}  // namespace nil::api
