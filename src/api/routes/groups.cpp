// Groups of users (admin only; the table requires it): access lists name them.
#include "api/routes/handler.h"
#include "common/log.h"

namespace nil::api::routes {

namespace json = boost::json;

Expected<Response> list_groups(ApiCore& core, const Call& call) {
  auto page = NIL_TRY(page_request(call.url));
  auto result = NIL_TRY(core.deps.store.list_groups(page));
  return json_response(call.req, http::status::ok, page_json(result, group_json));
}

Expected<Response> create_group(ApiCore& core, const Call& call) {
  json::object body = NIL_TRY(json_object_body(call.req));
  std::string name = NIL_TRY(parse_new_group(body));
  store::Group g = NIL_TRY(core.deps.store.create_group(name));
  log::info("group created", {{"groupId", g.id}, {"group", g.name}});
  Response res = json_response(call.req, http::status::created, group_json(g));
  res.set(http::field::location, "/groups/" + g.id);
  return res;
}

Expected<Response> get_group(ApiCore& core, const Call& call) {
  return json_response(call.req, http::status::ok,
                       group_json(NIL_TRY(core.deps.store.get_group(call.params[0]))));
}

Expected<Response> delete_group(ApiCore& core, const Call& call) {
  store::Group g = NIL_TRY(core.deps.store.get_group(call.params[0]));
  NIL_TRY_VOID(core.deps.store.delete_group(g.id));
  core.deps.auth.invalidate_all();  // cached principals carry their group ids
  log::info("group deleted", {{"groupId", g.id}, {"group", g.name}});
  return no_content(call.req);
}

Expected<Response> list_group_members(ApiCore& core, const Call& call) {
  store::Group g = NIL_TRY(core.deps.store.get_group(call.params[0]));
  return json_response(call.req, http::status::ok, json::object{{"items", members_json(g)}});
}

Expected<Response> add_group_member(ApiCore& core, const Call& call) {
  json::object body = NIL_TRY(json_object_body(call.req));
  std::string user = NIL_TRY(parse_group_member(body));
  NIL_TRY_VOID(core.deps.store.add_group_member(call.params[0], user));
  core.deps.auth.invalidate_all();
  return no_content(call.req);
}

Expected<Response> remove_group_member(ApiCore& core, const Call& call) {
  NIL_TRY_VOID(core.deps.store.remove_group_member(call.params[0], call.params[1]));
  core.deps.auth.invalidate_all();
  return no_content(call.req);
}

}  // namespace nil::api::routes
