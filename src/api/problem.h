// Problem responses (RFC 9457) — the one place where an Error becomes an HTTP status.
#pragma once

#include <string_view>

#include "api/http_server.h"
#include "common/expected.h"

namespace nil::api {

http::status status_for(ErrorKind kind);
// application/problem+json with type, title, status, detail, code, instance.
Response problem(http::status status, std::string_view code, std::string_view detail,
                 std::string_view instance, unsigned version, bool keep_alive);
Response problem(const Error& e, std::string_view instance, unsigned version, bool keep_alive);

}  // namespace nil::api
