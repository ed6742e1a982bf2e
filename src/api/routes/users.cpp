// Users (issue 5): admins manage everyone; a developer sees and changes only their own password.
#include "api/routes/handler.h"
#include "common/log.h"

namespace nil::api::routes {

namespace json = boost::json;

namespace {

// True when the change would leave no admin: refused (last_admin) so nobody is locked out.
Expected<bool> is_last_admin(ApiCore& core, const store::User& u) {
  if (u.role != store::Role::kAdmin) return false;
  store::PageRequest page;
  page.limit = 200;
  int admins = 0;
  while (true) {
    auto result = NIL_TRY(core.deps.store.list_users(page));
    for (const auto& x : result.items) admins += x.role == store::Role::kAdmin ? 1 : 0;
    if (admins > 1 || !result.next_cursor) break;
    page.cursor = result.next_cursor;
  }
  return admins <= 1;
}

// A developer sees only themself; anyone else does not exist for them.
Expected<void> visible_user(const auth::Principal& p, std::string_view ref) {
  if (!p.is_admin() && !is_self(p, ref)) return user_not_found(ref);
  return {};
}

}  // namespace

Expected<Response> list_users(ApiCore& core, const Call& call) {
  auto page = NIL_TRY(page_request(call.url));
  auto result = NIL_TRY(core.deps.store.list_users(page));
  return json_response(call.req, http::status::ok, page_json(result, user_json));
}

Expected<Response> create_user(ApiCore& core, const Call& call) {
  json::object body = NIL_TRY(json_object_body(call.req));
  NewUserRequest in = NIL_TRY(parse_new_user(body));
  store::NewUser nu;
  nu.username = in.username;
  nu.role = in.role;
  nu.grants = std::move(in.grants);
  auto permit = NIL_TRY(hash_permit(core));
  nu.password_hash = NIL_TRY(auth::hash_password(in.password));
  store::User u = NIL_TRY(core.deps.store.create_user(nu));
  log::info("user created", {{"userId", u.id},
                             {"username", u.username},
                             {"role", std::string(store::to_string(u.role))}});
  Response res = json_response(call.req, http::status::created, user_json(u));
  res.set(http::field::location, "/users/" + u.id);
  return res;
}

Expected<Response> get_user(ApiCore& core, const Call& call) {
  std::string_view ref = call.params[0];
  NIL_TRY_VOID(visible_user(call.who(), ref));
  return json_response(call.req, http::status::ok,
                       user_json(NIL_TRY(core.deps.store.get_user(ref))));
}

Expected<Response> update_user(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  std::string_view ref = call.params[0];
  NIL_TRY_VOID(visible_user(p, ref));
  json::object body = NIL_TRY(json_object_body(call.req));
  NIL_TRY_VOID(check_user_update_fields(body, p.is_admin()));
  store::User current = NIL_TRY(core.deps.store.get_user(ref));
  UserUpdateRequest in = NIL_TRY(parse_user_update(body));
  store::UserUpdate u;
  if (in.password) {
    auto permit = NIL_TRY(hash_permit(core));
    u.password_hash = NIL_TRY(auth::hash_password(*in.password));
  }
  u.role = in.role;
  u.grants = std::move(in.grants);
  if (u.role && *u.role != store::Role::kAdmin && NIL_TRY(is_last_admin(core, current))) {
    return make_error(ErrorCode::kLastAdmin, "the last admin cannot be demoted");
  }
  store::User updated = NIL_TRY(core.deps.store.update_user(current.id, u));
  core.deps.auth.invalidate_all();  // cached principals carry the role and grants
  log::info("user updated", {{"userId", updated.id}, {"username", updated.username}});
  return json_response(call.req, http::status::ok, user_json(updated));
}

Expected<Response> delete_user(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  std::string_view ref = call.params[0];
  NIL_TRY_VOID(visible_user(p, ref));
  if (!p.is_admin()) return admin_only();
  store::User current = NIL_TRY(core.deps.store.get_user(ref));
  if (NIL_TRY(is_last_admin(core, current)))
    return make_error(ErrorCode::kLastAdmin, "the last admin cannot be deleted");
  NIL_TRY_VOID(core.deps.store.delete_user(current.id));
  core.deps.auth
      .invalidate_all();  // its keys and sessions are gone: no cached principal may outlive them
  log::info("user deleted", {{"userId", current.id}, {"username", current.username}});
  return no_content(call.req);
}

}  // namespace nil::api::routes
