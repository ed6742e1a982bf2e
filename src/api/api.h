// nil::api — the REST API: routes, JSON shapes, validation. See docs/openapi.yaml.
//
// Requests are handled on the I/O loop that read them when work_threads is 0 (the default: each
// of the server's loops is one thread, and a connection stays on its loop; measured 2.2× the
// throughput of handing each request to a separate pool at 64 connections). A request that runs
// long holds up the other connections of its loop, so an execute of a function that is not known
// to be fast — its recent invocations (Invoker::recent_ms, looked up by the id or name of the
// normalised path) took 1 ms or more, or it has no history yet — runs on a fiber instead
// (fiber::FiberThreads: fiber_threads threads, each running many fibers; an invocation waiting on
// http_fetch or in the admission queue gives its thread back, so 10,000 can wait at once), and
// requests that hash a password run on a separate offload pool (bounded: max_password_hashes at
// once, 429 password_hashing_busy past it).
// With work_threads > 0 every request runs on a pool of that many threads. Errors become
// problem+json through api/problem.h only.
//
// Every request but /healthz, /readyz and the v1 call of a public function carries a principal
// (auth::Principal: an API key or a session cookie); the permission rules per endpoint are in
// docs/security.md. A resource the caller may not access answers 404, never 403.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "auth/auth.h"
#include "invoke/invoker.h"
#include "store/store.h"

namespace nil::api {

struct ApiOptions {
  uint64_t max_source_bytes = 1 << 20;
  int work_threads = 0;                // 0: inline on the I/O thread
  std::vector<std::string> languages;  // accepted `language` values
  // Token buckets (rate per second, burst); rate 0 disables.
  double key_rate = 0, key_burst = 0;  // per API key (or session)
  int login_max_failures_user = 5;
  int login_max_failures_address = 20;
  std::chrono::milliseconds login_window{60'000};
  bool secure_cookies = false;  // mark the session cookie Secure (served over TLS)
  // --durability=commit: answer a request that recorded an execution only once the record is
  // committed (ExecutionWriter::when_committed); false: answer at once (the async window).
  bool answer_after_commit = false;
  int max_password_hashes = 4;  // argon2id hashes at once (login, user create, password change)
  // Async invocations: accept X-Nil-Callback-Url naming a private address (--http-allow-private).
  bool callback_allow_private = false;
  // Executes that leave the I/O loops run on fibers (common/fiber.h) on this many threads, each
  // fiber with this much stack (the native tier's guest recursion depth comes from it).
  int fiber_threads = 16;
  size_t fiber_stack_bytes = 8u << 20;
};

struct ApiDeps {
  store::Store& store;
  invoke::Invoker& invoker;
  invoke::ExecutionWriter& writer;
  auth::Authenticator& auth;
  std::function<void()> compile_enqueued;     // wakes the compile workers
  std::function<bool()> draining;             // true once SIGTERM started the drain
  std::function<void()> invocation_enqueued;  // wakes the queue worker (may be empty)
};

class Api final : public Handler {
 public:
  Api(ApiOptions opts, ApiDeps deps);
  ~Api() override;

  void handle(Request&& req, Respond respond) override;
  Response reject(http::status status, ErrorCode code, std::string_view detail) override;
  void stop();  // finishes queued work, joins the work pool

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nil::api
