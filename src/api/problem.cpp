#include "api/problem.h"

#include <boost/json.hpp>

#include <algorithm>
#include <string>

namespace nil::api {

http::status status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return http::status::bad_request;
    case ErrorKind::kNotFound: return http::status::not_found;
    case ErrorKind::kConflict: return http::status::conflict;
    case ErrorKind::kTooLarge: return http::status::payload_too_large;
    case ErrorKind::kUnsupported: return http::status::unsupported_media_type;
    case ErrorKind::kUnavailable: return http::status::service_unavailable;
    case ErrorKind::kUnauthenticated: return http::status::unauthorized;
    case ErrorKind::kForbidden: return http::status::forbidden;
    case ErrorKind::kRateLimited: return http::status::too_many_requests;
    case ErrorKind::kInternal: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

Response problem(http::status status, std::string_view code, std::string_view detail,
                 std::string_view instance, unsigned version, bool keep_alive) {
  boost::json::object o;
  o["type"] = "urn:nil:problem:" + std::string(code);
  o["title"] = std::string(http::obsolete_reason(status));
  o["status"] = static_cast<int>(status);
  o["detail"] = detail;
  o["code"] = code;
  if (!instance.empty()) o["instance"] = instance;
  Response res{status, version};
  res.set(http::field::content_type, "application/problem+json");
  res.keep_alive(keep_alive);
  res.body() = boost::json::serialize(o);
  return res;
}

Response problem(const Error& e, std::string_view instance, unsigned version, bool keep_alive) {
  Response res = problem(status_for(e.kind), e.code, e.message, instance, version, keep_alive);
  // RFC 9110: a 401 names the scheme to use; a 429 says when to come back.
  if (e.kind == ErrorKind::kUnauthenticated) res.set(http::field::www_authenticate, "Bearer realm=\"nil\"");
  if (e.kind == ErrorKind::kRateLimited) res.set(http::field::retry_after, std::to_string(std::max<int64_t>(1, e.retry_after_s)));
  return res;
}

}  // namespace nil::api
