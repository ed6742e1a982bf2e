// nil::api::routes — what every route handler shares: the API's options, dependencies and
// limiters (ApiCore), response builders and the error values handlers answer with. Private to
// src/api. The route table is table.cpp; one file per resource holds its handlers.
//
// A handler is `Expected<Response> name(ApiCore&, const Call&)`, runs on an I/O thread (or the
// offload/work pool, see api.h) and may be called concurrently: ApiCore is shared and its
// members are thread-safe (store, invoker, authenticator, limiters).
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "api/api.h"
#include "api/request_json.h"
#include "api/router.h"
#include "api/views.h"
#include "auth/auth.h"

namespace nil::api::routes {

struct ApiCore {
  ApiCore(ApiOptions o, ApiDeps d)
      : opts(std::move(o)),
        deps(std::move(d)),
        // The limiters read the Authenticator's clock: one clock for every auth decision.
        key_limiter(opts.key_rate, opts.key_burst, deps.auth.clock()),
        login_throttle(opts.login_max_failures_user, opts.login_max_failures_address,
                       opts.login_window, deps.auth.clock()),
        hash_slots(opts.max_password_hashes) {}

  ApiOptions opts;
  ApiDeps deps;
  auth::RateLimiter key_limiter;       // per API key or session (Api::Impl::dispatch)
  auth::LoginThrottle login_throttle;  // failed logins per user and address (session.cpp)
  auth::HashSlots hash_slots;  // password hashes running now (login, user create, password change)
};

// --- responses
// -------------------------------------------------------------------------------------

Response text_response(const Request& req, http::status status, std::string body,
                       std::string_view content_type);
Response json_response(const Request& req, http::status status, const boost::json::value& v);
Response no_content(const Request& req);

// --- errors
// ------------------------------------------------------------------------------------------

Error invalid(ErrorCode code, std::string msg);
Error forbidden(std::string msg);
Error unauthorized(std::string msg);
Error admin_only();
Error route_not_found(std::string_view path);
Error function_not_found(std::string_view ref);
Error environment_not_found(std::string_view ref);
Error user_not_found(std::string_view ref);

// A slot for one password hash, or 429 password_hashing_busy: 40 logins at once would hold
// 2.5 GiB and every core (argon2id), so past the bound they are refused, not queued.
Expected<auth::HashSlots::Permit> hash_permit(ApiCore& core);

// --- shared lookups
// ------------------------------------------------------------------------------------

std::string_view content_type(const Request& req);  // "" when absent
// The body as a JSON object (Content-Type must be JSON).
Expected<boost::json::object> json_object_body(const Request& req);
// ?limit= and ?cursor=.
Expected<store::PageRequest> page_request(const boost::urls::url_view& url);
std::string_view header_value(const Request& req, std::string_view name);
bool is_self(const auth::Principal& p, std::string_view ref);

// A resource the caller may not access answers 404, as if it did not exist.
Expected<store::Function> accessible_function(ApiCore& core, const auth::Principal& p,
                                              std::string_view ref);
Expected<store::Environment> accessible_environment(ApiCore& core, const auth::Principal& p,
                                                    std::string_view ref);

// --- handlers, by resource
// -------------------------------------------------------------------------------

// health.cpp
Expected<Response> healthz(ApiCore&, const Call&);
Expected<Response> readyz(ApiCore&, const Call&);
// session.cpp
Expected<Response> login(ApiCore&, const Call&);
Expected<Response> logout(ApiCore&, const Call&);
Expected<Response> me(ApiCore&, const Call&);
// Cookie name and value building, shared with Api::Impl::authenticate.
inline constexpr std::string_view kSessionCookie = "nil_session";
// functions.cpp
Expected<Response> list_functions(ApiCore&, const Call&);
Expected<Response> create_function(ApiCore&, const Call&);
Expected<Response> get_function(ApiCore&, const Call&);
Expected<Response> update_function(ApiCore&, const Call&);
Expected<Response> delete_function(ApiCore&, const Call&);
Expected<Response> deploy_function(ApiCore&, const Call&);
// executions.cpp
Expected<Response> execute_function(ApiCore&, const Call&);  // POST /functions/{ref}/execute
Expected<Response> call_function(ApiCore&, const Call&);     // POST /functions/v1/{ref}
Expected<Response> list_executions(ApiCore&, const Call&);
Expected<Response> get_execution(ApiCore&, const Call&);
// The input of an execute or async invocation: a JSON body (empty: null), as the text sent.
Expected<std::string> execute_input(const Request& req);
// invocations.cpp
// Enqueues the call's function (params[0]) with `input`; 202 with the QUEUED execution's id.
// `origin`: "api" or "http". The caller is call.principal (null: anonymous, public only).
Expected<Response> enqueue_async(ApiCore&, const Call&, std::string input, std::string_view origin);
Expected<Response> create_invocation(ApiCore&, const Call&);  // POST /functions/{ref}/invocations
Expected<Response> list_dead_letters(ApiCore&, const Call&);
Expected<Response> redrive_dead_letter(ApiCore&, const Call&);
Expected<Response> redrive_dead_letters(ApiCore&, const Call&);
Expected<Response> delete_dead_letter(ApiCore&, const Call&);
Expected<Response> purge_dead_letters(ApiCore&, const Call&);
// environments.cpp
Expected<Response> list_environments(ApiCore&, const Call&);
Expected<Response> create_environment(ApiCore&, const Call&);
Expected<Response> get_environment(ApiCore&, const Call&);
Expected<Response> update_environment(ApiCore&, const Call&);
Expected<Response> delete_environment(ApiCore&, const Call&);
// users.cpp
Expected<Response> list_users(ApiCore&, const Call&);
Expected<Response> create_user(ApiCore&, const Call&);
Expected<Response> get_user(ApiCore&, const Call&);
Expected<Response> update_user(ApiCore&, const Call&);
Expected<Response> delete_user(ApiCore&, const Call&);
// groups.cpp
Expected<Response> list_groups(ApiCore&, const Call&);
Expected<Response> create_group(ApiCore&, const Call&);
Expected<Response> get_group(ApiCore&, const Call&);
Expected<Response> delete_group(ApiCore&, const Call&);
Expected<Response> list_group_members(ApiCore&, const Call&);
Expected<Response> add_group_member(ApiCore&, const Call&);
Expected<Response> remove_group_member(ApiCore&, const Call&);
// api_keys.cpp
Expected<Response> list_api_keys(ApiCore&, const Call&);
Expected<Response> create_api_key(ApiCore&, const Call&);
Expected<Response> revoke_api_key(ApiCore&, const Call&);
// admin.cpp
Expected<Response> compile_queues(ApiCore&, const Call&);

// table.cpp: every route of the API.
std::vector<Route> route_table();

}  // namespace nil::api::routes
