// Executions: POST /functions/{ref}/execute (the hot path), the v1 call POST /functions/v1/{ref}
// (the function's output as the body; anonymous for public functions), and reading executions.
#include "api/problem.h"
#include "api/routes/handler.h"

namespace nil::api::routes {

namespace json = boost::json;

namespace {

// --- the invocation: the one place the API calls the Invoker -------------------------------------
// `p` null: an anonymous v1 call, allowed for public functions only. `raw`: the v1 call (trigger
// "http"), else the API's execute (trigger "api").
Expected<store::Execution> invoke(ApiCore& core, std::string_view ref, std::string input_text,
                                  bool raw, const auth::Principal* p) {
  invoke::Caller caller;
  if (p != nullptr) {
    caller.user_id = p->user_id;
    caller.username = p->username;
    caller.role = std::string(store::to_string(p->role));
  }
  // Checked against the invoker's cached function: no store read on the hot path. The
  // per-function rate and concurrency limits are the invoker's (invoke::LimitEnforcer), so that
  // every trigger is limited alike.
  caller.authorize = [p, ref](const store::Function& f) -> Expected<void> {
    if (p == nullptr) {
      if (!f.is_public)
        return unauthorized("authentication required (Authorization: Bearer nil_…)");
    } else if (!f.is_public && !auth::can_access(*p, f.allowed)) {
      return function_not_found(ref);
    }
    return {};
  };
  // This handler is a trigger: it builds the invocation's context and hands it to the invoker.
  auto invoked = core.deps.invoker.invoke(invoke::InvocationContext(
      std::string(ref), raw ? invoke::Trigger::kHttp : invoke::Trigger::kApi, std::move(input_text),
      std::move(caller)));
  if (!invoked && p == nullptr &&
      (invoked.error().code == ErrorCode::kFunctionNotFound ||
       invoked.error().code == ErrorCode::kFunctionNotReady)) {
    // Anonymous callers learn nothing about functions that are not public.
    return unauthorized("authentication required (Authorization: Bearer nil_…)");
  }
  return invoked;
}

// `Prefer: respond-async` (RFC 7240): enqueue instead of waiting for the result.
bool respond_async(const Request& req) {
  std::string_view prefer = header_value(req, "Prefer");
  return !prefer.empty() && prefer.find("respond-async") != std::string_view::npos;
}

}  // namespace

Expected<std::string> execute_input(const Request& req) {
  if (auto parsed = parse_json_body(content_type(req), req.body(), true); !parsed)
    return std::move(parsed).error();
  return req.body().empty() ? std::string("null") : std::string(req.body());
}

Expected<Response> execute_function(ApiCore& core, const Call& call) {
  std::string input = NIL_TRY(execute_input(call.req));
  if (respond_async(call.req)) return enqueue_async(core, call, std::move(input), "api");
  store::Execution ex =
      NIL_TRY(invoke(core, call.params[0], std::move(input), false, call.principal));
  return text_response(call.req, http::status::ok, execute_body(ex), "application/json");
}

Expected<Response> call_function(ApiCore& core, const Call& call) {
  std::string input = NIL_TRY(execute_input(call.req));
  if (respond_async(call.req)) return enqueue_async(core, call, std::move(input), "http");
  store::Execution ex =
      NIL_TRY(invoke(core, call.params[0], std::move(input), true, call.principal));
  if (ex.status == store::ExecutionStatus::kSucceeded) {
    Response res = text_response(call.req, http::status::ok, *ex.output, "application/json");
    res.set("X-Nil-Execution-Id", ex.id);
    return res;
  }
  Response res = text_response(call.req, status_for(ErrorCode::kFunctionFailed),
                               function_failed_body(ex, call.target()), "application/problem+json");
  res.set("X-Nil-Execution-Id", ex.id);
  return res;
}

Expected<Response> list_executions(ApiCore& core, const Call& call) {
  auto page = NIL_TRY(page_request(call.url));
  store::Function f = NIL_TRY(accessible_function(core, call.who(), call.params[0]));
  core.deps.writer.sync();
  auto result = NIL_TRY(core.deps.store.list_executions(f.id, page));
  return json_response(call.req, http::status::ok, page_json(result, execution_json));
}

Expected<Response> get_execution(ApiCore& core, const Call& call) {
  const auth::Principal& p = call.who();
  std::string_view id = call.params[0];
  core.deps.writer.sync();
  store::Execution e = NIL_TRY(core.deps.store.get_execution(id));
  bool allowed = p.is_admin() || (e.user_id && *e.user_id == p.user_id);
  if (!allowed) {
    auto f = core.deps.store.get_function(e.function_id);
    allowed = f && auth::can_access(p, f->allowed);
  }
  if (!allowed)
    return make_error(ErrorCode::kExecutionNotFound,
                      "no execution with id '" + std::string(id) + "'");
  return json_response(call.req, http::status::ok, execution_json(e));
}

}  // namespace nil::api::routes
