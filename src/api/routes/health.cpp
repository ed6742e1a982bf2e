// GET|HEAD /healthz (the process answers) and /readyz (it can serve: not draining, store up).
#include "api/routes/handler.h"

namespace nil::api::routes {

namespace json = boost::json;

Expected<Response> healthz(ApiCore&, const Call& call) {
  return json_response(call.req, http::status::ok, json::object{{"status", "ok"}});
}

Expected<Response> readyz(ApiCore& core, const Call& call) {
  if (core.deps.draining())
    return make_error(ErrorCode::kShuttingDown, "the server is shutting down");
  NIL_TRY_VOID(core.deps.store.ping());
  return json_response(call.req, http::status::ok, json::object{{"status", "ready"}});
}

}  // namespace nil::api::routes
