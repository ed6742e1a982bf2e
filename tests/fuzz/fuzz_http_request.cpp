// Fuzz target: the HTTP request parser exactly as a connection drives it (api/request_parser.h):
// bytes arrive in pieces, a request may be followed by pipelined ones, the parser must never
// throw or crash, and a finished request must be framed consistently. Input layout: byte 0 picks
// the piece size (1..256), the rest is the byte stream.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0];
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  nil::api::RequestParser::Limits limits{4096,
                                         64 * 1024};  // a small body limit, the real header limit
  std::string buffer;
  size_t pos = 0;
  for (int requests = 0; requests < 8; ++requests) {
    nil::api::RequestParser parser(limits);
    while (parser.state() == nil::api::RequestParser::State::kNeedMore) {
      if (!buffer.empty()) buffer.erase(0, parser.feed(buffer));
      if (parser.state() != nil::api::RequestParser::State::kNeedMore) break;
      if (buffer.size() >= parser.max_buffered()) return 0;  // the session answers 431 here
      if (pos >= stream.size()) {
        parser.feed_eof();
        break;
      }
      size_t n = std::min({piece, stream.size() - pos, parser.max_buffered() - buffer.size()});
      buffer.append(stream.substr(pos, n));
      pos += n;
    }
    if (parser.state() != nil::api::RequestParser::State::kDone) return 0;
    auto req = parser.release();
    if (req.body().size() > limits.body_limit) __builtin_trap();  // body_limit holds
    if (req.count(boost::beast::http::field::content_length) > 1)
      __builtin_trap();  // refused before
  }
  return 0;
}
