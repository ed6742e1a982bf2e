#include "api/routes/handler.h"

namespace nil::api::routes {

Response text_response(const Request& req, http::status status, std::string body,
                       std::string_view content_type) {
  Response res{status, req.version()};
  res.set(http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  return res;
}

Response json_response(const Request& req, http::status status, const boost::json::value& v) {
  return text_response(req, status, to_json_text(v), "application/json");
}

Response no_content(const Request& req) {
  Response res{http::status::no_content, req.version()};
  res.keep_alive(req.keep_alive());
  return res;
}

Error invalid(ErrorCode code, std::string msg) { return make_error(code, std::move(msg)); }
Error forbidden(std::string msg) { return make_error(ErrorCode::kForbidden, std::move(msg)); }
Error unauthorized(std::string msg) { return make_error(ErrorCode::kUnauthorized, std::move(msg)); }
Error admin_only() { return forbidden("this needs the admin role"); }
Error route_not_found(std::string_view path) {
  return make_error(ErrorCode::kRouteNotFound, "no route for " + std::string(path));
}
Error function_not_found(std::string_view ref) {
  return make_error(ErrorCode::kFunctionNotFound,
                    "no function with id or name '" + std::string(ref) + "'");
}
Error environment_not_found(std::string_view ref) {
  return make_error(ErrorCode::kEnvironmentNotFound,
                    "no environment with id or name '" + std::string(ref) + "'");
}
Error user_not_found(std::string_view ref) {
  return make_error(ErrorCode::kUserNotFound,
                    "no user with id or username '" + std::string(ref) + "'");
}

std::string_view content_type(const Request& req) {
  auto it = req.find(http::field::content_type);
  return it == req.end() ? std::string_view{} : std::string_view(it->value());
}

Expected<auth::HashSlots::Permit> hash_permit(ApiCore& core) {
  auto permit = core.hash_slots.try_acquire();
  if (!permit) {
    Error e = make_error(ErrorCode::kPasswordHashingBusy,
                         "too many logins or password changes are being processed; retry shortly");
    e.retry_after_s = 1;
    return e;
  }
  return std::move(*permit);
}

Expected<boost::json::object> json_object_body(const Request& req) {
  return parse_json_object(content_type(req), req.body());
}

Expected<store::PageRequest> page_request(const boost::urls::url_view& url) {
  std::optional<std::string> limit, cursor;
  if (auto it = url.params().find("limit"); it != url.params().end())
    limit = std::string((*it).value);
  if (auto it = url.params().find("cursor"); it != url.params().end())
    cursor = std::string((*it).value);
  return parse_page(limit, cursor);
}

std::string_view header_value(const Request& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string_view{} : std::string_view(it->value());
}

bool is_self(const auth::Principal& p, std::string_view ref) {
  return ref == p.user_id || ref == p.username;
}

Expected<store::Function> accessible_function(ApiCore& core, const auth::Principal& p,
                                              std::string_view ref) {
  auto f = core.deps.store.get_function(ref);
  if (!f) return f.error();
  if (!auth::can_access(p, f->allowed)) return function_not_found(ref);
  return f;
}

Expected<store::Environment> accessible_environment(ApiCore& core, const auth::Principal& p,
                                                    std::string_view ref) {
  auto e = core.deps.store.get_environment(ref);
  if (!e) return e.error();
  if (!auth::can_access(p, e->allowed)) return environment_not_found(ref);
  return e;
}

}  // namespace nil::api::routes
