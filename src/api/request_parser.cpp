#include "api/request_parser.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <cctype>
#include <exception>
#include <new>
#include <stdexcept>
#include <vector>

#include "api/problem.h"

namespace nil::api {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

}  // namespace

RequestParser::RequestParser(Limits limits) : limits_(limits) {
  parser_.emplace();
  parser_->body_limit(limits_.body_limit);
  parser_->header_limit(limits_.header_limit);
  parser_->eager(false);  // stop after the header: framing is checked before the body is read
}

std::optional<Rejection> RequestParser::check_framing(
    const http::request_parser<http::string_body>::value_type& h) {
  auto bad = [](std::string detail) {
    return Rejection{status_for(ErrorCode::kMalformedRequest), ErrorCode::kMalformedRequest,
                     std::move(detail)};
  };
  // Every Transfer-Encoding field, as one list of codings (RFC 9110 §5.3: fields combine).
  std::vector<std::string_view> codings;
  size_t te_fields = 0;
  for (auto range = h.equal_range(http::field::transfer_encoding); range.first != range.second;
       ++range.first) {
    ++te_fields;
    std::string_view v = range.first->value();
    while (true) {
      size_t comma = v.find(',');
      std::string_view c = trim(v.substr(0, comma));
      // A coding may carry parameters ("gzip;q=1" is not valid here, but be exact about chunked).
      if (!c.empty()) codings.push_back(c);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  size_t cl_fields = 0;
  for (auto range = h.equal_range(http::field::content_length); range.first != range.second;
       ++range.first) {
    ++cl_fields;
    // Digits only: Beast also takes a list ("5, 5"), which another parser may read differently.
    std::string_view v = trim(range.first->value());
    if (v.empty() ||
        !std::all_of(v.begin(), v.end(), [](unsigned char c) { return c >= '0' && c <= '9'; })) {
      return bad("Content-Length must be a single decimal number");
    }
  }

  if (te_fields > 0) {
    if (h.version() < 11) return bad("Transfer-Encoding is not allowed in an HTTP/1.0 request");
    if (codings.empty() || !iequals(codings.back(), "chunked")) {
      return bad("the last Transfer-Encoding must be chunked (RFC 9112 section 6.3)");
    }
    if (cl_fields > 0)
      return bad("a request must not carry both Transfer-Encoding and Content-Length");
    if (codings.size() > 1) {
      return Rejection{status_for(ErrorCode::kUnsupportedTransferEncoding),
                       ErrorCode::kUnsupportedTransferEncoding,
                       "only the chunked transfer coding is supported"};
    }
  }
  if (cl_fields > 1) return bad("more than one Content-Length field");
  return std::nullopt;
}

void RequestParser::reject(http::status status, ErrorCode code, std::string detail) {
  state_ = State::kRejected;
  rejection_ = Rejection{status, code, std::move(detail)};
}

void RequestParser::on_error(const boost::system::error_code& ec) {
  if (ec == http::error::body_limit) {
    return reject(status_for(ErrorCode::kBodyTooLarge), ErrorCode::kBodyTooLarge,
                  "request body is larger than " + std::to_string(limits_.body_limit) + " bytes");
  }
  if (ec == http::error::header_limit) {
    return reject(http::status::request_header_fields_too_large, ErrorCode::kMalformedRequest,
                  "request header is too large");
  }
  if (ec == http::error::partial_message || ec == http::error::end_of_stream) {
    return reject(http::status::unknown, ErrorCode::kMalformedRequest,
                  "");  // the peer went away mid-request: just close
  }
  reject(status_for(ErrorCode::kMalformedRequest), ErrorCode::kMalformedRequest,
         "malformed HTTP request: " + ec.message());
}

size_t RequestParser::feed(std::string_view bytes) {
  if (state_ != State::kNeedMore) return 0;
  size_t total = 0;
  try {
    while (state_ == State::kNeedMore && total < bytes.size()) {
      // Beast 1.81 asserts (BOOST_ASSERT(n >= 5), parse_chunk_header) when it is re-entered
      // with 4 buffered bytes after the last chunk's "0\r\n" (found by fuzz_http_request; an
      // abort in builds with assertions on). What remains of a chunked body is never shorter than
      // its final "0\r\n\r\n", so waiting for 5 bytes never stalls a valid request.
      if (framing_checked_ && parser_->chunked() && bytes.size() - total < 5) break;
      boost::system::error_code ec;
      size_t n =
          parser_->put(boost::asio::const_buffer(bytes.data() + total, bytes.size() - total), ec);
      total += n;
      if (n > 0) started_ = true;
      if (ec == http::error::need_more) break;
      if (ec) {
        on_error(ec);
        break;
      }
      if (parser_->is_header_done() && !framing_checked_) {
        framing_checked_ = true;
        if (auto r = check_framing(parser_->get())) {
          state_ = State::kRejected;
          rejection_ = std::move(*r);
          break;
        }
        parser_->eager(true);
      }
      if (parser_->is_done()) {
        state_ = State::kDone;
        break;
      }
      if (n == 0) break;  // no progress without more bytes
    }
  } catch (const std::length_error&) {
    // Beast's fields hold at most 64 KiB per name or value (trailers are not under header_limit).
    reject(http::status::request_header_fields_too_large, ErrorCode::kMalformedRequest,
           "a header or trailer field is too large");
  } catch (const std::bad_alloc&) {
    reject(status_for(ErrorCode::kOverloaded), ErrorCode::kOverloaded,
           "out of memory while reading the request");
  } catch (const std::exception& e) {
    reject(status_for(ErrorCode::kMalformedRequest), ErrorCode::kMalformedRequest,
           std::string("malformed HTTP request: ") + e.what());
  }
  return total;
}

void RequestParser::feed_eof() {
  if (state_ != State::kNeedMore) return;
  reject(http::status::unknown, ErrorCode::kMalformedRequest, "");
}

Request RequestParser::release() { return parser_->release(); }

}  // namespace nil::api
