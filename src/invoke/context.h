// nil::invoke::InvocationContext — everything one invocation holds, in one object.
//
// A trigger (the API's execute handlers today; cron, webhooks, database events and queues next)
// builds a context with what it knows — the function, the trigger kind and its details, the
// caller, the input — and hands it to Invoker::invoke, which owns it from then on and fills in
// the rest as the invocation proceeds:
//   resolved   the function (pinned from the invoker's cache), its redactor
//   admitted   the LimitEnforcer's admission (a concurrency slot), the resolved engine limits
//              and the deadline
//   running    this invocation's host services (database connection, open transaction, HTTP
//              handles)
//   finished   the accounting (wall time, host calls) and the execution record, redacted
// Destroying the context releases everything the invocation held: the host services, the
// concurrency slot, the pin on the cached function and module. The Invoker destroys it when
// invoke() returns, after the observers have seen it.
//
// The engine stays independent of invoke: the context holds the engine's input
// (engine::Invocation, built from the context's fields) and hands only that to the sandbox.
//
// Thread safety: a context belongs to one invocation on one thread; observers get it by const
// reference on that thread and must not keep the reference past the call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/expected.h"
#include "engine/engine.h"
#include "invoke/limit_enforcer.h"
#include "invoke/redact.h"
#include "invoke/trigger.h"
#include "store/store.h"

namespace nil::invoke {

// Who invokes (issue 5). The function sees it in its WASI environ and through nil.env as
// NIL_USER_ID, NIL_USERNAME and NIL_USER_ROLE (docs/abi.md); the execution records user_id.
// `authorize`, when set, decides with the loaded (cached) function whether this caller may run
// it, so the permission check costs no store read; its error is returned as is. Triggers that run
// on the function owner's behalf (cron, queues) leave it empty: the anonymous caller.
struct Caller {
  std::string user_id;  // empty: anonymous (a public function, or a trigger acting as the system)
  std::string username;
  std::string role = "anonymous";  // "admin", "dev" or "anonymous"
  std::function<Expected<void>(const store::Function&)> authorize;
};

// Cost of the invocation, filled when it finishes.
struct Accounting {
  std::chrono::nanoseconds duration{0};           // the engine's measure of the run
  std::vector<engine::HostCallStats> host_calls;  // only host functions that were called
};

class InvocationContext {
 public:
  enum class Phase { kCreated, kRunning, kFinished, kRejected };

  // `function_ref`: a function id or name. `input`: valid JSON text (the trigger validated it).
  InvocationContext(std::string function_ref, Trigger trigger, std::string input,
                    Caller caller = {}, TriggerDetails details = {});
  InvocationContext(InvocationContext&&) = default;
  InvocationContext& operator=(InvocationContext&&) = default;
  InvocationContext(const InvocationContext&) = delete;
  InvocationContext& operator=(const InvocationContext&) = delete;
  // Members are destroyed in reverse order: host services first, then the concurrency slot.
  ~InvocationContext() = default;

  // What the trigger set.
  std::string_view function_ref() const { return function_ref_; }
  Trigger trigger() const { return trigger_; }
  const TriggerDetails& details() const { return details_; }
  const Caller& caller() const { return caller_; }
  std::string_view input() const {
    return phase_ == Phase::kFinished ? std::string_view(execution_.input)
                                      : std::string_view(input_);
  }

  // What the Invoker filled in (see the phases above).
  Phase phase() const { return phase_; }
  // The resolved function; null before resolution (a context rejected as function_not_found).
  const store::Function* function() const { return function_.get(); }
  const engine::Limits& limits() const { return engine_.limits; }
  // When the invocation must be over, on the enforcer's clock (set once admitted).
  Clock::SteadyTime deadline() const { return deadline_; }
  // The secrets to keep out of logs, output and errors; null before resolution.
  const Redactor* redactor() const { return redactor_.get(); }
  // This invocation's host services; null when the Invoker has no host runtime.
  engine::HostServices* host() const { return services_.get(); }
  const Accounting& accounting() const { return accounting_; }
  // The execution record being built: id, function and trigger once admitted; everything once
  // finished (the record stored and answered).
  const store::Execution& execution() const { return execution_; }

  // The WASI environ: the function's environments, then the caller's identity (NIL_USER_ID,
  // NIL_USERNAME, NIL_USER_ROLE), which no environment may shadow. Set once admitted.
  const std::vector<std::pair<std::string, std::string>>& env() const { return engine_.env; }

  // The engine's input for this invocation (input, limits, argv, environ, host services), built
  // by the Invoker once admitted. It points into this context, which is never moved after that.
  const engine::Invocation& engine_invocation() const { return engine_; }

 private:
  friend class Invoker;

  std::string function_ref_;
  Trigger trigger_;
  TriggerDetails details_;
  Caller caller_;
  std::string input_;

  Phase phase_ = Phase::kCreated;
  std::shared_ptr<const store::Function> function_;  // aliases the invoker's cache entry
  std::shared_ptr<const Redactor> redactor_;         // likewise
  LimitEnforcer::Admission admission_;
  Clock::SteadyTime deadline_{};
  engine::Invocation engine_;  // input views input_; host points to *services_
  std::unique_ptr<engine::HostServices> services_;
  Accounting accounting_;
  store::Execution execution_;
};

}  // namespace nil::invoke
