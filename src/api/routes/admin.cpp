// Operators' views (admin only; the table requires it): GET /admin/queues.
#include "api/routes/handler.h"

namespace nil::api::routes {

Expected<Response> compile_queues(ApiCore& core, const Call& call) {
  store::QueueStats q = NIL_TRY(core.deps.store.compile_queue_stats());
  return json_response(call.req, http::status::ok, queues_json(q));
}

}  // namespace nil::api::routes
