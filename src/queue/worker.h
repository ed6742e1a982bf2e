// nil::queue — runs the async invocations the store's queue holds (issue 13; docs/architecture.md
// "The async invocation path").
//
// A QueueWorker claims due invocations from the store (leased, store.h "Async invocation
// queue"), runs each attempt through the one invocation path, invoke::Invoker::invoke, with
// trigger "queue" and the record id the enqueue assigned, and hands the outcomes to the store in
// batches (one transaction per batch). While it holds claims it renews their leases (a
// heartbeat); a claim that is lost (taken over after an expired lease) is still run to the end,
// but its outcome is fenced out by the store.
//
// Retries follow the function's retry policy (store::RetryPolicy): a FAILED attempt whose error
// type is retryable (timeout, trap, memory_limit, exit, host_call — not invalid_output,
// output_limit, instantiate) is queued again after the backoff delay until maxAttempts; then, or
// when the next attempt would start past maxEventAgeS after the enqueue, it is dead-lettered.
// An invocation that could not run at all for a passing reason (the function's concurrency or
// rate limit, the function not READY) is deferred without counting an attempt; one whose
// function is gone fails at once (function_not_found).
//
// Threads: one fetcher thread claims (woken by notify() on enqueue, or every poll interval) and
// renews leases; `threads` runner threads run invocations; one completer thread writes outcomes
// in batches. notify() may be called from any thread; start() and stop() from the owner's.
// stop() drains: no new claims, the running invocations finish and are recorded, the claimed
// ones that did not start are released at once (deferred, due now) for the next start.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "invoke/invoker.h"
#include "queue/callback.h"
#include "store/store.h"

namespace nil::queue {

struct QueueSettings {
  int threads = 2;  // runner threads (invocations at once); 0 disables the worker
  int batch = 64;   // most invocations one claim takes
  std::chrono::milliseconds lease{30'000};
  std::chrono::milliseconds poll{1'000};   // claim at least this often (retries, other nodes)
  std::chrono::milliseconds defer{1'000};  // delay of an invocation that could not run yet
  std::string node_id = "node";            // lease owner prefix (logs, docs/storage.md)
  // Sends the results of invocations enqueued with a callback URL (callback.h); null: none sent.
  CallbackSender* callbacks = nullptr;
};

// The delay before attempt `next_attempt` (2 for the first retry) under `policy`: the initial
// delay, doubled for each later attempt when exponential, capped at maxDelayMs.
int64_t retry_delay_ms(const store::RetryPolicy& policy, int64_t next_attempt);
// Whether a FAILED attempt with this error type is retried.
bool retryable(std::string_view error_type);

class QueueWorker {
 public:
  QueueWorker(store::Store& store, invoke::Invoker& invoker, QueueSettings settings,
              const Clock& clock = SystemClock::instance());
  ~QueueWorker();  // stop()s
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  void start();
  // Something was enqueued: claim now instead of at the next poll.
  void notify();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nil::queue
