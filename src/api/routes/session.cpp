// Sessions: POST /auth/login (a cookie and a CSRF token), POST /auth/logout, GET /auth/me.
#include "api/routes/handler.h"
#include "common/log.h"

namespace nil::api::routes {

namespace json = boost::json;

namespace {

std::string session_cookie(const ApiCore& core, std::string_view token, bool clear) {
  std::string c =
      std::string(kSessionCookie) + "=" + std::string(token) + "; Path=/; HttpOnly; SameSite=Lax";
  if (clear) c += "; Max-Age=0";
  if (core.opts.secure_cookies) c += "; Secure";
  return c;
}

}  // namespace

Expected<Response> login(ApiCore& core, const Call& call) {
  json::object body = NIL_TRY(json_object_body(call.req));
  LoginRequest in = NIL_TRY(parse_login(body));
  std::string address(header_value(call.req, kPeerAddressField));
  if (int64_t wait = core.login_throttle.blocked_for(in.username, address); wait > 0) {
    Error e = make_error(ErrorCode::kLoginThrottled, "too many failed logins; try again later");
    e.retry_after_s = wait;
    return e;
  }
  auto permit = NIL_TRY(hash_permit(core));
  auto r = core.deps.auth.login(in.username, in.password);
  if (!r) {
    if (r.error().code == ErrorCode::kInvalidCredentials) {
      core.login_throttle.failure(in.username, address);
      log::warn("login failed", {{"username", in.username}, {"address", address}});
    }
    return r.error();
  }
  core.login_throttle.success(in.username);
  log::info("login", {{"userId", r->user.id}, {"username", r->user.username}});
  Response res =
      json_response(call.req, http::status::ok,
                    json::object{{"user", user_json(r->user)}, {"csrfToken", r->csrf_token}});
  res.set(http::field::set_cookie, session_cookie(core, r->session_token, false));
  res.set(http::field::cache_control, "no-store");
  return res;
}

Expected<Response> logout(ApiCore& core, const Call& call) {
  NIL_TRY_VOID(core.deps.auth.logout(call.who()));
  Response res = no_content(call.req);
  res.set(http::field::set_cookie, session_cookie(core, "", true));
  return res;
}

Expected<Response> me(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  json::object o = user_json(NIL_TRY(core.deps.store.get_user(p.user_id)));
  o["authenticatedBy"] = p.method == auth::Principal::Method::kApiKey ? "api_key" : "session";
  return json_response(call.req, http::status::ok, o);
}

}  // namespace nil::api::routes
