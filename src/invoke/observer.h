// nil::invoke::InvocationObserver — how the rest of nild watches invocations (metrics, traces,
// audit) without the Invoker knowing about any of them.
//
// Events, for every call of Invoker::invoke:
//  - an invocation that runs gets exactly one on_start (admitted, about to enter the sandbox)
//    and then exactly one on_finish with its record — whether the guest SUCCEEDED or FAILED
//    (trap, timeout, limit...): a guest failure is a finished invocation, not a rejection;
//  - an invocation refused before it runs (function_not_found, function_not_ready, the caller's
//    authorization, rate_limited, concurrency_limit, a storage error while loading) gets no
//    on_start and no on_finish, only on_reject with the error the trigger receives.
// The context's phase tells which fields are filled (context.h): on_reject may see a context
// without a function (not found).
//
// Observers are registered at start-up (Invoker::add_observer, before serving) and must outlive
// the Invoker. They are called on the invoking thread — possibly an HTTP I/O loop — so they
// must be quick, thread-safe and must not block; they must not keep references to the context.
#pragma once

#include "common/expected.h"
#include "store/store.h"

namespace nil::invoke {

class InvocationContext;

class InvocationObserver {
 public:
  virtual ~InvocationObserver() = default;
  virtual void on_start(const InvocationContext& ctx) = 0;
  virtual void on_finish(const InvocationContext& ctx, const store::Execution& execution) = 0;
  virtual void on_reject(const InvocationContext& ctx, const Error& error) {
    (void)ctx, (void)error;
  }
};

}  // namespace nil::invoke
