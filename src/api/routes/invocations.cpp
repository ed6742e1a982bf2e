// Async invocations (issue 13; docs/openapi.yaml, POST /functions/{ref}/invocations): POST
// /functions/{ref}/invocations (and `Prefer: respond-async` on the execute and v1 calls,
// executions.cpp), and the function's dead letters. The queue itself is the store's; the queue
// worker (src/queue) runs it.
#include <boost/url/parse.hpp>

#include "api/routes/handler.h"
#include "common/util.h"
#include "host/net_policy.h"
#include "store/columns.h"

namespace nil::api::routes {

namespace json = boost::json;

namespace {

// X-Nil-Callback-Url: an absolute http(s) URL whose host is not a private address (the address
// policy of http_fetch, checked again at delivery, after resolution).
Expected<std::optional<std::string>> callback_url(ApiCore& core, const Request& req) {
  std::string_view raw = header_value(req, "X-Nil-Callback-Url");
  if (raw.empty()) return std::optional<std::string>{};
  auto url = boost::urls::parse_absolute_uri(raw);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    return invalid(ErrorCode::kInvalidCallbackUrl,
                   "X-Nil-Callback-Url must be an absolute http:// or https:// URL");
  }
  std::string host = url->host_address();
  if (!core.opts.callback_allow_private && (host::is_private_address_text(host) ||
                                            host == "localhost" || host.ends_with(".localhost"))) {
    return invalid(ErrorCode::kCallbackUrlNotAllowed,
                   "X-Nil-Callback-Url must not name a loopback, private or link-local address");
  }
  return std::optional<std::string>(std::string(raw));
}

Response accepted(const Request& req, const store::Execution& e) {
  Response res = json_response(req, http::status::accepted,
                               json::object{{"executionId", e.id}, {"status", "QUEUED"}});
  res.set(http::field::location, "/executions/" + e.id);
  return res;
}

// The dead letters' function: the caller must be able to access it and, to change its dead
// letters, manage it like any other change of the function.
Expected<store::Function> dead_letter_function(ApiCore& core, const Call& call, bool change) {
  const auth::Principal& p = call.who();
  store::Function f = NIL_TRY(accessible_function(core, p, call.params[0]));
  if (change && !auth::can_manage(p, f)) {
    return forbidden("changing the dead letters of function \"" + f.name +
                     "\" needs its owner, the manage permission or the admin role");
  }
  return f;
}

std::optional<std::string> error_type_filter(const boost::urls::url_view& url) {
  if (auto it = url.params().find("errorType"); it != url.params().end())
    return std::string((*it).value);
  return std::nullopt;
}

}  // namespace

Expected<Response> enqueue_async(ApiCore& core, const Call& call, std::string input,
                                 std::string_view origin) {
  const auth::Principal* p = call.principal;
  std::string_view ref = call.params[0];
  auto found = core.deps.store.get_function(ref);
  if (!found) {
    if (p == nullptr && found.error().code == ErrorCode::kFunctionNotFound)
      return unauthorized("authentication required (Authorization: Bearer nil_…)");
    return found.error();
  }
  const store::Function& f = *found;
  if (p == nullptr) {
    if (!f.is_public) return unauthorized("authentication required (Authorization: Bearer nil_…)");
  } else if (!f.is_public && !auth::can_access(*p, f.allowed)) {
    return function_not_found(ref);
  }
  if (f.status != store::FunctionStatus::kReady) {
    return make_error(ErrorCode::kFunctionNotReady, "function \"" + f.name + "\" is " +
                                                        std::string(store::to_string(f.status)) +
                                                        ", not READY");
  }
  store::NewInvocation inv;
  inv.function_id = f.id;
  inv.input = std::move(input);
  inv.origin = std::string(origin);
  inv.callback_url = NIL_TRY(callback_url(core, call.req));
  if (inv.callback_url && !f.callback_secret) {
    // A function from before schema v7: its first callback gets it a signing key.
    store::FunctionUpdate u;
    u.callback_secret = store::columns::new_callback_secret();
    NIL_TRY_VOID(core.deps.store.update_function(f.id, u));
    core.deps.invoker.invalidate(f.id);
  }
  if (p != nullptr) {
    inv.user_id = p->user_id;
    inv.username = p->username;
    inv.role = std::string(store::to_string(p->role));
  }
  store::Execution e = NIL_TRY(core.deps.store.enqueue_invocation(inv));
  if (core.deps.invocation_enqueued) core.deps.invocation_enqueued();
  return accepted(call.req, e);
}

Expected<Response> create_invocation(ApiCore& core, const Call& call) {
  std::string input = NIL_TRY(execute_input(call.req));
  return enqueue_async(core, call, std::move(input), "api");
}

Expected<Response> list_dead_letters(ApiCore& core, const Call& call) {
  auto page = NIL_TRY(page_request(call.url));
  store::Function f = NIL_TRY(dead_letter_function(core, call, false));
  auto result = NIL_TRY(core.deps.store.list_dead_letters(f.id, page, error_type_filter(call.url)));
  return json_response(call.req, http::status::ok, page_json(result, dead_letter_json));
}

Expected<Response> redrive_dead_letter(ApiCore& core, const Call& call) {
  store::Function f = NIL_TRY(dead_letter_function(core, call, true));
  NIL_TRY_VOID(core.deps.store.redrive_dead_letter(f.id, call.params[1]));
  if (core.deps.invocation_enqueued) core.deps.invocation_enqueued();
  Response res = json_response(call.req, http::status::accepted,
                               json::object{{"executionId", call.params[1]}, {"status", "QUEUED"}});
  res.set(http::field::location, "/executions/" + std::string(call.params[1]));
  return res;
}

Expected<Response> redrive_dead_letters(ApiCore& core, const Call& call) {
  store::Function f = NIL_TRY(dead_letter_function(core, call, true));
  int64_t n = NIL_TRY(core.deps.store.redrive_dead_letters(f.id, error_type_filter(call.url)));
  if (n > 0 && core.deps.invocation_enqueued) core.deps.invocation_enqueued();
  return json_response(call.req, http::status::accepted, json::object{{"redriven", n}});
}

Expected<Response> delete_dead_letter(ApiCore& core, const Call& call) {
  store::Function f = NIL_TRY(dead_letter_function(core, call, true));
  NIL_TRY_VOID(core.deps.store.delete_dead_letter(f.id, call.params[1]));
  return no_content(call.req);
}

Expected<Response> purge_dead_letters(ApiCore& core, const Call& call) {
  store::Function f = NIL_TRY(dead_letter_function(core, call, true));
  int64_t n = NIL_TRY(core.deps.store.purge_dead_letters(f.id));
  return json_response(call.req, http::status::ok, json::object{{"deleted", n}});
}

}  // namespace nil::api::routes
