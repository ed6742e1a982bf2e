#include "api/api.h"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "api/idempotency.h"
#include "api/problem.h"
#include "api/router.h"
#include "api/routes/handler.h"
#include "common/fiber.h"
#include "common/log.h"

namespace nil::api {

namespace net = boost::asio;
using routes::ApiCore;

namespace {

// Executes of functions that recently took this long or more leave the I/O loop (Api::handle).
// 1 ms: well above a trivial function's 2-10 us, and short enough that no connection sharing
// the loop waits for more than about that behind a function that became slow.
constexpr double kOffloadAfterMs = 1.0;
constexpr int kOffloadThreads = 16;

bool is_state_changing(http::verb m) {
  return m == http::verb::post || m == http::verb::put || m == http::verb::patch ||
         m == http::verb::delete_;
}

}  // namespace

// A request's target parsed and matched once (Api::handle): both the decision where it runs and
// the dispatch use it, so they cannot disagree about which route or function a path names.
// `target` views the Request and `match` views `target`: kept together, beside the Request.
struct Resolved {
  Expected<Target> target;
  RouteMatch match;

  Resolved(const Request& req, const Router& router)
      : target(parse_target(std::string_view(req.target().data(), req.target().size()))) {
    if (target) match = router.match(req.method(), target->segments);
  }
  Resolved(const Resolved&) = delete;
  Resolved& operator=(const Resolved&) = delete;
};

struct Api::Impl {
  Impl(ApiOptions o, ApiDeps d)
      : core(std::move(o), std::move(d)),
        router(routes::route_table()),
        pool(std::max(1, core.opts.work_threads)),
        offload(kOffloadThreads),
        purger(core.deps.store),
        fibers(core.opts.fiber_threads, core.opts.fiber_stack_bytes) {}

  ApiCore core;
  const Router router;
  net::thread_pool pool;
  net::thread_pool offload;    // password hashing, when requests otherwise run on the I/O loops
  IdempotencyPurger purger;    // deletes expired Idempotency-Key rows (api/idempotency.h)
  fiber::FiberThreads fibers;  // executes not known to be fast: each on its own fiber

  Response fail(const Request& req, const Error& e) {
    if (status_for(e.code) == http::status::internal_server_error) {
      log::error("request failed", {{"code", std::string(e.wire_code())},
                                    {"error", e.message},
                                    {"target", std::string(req.target())}});
    }
    return problem(e, std::string_view(req.target().data(), req.target().size()), req.version(),
                   req.keep_alive());
  }

  // The request's credentials: a Bearer API key, else the session cookie, else none. Credentials
  // that are present but wrong are an error (401), never silently anonymous.
  // Null: no credentials at all.
  Expected<std::shared_ptr<const auth::Principal>> authenticate(const Request& req) {
    std::string_view authz = routes::header_value(req, "Authorization");
    if (!authz.empty()) {
      auto token = auth::bearer_token(authz);
      if (!token)
        return Error(routes::unauthorized("the Authorization header must be \"Bearer nil_…\""));
      return core.deps.auth.authenticate_key(*token);
    }
    std::string_view cookie =
        auth::cookie_value(routes::header_value(req, "Cookie"), routes::kSessionCookie);
    if (!cookie.empty()) return core.deps.auth.authenticate_session(cookie);
    return std::shared_ptr<const auth::Principal>();
  }

