// The route table of the API (docs/openapi.yaml; permission rules in docs/security.md).
// Adding an endpoint: one line here and its handler in the resource's file. Routes that invoke
// or deploy take the Idempotency-Key header: their handler is wrapped as idempotent<handler>
// (api/idempotency.h).
#include "api/idempotency.h"
#include "api/routes/handler.h"

namespace nil::api::routes {

std::vector<Route> route_table() {
  using enum http::verb;
  constexpr Runs kOffload = Runs::kOffload, kOffloadUnlessFast = Runs::kOffloadUnlessFast;
  constexpr Access kPublic = Access::kPublic, kAnonymous = Access::kAnonymous,
                   kPrincipal = Access::kPrincipal, kAdmin = Access::kAdmin;
  // Within one pattern the methods are listed in the order the Allow header names them.
  return {
      route(get, "/healthz", kPublic, healthz),
      route(head, "/healthz", kPublic, healthz),
      route(get, "/readyz", kPublic, readyz),
      route(head, "/readyz", kPublic, readyz),

      route(post, "/auth/login", kPublic, login, kOffload),
      route(post, "/auth/logout", kPrincipal, logout),
      route(get, "/auth/me", kPrincipal, me),

      route(get, "/functions", kPrincipal, list_functions),
      route(post, "/functions", kPrincipal,
            idempotent<create_function>),  // admin or the "deploy" grant
      route(get, "/functions/{ref}", kPrincipal, get_function),
      route(put, "/functions/{ref}", kPrincipal,
            idempotent<update_function>),  // manage, after the 404 check
      route(delete_, "/functions/{ref}", kPrincipal,
            delete_function),  // manage, after the 404 check
      route(post, "/functions/v1/deploy", kPrincipal, idempotent<deploy_function>),
      route(post, "/functions/v1/{ref}", kAnonymous, idempotent<call_function>,
            kOffloadUnlessFast),  // anonymous: public functions only
      route(post, "/functions/{ref}/execute", kPrincipal, idempotent<execute_function>,
            kOffloadUnlessFast),
      route(get, "/functions/{ref}/executions", kPrincipal, list_executions),
      route(post, "/functions/{ref}/invocations", kPrincipal, idempotent<create_invocation>),
      route(get, "/functions/{ref}/dead-letters", kPrincipal, list_dead_letters),
      route(delete_, "/functions/{ref}/dead-letters", kPrincipal,
            purge_dead_letters),  // manage, after the 404 check
      route(post, "/functions/{ref}/dead-letters/redrive", kPrincipal, redrive_dead_letters),
      route(delete_, "/functions/{ref}/dead-letters/{id}", kPrincipal, delete_dead_letter),
      route(post, "/functions/{ref}/dead-letters/{id}/redrive", kPrincipal, redrive_dead_letter),
      route(get, "/executions/{id}", kPrincipal, get_execution),

      route(get, "/environments", kPrincipal, list_environments),
      route(post, "/environments", kAdmin, create_environment),
      route(get, "/environments/{ref}", kPrincipal, get_environment),
      route(put, "/environments/{ref}", kPrincipal,
            update_environment),  // admin, after the 404 check
      route(delete_, "/environments/{ref}", kPrincipal,
            delete_environment),  // admin, after the 404 check

      route(get, "/users", kAdmin, list_users),
      route(post, "/users", kAdmin, create_user, kOffload),
      route(get, "/users/{ref}", kPrincipal, get_user),  // a developer sees only themself
      route(put, "/users/{ref}", kPrincipal, update_user, kOffload),
      route(delete_, "/users/{ref}", kPrincipal, delete_user),

      route(get, "/groups", kAdmin, list_groups),
      route(post, "/groups", kAdmin, create_group),
      route(get, "/groups/{ref}", kAdmin, get_group),
      route(delete_, "/groups/{ref}", kAdmin, delete_group),
      route(get, "/groups/{ref}/members", kAdmin, list_group_members),
      route(post, "/groups/{ref}/members", kAdmin, add_group_member),
      route(delete_, "/groups/{ref}/members/{user}", kAdmin, remove_group_member),

      route(get, "/api-keys", kPrincipal, list_api_keys),
      route(post, "/api-keys", kPrincipal, create_api_key),
      route(delete_, "/api-keys/{id}", kPrincipal, revoke_api_key),

      route(get, "/admin/queues", kAdmin, compile_queues),
  };
}

}  // namespace nil::api::routes
