// The CLI's HTTP client: one libcurl easy handle (kept-alive connection) speaking NIL's public REST
// API. Every request carries `Authorization: Bearer KEY` when a key is configured.
//
// Failures are values: an unreachable server is code "unreachable" with a one-line message
// ("cannot reach http://127.0.0.1:8080: connection refused"); an error status becomes an Error
// whose code is the problem+json `code` and whose message is its `detail` followed by the code.
// Used by one thread (the CLI is single-threaded).
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/expected.h"

namespace nil::cli {

namespace json = boost::json;

// Extra request headers: {"Idempotency-Key", "k"}.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  long status = 0;
  std::string content_type;
  std::string body;
};

// A successful JSON answer: the parsed value and the server's exact text (printed by --json, so
// that numbers keep the server's formatting).
struct JsonReply {
  long status = 0;
  json::value value;  // null for 204
  std::string text;
};

class ApiClient {
 public:
  ApiClient(std::string base_url, std::string api_key);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  const std::string& base_url() const { return base_url_; }

  // Sends one request; any HTTP status is a value here (only transport failures are errors).
  Expected<HttpReply> send(std::string_view method, std::string_view path,
                           std::string_view body = {}, std::string_view content_type = {},
                           const Headers& extra = {});

  // Sends `body` (if not null) as JSON; a 2xx answer is parsed, anything else becomes the
  // server's problem as an Error.
  Expected<JsonReply> call(std::string_view method, std::string_view path,
                           const json::value* body = nullptr, const Headers& extra = {});
  Expected<JsonReply> get(std::string_view path) { return call("GET", path); }
  Expected<JsonReply> post(std::string_view path, const json::value& body) {
    return call("POST", path, &body);
  }
  Expected<JsonReply> put(std::string_view path, const json::value& body) {
    return call("PUT", path, &body);
  }
  Expected<JsonReply> del(std::string_view path) { return call("DELETE", path); }

 private:
  struct Handle;
  std::string base_url_;
  std::string api_key_;
  std::unique_ptr<Handle> handle_;
};

// An error answer (status >= 400) as an Error: problem+json code and detail when present.
Error error_from_reply(const HttpReply& reply);

// Percent-encodes one path segment (user names may hold anything).
std::string path_segment(std::string_view s);

}  // namespace nil::cli
