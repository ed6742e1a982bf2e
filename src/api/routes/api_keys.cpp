// API keys: a user's own (an admin's for anyone); the token is shown once, at creation.
#include "api/routes/handler.h"
#include "common/log.h"
#include "common/util.h"

namespace nil::api::routes {

namespace json = boost::json;

Expected<Response> list_api_keys(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  auto page = NIL_TRY(page_request(call.url));
  std::optional<std::string> user_id;
  if (auto it = call.url.params().find("userId"); it != call.url.params().end())
    user_id = std::string((*it).value);
  if (!p.is_admin()) {
    if (user_id && !is_self(p, *user_id))
      return forbidden("only an admin may list other users' keys");
    user_id = p.user_id;
  } else if (user_id) {
    user_id = NIL_TRY(core.deps.store.get_user(*user_id)).id;
  }
  core.deps.auth.flush_last_used();
  auto result = NIL_TRY(core.deps.store.list_api_keys(page, user_id));
  return json_response(call.req, http::status::ok, page_json(result, api_key_json));
}

Expected<Response> create_api_key(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  json::object body = NIL_TRY(json_object_body(call.req));
  NewApiKeyRequest in = NIL_TRY(parse_new_api_key(body, core.deps.auth.clock().now_micros()));
  std::string owner = p.user_id;
  if (in.user_ref) {
    if (!p.is_admin() && !is_self(p, *in.user_ref))
      return forbidden("only an admin may create keys for other users");
    owner = *in.user_ref;
  }
  auto created = auth::create_api_key(core.deps.store, owner, in.name, in.expires_at);
  if (!created && created.error().code == ErrorCode::kUserNotFound)
    return invalid(ErrorCode::kUnknownUser, created.error().message);
  if (!created) return created.error();
  log::info("API key created", {{"keyId", created->key.id},
                                {"userId", created->key.user_id},
                                {"prefix", created->key.prefix}});
  json::object o = api_key_json(created->key);
  o["key"] = created->token;
  Response res = json_response(call.req, http::status::created, o);
  res.set(http::field::location, "/api-keys/" + created->key.id);
  res.set(http::field::cache_control, "no-store");
  return res;
}

Expected<Response> revoke_api_key(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  std::string_view id = call.params[0];
  auto key = core.deps.store.get_api_key(id);
  if (!key || (!p.is_admin() && key->user_id != p.user_id)) {
    if (key || key.error().code == ErrorCode::kApiKeyNotFound) {
      return make_error(ErrorCode::kApiKeyNotFound, "no API key with id '" + std::string(id) + "'");
    }
    return key.error();
  }
  NIL_TRY_VOID(core.deps.store.revoke_api_key(key->id));
  core.deps.auth.invalidate_key(key->id);
  log::info("API key revoked", {{"keyId", key->id}, {"userId", key->user_id}});
  return no_content(call.req);
}

}  // namespace nil::api::routes
