// Functions: list, create, read, update, delete, and the multipart deploy (an upsert of a wasm
// module by name). Executing them is executions.cpp.
#include <algorithm>

#include "api/multipart.h"
#include "api/routes/handler.h"
#include "common/log.h"

namespace nil::api::routes {

namespace json = boost::json;

namespace {

json::object function_view(ApiCore& core, const store::Function& f) {
  return function_json(f, core.deps.invoker.tier(f));
}

FunctionRules function_rules(const ApiCore& core, const auth::Principal& p) {
  return FunctionRules{&core.opts.languages, core.opts.max_source_bytes, p.is_admin()};
}

Response created(ApiCore& core, const Request& req, const store::Function& f) {
  log::info("function registered",
            {{"functionId", f.id}, {"function", f.name}, {"language", f.language}});
  core.deps.compile_enqueued();
  Response res = json_response(req, http::status::accepted, function_view(core, f));
  res.set(http::field::location, "/functions/" + f.id);
  return res;
}

// "managers": user ids or usernames, stored as ids (unknown_user for one that does not exist).
Expected<std::vector<std::string>> resolve_managers(ApiCore& core,
                                                    const std::vector<std::string>& refs) {
  std::vector<std::string> ids;
  for (const auto& ref : refs) {
    auto u = core.deps.store.get_user(ref);
    if (!u && u.error().code == ErrorCode::kUserNotFound)
      return invalid(ErrorCode::kUnknownUser, "no user with id or username '" + ref + "'");
    if (!u) return u.error();
    if (std::find(ids.begin(), ids.end(), u->id) == ids.end()) ids.push_back(u->id);
  }
  return ids;
}

// Changing a function's code or settings, or deleting it: the deploy right plus ownership or
// the manage permission (auth::can_manage). Seeing it is not enough: docs/security.md.
Expected<void> check_manage(const auth::Principal& p, const store::Function& f) {
  if (!auth::can_deploy(p))
    return forbidden("changing a function needs the admin role or the \"deploy\" grant");
  if (!auth::can_manage(p, f)) {
    return forbidden("changing function \"" + f.name +
                     "\" needs its owner, the manage permission or the admin role");
  }
  return {};
}

}  // namespace

Expected<Response> list_functions(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  auto page = NIL_TRY(page_request(call.url));
  std::optional<store::AccessFilter> filter;
  if (!p.is_admin()) filter = store::AccessFilter{p.user_id};
  auto result = NIL_TRY(core.deps.store.list_functions(page, filter));
  return json_response(call.req, http::status::ok, page_json(result, [&](const store::Function& f) {
                         return function_view(core, f);
                       }));
}

Expected<Response> create_function(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  if (!auth::can_deploy(p))
    return forbidden("deploying needs the admin role or the \"deploy\" grant");
  json::object body = NIL_TRY(json_object_body(call.req));
  store::NewFunction nf = NIL_TRY(parse_new_function(body, function_rules(core, p)));
  nf.managers = NIL_TRY(resolve_managers(core, nf.managers));
  nf.owner_id = p.user_id;
  // A developer's function is theirs alone until an admin shares it.
  if (!p.is_admin()) nf.allowed.users = {p.user_id};
  store::Function f = NIL_TRY(core.deps.store.create_function(nf));
  return created(core, call.req, f);
}

Expected<Response> get_function(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  store::Function f = NIL_TRY(accessible_function(core, p, call.params[0]));
  json::object o = function_view(core, f);
  // The key that signs its async invocations' callbacks: only for those who may change it.
  if (auth::can_manage(p, f)) o["callbackSecret"] = optional_string(f.callback_secret);
  return json_response(call.req, http::status::ok, o);
}

Expected<Response> update_function(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  store::Function current = NIL_TRY(accessible_function(core, p, call.params[0]));
  NIL_TRY_VOID(check_manage(p, current));
  json::object body = NIL_TRY(json_object_body(call.req));
  store::FunctionUpdate u = NIL_TRY(parse_function_update(body, current, function_rules(core, p)));
  if (u.managers) u.managers = NIL_TRY(resolve_managers(core, *u.managers));
  bool recompile = u.source.has_value() || u.language.has_value();
  store::Function f = NIL_TRY(core.deps.store.update_function(current.id, u));
  core.deps.invoker.invalidate(f.id);
  if (recompile) {
    core.deps.compile_enqueued();
    log::info("function updated", {{"functionId", f.id}, {"version", f.version}});
    return json_response(call.req, http::status::accepted, function_view(core, f));
  }
  return json_response(call.req, http::status::ok, function_view(core, f));
}

Expected<Response> delete_function(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  store::Function f = NIL_TRY(accessible_function(core, p, call.params[0]));
  NIL_TRY_VOID(check_manage(p, f));
  NIL_TRY_VOID(core.deps.store.delete_function(f.id));
  core.deps.invoker.invalidate(f.id);
  log::info("function deleted", {{"functionId", f.id}, {"function", f.name}});
  return no_content(call.req);
}

Expected<Response> deploy_function(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  const Request& req = call.req;
  if (!auth::can_deploy(p))
    return forbidden("deploying needs the admin role or the \"deploy\" grant");
  auto boundary = multipart_boundary(content_type(req));
  if (!boundary) {
    return make_error(ErrorCode::kUnsupportedMediaType,
                      "Content-Type must be multipart/form-data with a boundary");
  }
  auto parts = NIL_TRY(parse_multipart(req.body(), *boundary));
  const FormPart* name = nullptr;
  const FormPart* wasm = nullptr;
  for (const auto& part : parts) {
    if (part.name == "name") name = &part;
    if (part.name == "wasm") wasm = &part;
  }
  if (!name) return invalid(ErrorCode::kInvalidMultipart, "the form needs a \"name\" field");
  if (!wasm || wasm->data.empty())
    return invalid(ErrorCode::kInvalidMultipart, "the form needs a non-empty \"wasm\" file part");
  NIL_TRY_VOID(check_function_name(name->data));
  // Deploy is an upsert: a new name creates the function, an existing one gets the new module.
  auto existing = core.deps.store.get_function(name->data);
  if (existing && !auth::can_access(p, existing->allowed)) return function_not_found(name->data);
  if (existing) {
    NIL_TRY_VOID(check_manage(p, *existing));
    store::FunctionUpdate u;
    u.language = "wasm";
    u.source = wasm->data;
    store::Function f = NIL_TRY(core.deps.store.update_function(existing->id, u));
    core.deps.invoker.invalidate(f.id);
    core.deps.compile_enqueued();
    return json_response(req, http::status::accepted, function_view(core, f));
  }
  if (existing.error().code != ErrorCode::kFunctionNotFound) return existing.error();
  store::NewFunction nf;
  nf.name = name->data;
  nf.language = "wasm";
  nf.source = wasm->data;
  nf.owner_id = p.user_id;
  if (!p.is_admin()) nf.allowed.users = {p.user_id};
  store::Function f = NIL_TRY(core.deps.store.create_function(nf));
  return created(core, req, f);
}

}  // namespace nil::api::routes
