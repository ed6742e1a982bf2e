#include "api/problem.h"

#include <algorithm>
#include <boost/json.hpp>
#include <string>

namespace nil::api {

namespace {

boost::json::object problem_object(http::status status, std::string_view title, ErrorCode code,
                                   std::string_view detail, std::string_view instance) {
  boost::json::object o;
  o["type"] = "urn:nil:problem:" + std::string(to_string(code));
  o["title"] = title;
  o["status"] = static_cast<int>(status);
  o["detail"] = detail;
  o["code"] = to_string(code);
  if (!instance.empty()) o["instance"] = instance;
  return o;
}

Response problem_response(http::status status, const boost::json::object& o, unsigned version,
                          bool keep_alive) {
  Response res{status, version};
  res.set(http::field::content_type, "application/problem+json");
  res.keep_alive(keep_alive);
  res.body() = boost::json::serialize(o);
  return res;
}

}  // namespace

http::status status_for(ErrorCode code) { return static_cast<http::status>(http_status(code)); }

boost::json::object problem_json(ErrorCode code, std::string_view detail,
                                 std::string_view instance) {
  return problem_object(status_for(code), info(code).title, code, detail, instance);
}

Response problem(const Error& e, std::string_view instance, unsigned version, bool keep_alive) {
  const http::status status = status_for(e.code);
  Response res =
      problem_response(status, problem_json(e.code, e.message, instance), version, keep_alive);
  // RFC 9110: a 401 names the scheme to use; a 429 says when to come back, and so does any
  // other answer whose Error says when (409 idempotency_key_in_use).
  if (status == http::status::unauthorized)
    res.set(http::field::www_authenticate, "Bearer realm=\"nil\"");
  if (status == http::status::too_many_requests || e.retry_after_s > 0)
    res.set(http::field::retry_after, std::to_string(std::max<int64_t>(1, e.retry_after_s)));
  return res;
}

Response problem(http::status status, ErrorCode code, std::string_view detail,
                 std::string_view instance, unsigned version, bool keep_alive) {
  return problem_response(
      status, problem_object(status, http::obsolete_reason(status), code, detail, instance),
      version, keep_alive);
}

}  // namespace nil::api