  // The order of checks is part of the API: public paths (health, login) answer before any
  // credential is read; everywhere else credentials come first (an anonymous caller gets 401
  // even for a path that does not exist), then the CSRF rule and the per-key rate limit, then
  // 404 and 405, then the route's admin requirement, then the handler.
  Expected<Response> dispatch(const Request& req, const Resolved& resolved) {
    if (!resolved.target) return resolved.target.error();
    const Target& target = *resolved.target;
    const http::verb method = req.method();
    const RouteMatch& m = resolved.match;
    if (m.public_path) {
      if (!m.route) return method_not_allowed(req, m.allow);
      return m.route->handler(core, Call{req, target.url, m.params, nullptr});
    }

    auto who = NIL_TRY(authenticate(req));
    if (!who) {
      if (m.route && m.route->access == Access::kAnonymous)
        return m.route->handler(core, Call{req, target.url, m.params, nullptr});
      return routes::unauthorized(
          "authentication required (Authorization: Bearer nil_… or a session cookie)");
    }
    const auth::Principal& p = *who;
    // A cookie rides along on cross-site requests; a state change must prove it comes from our
    // own page by echoing the CSRF token it got at login.
    bool csrf = m.route ? m.route->csrf == Csrf::kRequired : is_state_changing(method);
    if (csrf && p.method == auth::Principal::Method::kSession &&
        !auth::Authenticator::check_csrf(p, routes::header_value(req, "X-CSRF-Token"))) {
      return make_error(ErrorCode::kCsrfFailed,
                        "a cookie-authenticated change needs the X-CSRF-Token header from login");
    }
    if (int64_t wait = core.key_limiter.acquire(p.credential_id); wait > 0) {
      Error e = make_error(ErrorCode::kRateLimited, "this API key is over its rate limit");
      e.retry_after_s = wait;
      return e;
    }
    if (!m.path_found) return routes::route_not_found(target.url.path());
    if (!m.route) return method_not_allowed(req, m.allow);
    if (m.route->access == Access::kAdmin && !p.is_admin()) return routes::admin_only();
    return m.route->handler(core, Call{req, target.url, m.params, &p});
  }
};

Api::Api(ApiOptions opts, ApiDeps deps)
    : impl_(std::make_unique<Impl>(std::move(opts), std::move(deps))) {}

Api::~Api() { stop(); }

void Api::stop() {
  impl_->pool.join();
  impl_->offload.join();
  impl_->purger.stop();
  impl_->fibers.stop();
}

// Inline on the I/O loop only when the request is known to be quick (the route's Runs): an
// execute of a function whose recent invocations (looked up by the id or name the normalised
// path names) took under kOffloadAfterMs. A function without history yet — never run since
// start, unknown, or just changed — counts as slow: guest code never runs on an I/O thread on a
// guess. Password hashing also leaves the loop.
static bool runs_inline(const Resolved& r, invoke::Invoker& invoker) {
  if (!r.target || !r.match.route) return true;  // answered at once (400, 404, 405)
  switch (r.match.route->runs) {
    case Runs::kInline:
      return true;
    case Runs::kOffload:
      return false;
    case Runs::kOffloadUnlessFast: {
      std::optional<double> recent = invoker.recent_ms(r.match.params[0]);
      return recent && *recent < kOffloadAfterMs;
    }
  }
  return true;
}

void Api::handle(Request&& req, Respond respond) {
  auto shared = std::make_shared<Request>(std::move(req));
  auto resolved = std::make_shared<const Resolved>(*shared, impl_->router);
  auto work = [this, shared, resolved, respond = std::move(respond)] {
    Response res;
    const uint64_t ticket_before = invoke::ExecutionWriter::last_ticket();
    try {
      auto r = impl_->dispatch(*shared, *resolved);
      res = r ? std::move(r).value() : impl_->fail(*shared, r.error());
      if (shared->method() == http::verb::head) res.body().clear();
    } catch (const std::exception& e) {
      // Nothing on the request path throws by design; this is the last line against a bug
      // (or std::bad_alloc) taking the server down.
      log::error("unhandled exception",
                 {{"error", e.what()}, {"target", std::string(shared->target())}});
      res = problem(make_error(ErrorCode::kInternalError, "internal error"), "", shared->version(),
                    false);
    }
    const uint64_t ticket = invoke::ExecutionWriter::last_ticket();
    if (impl_->core.opts.answer_after_commit && ticket != ticket_before) {
      // --durability=commit: this request recorded an execution; the writer sends the answer
      // once the record's group is committed (no thread waits for it here).
      auto held = std::make_shared<Response>(std::move(res));
      impl_->core.deps.writer.when_committed(
          ticket, [held, target = shared, respond](bool committed) {
            if (committed) {
              respond(std::move(*held));
              return;
            }
            respond(problem(make_error(ErrorCode::kStorageError,
                                       "the execution ran but its record could not be stored"),
                            std::string_view(target->target().data(), target->target().size()),
                            target->version(), false));
          });
      return;
    }
    respond(std::move(res));
  };
  if (impl_->core.opts.work_threads == 0) {
    if (runs_inline(*resolved, impl_->core.deps.invoker)) {
      work();
    } else if (resolved->match.route->runs == Runs::kOffloadUnlessFast) {
      // An execute: on a fiber, which gives its thread back while the invocation waits
      // (http_fetch on the native tier, a place in the admission queue).
      impl_->fibers.spawn(std::move(work));
    } else {
      net::post(impl_->offload, std::move(work));
    }
  } else {
    net::post(impl_->pool, std::move(work));
  }
}

Response Api::reject(http::status status, ErrorCode code, std::string_view detail) {
  return problem(status, code, detail, "", 11, false);
}

}  // namespace nil::api
