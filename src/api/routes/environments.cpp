// Environments: named sets of variables (some secret) that functions attach (issue 4).
#include "api/routes/handler.h"
#include "common/log.h"

namespace nil::api::routes {

namespace json = boost::json;

Expected<Response> list_environments(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  auto page = NIL_TRY(page_request(call.url));
  std::optional<store::AccessFilter> filter;
  if (!p.is_admin()) filter = store::AccessFilter{p.user_id};
  auto result = NIL_TRY(core.deps.store.list_environments(page, filter));
  return json_response(call.req, http::status::ok, page_json(result, environment_json));
}

Expected<Response> create_environment(ApiCore& core, const Call& call) {
  json::object body = NIL_TRY(json_object_body(call.req));
  store::NewEnvironment ne = NIL_TRY(parse_new_environment(body));
  store::Environment e = NIL_TRY(core.deps.store.create_environment(ne));
  // Never the values: they may be secrets.
  log::info("environment created", {{"environmentId", e.id},
                                    {"environment", e.name},
                                    {"keys", static_cast<int64_t>(e.vars.size())}});
  Response res = json_response(call.req, http::status::created, environment_json(e));
  res.set(http::field::location, "/environments/" + e.id);
  return res;
}

Expected<Response> get_environment(ApiCore& core, const Call& call) {
  return json_response(
      call.req, http::status::ok,
      environment_json(NIL_TRY(accessible_environment(core, call.who(), call.params[0]))));
}

Expected<Response> update_environment(ApiCore& core, const Call& call) {
  std::string_view ref = call.params[0];
  NIL_TRY(accessible_environment(core, call.who(), ref));
  if (!call.who().is_admin()) return admin_only();
  store::Environment current = NIL_TRY(core.deps.store.get_environment(ref));
  json::object body = NIL_TRY(json_object_body(call.req));
  store::EnvironmentUpdate u = NIL_TRY(parse_environment_update(body, current));
  store::Environment e = NIL_TRY(core.deps.store.update_environment(current.id, u));
  // Cached functions hold their environments' values: the next invocation must see the change.
  core.deps.invoker.invalidate_all();
  log::info("environment updated", {{"environmentId", e.id},
                                    {"environment", e.name},
                                    {"keys", static_cast<int64_t>(e.vars.size())}});
  return json_response(call.req, http::status::ok, environment_json(e));
}

Expected<Response> delete_environment(ApiCore& core, const Call& call) {
  std::string_view ref = call.params[0];
  NIL_TRY(accessible_environment(core, call.who(), ref));
  if (!call.who().is_admin()) return admin_only();
  store::Environment e = NIL_TRY(core.deps.store.get_environment(ref));
  NIL_TRY_VOID(core.deps.store.delete_environment(e.id));
  log::info("environment deleted", {{"environmentId", e.id}, {"environment", e.name}});
  return no_content(call.req);
}

}  // namespace nil::api::routes
