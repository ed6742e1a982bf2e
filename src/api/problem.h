// Problem responses (RFC 9457) — the one place where an Error becomes an HTTP status.
//
// The status and title of a code come from the registry (common/error_codes.inc); the only
// answer with another status is malformed_request's 431 for a too-large header, which the
// connection layer passes explicitly (Handler::reject).
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "api/http_server.h"
#include "common/expected.h"

namespace nil::api {

// The registry's status of `code`.
http::status status_for(ErrorCode code);
// The problem document {type, title, status, detail, code, instance} (instance only when not
// empty), for answers that add members of their own (function_failed).
boost::json::object problem_json(ErrorCode code, std::string_view detail,
                                 std::string_view instance);
// application/problem+json with the registry's status and title; a 401 names the scheme
// (WWW-Authenticate), a 429 — or any Error with retry_after_s — says when to come back
// (Retry-After).
Response problem(const Error& e, std::string_view instance, unsigned version, bool keep_alive);
// The same with an explicit status: the connection layer's rejections (431 malformed_request).
Response problem(http::status status, ErrorCode code, std::string_view detail,
                 std::string_view instance, unsigned version, bool keep_alive);

}  // namespace nil::api
