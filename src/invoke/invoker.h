// nil::invoke — the one place every invocation goes through (HTTP execute, the v1 trigger, and
// next cron, webhooks, database events, async queues: each builds an InvocationContext and hands
// it to Invoker::invoke; see docs/architecture.md, "One invocation").
//
// An invocation: resolve the function (cached in memory, invalidated on change) with its
// environments (attached environments merged in order, a later key wins; the same pairs are the
// WASI environ and what nil.env answers), check the caller's authorization, admit it through the
// LimitEnforcer (rate and concurrency limits; the limits it runs under), tell the observers, run
// it in a fresh sandbox through the engine, redact the environments' secret values from its logs,
// output and error (invoke/redact.h), record the execution through the group-commit writer, tell
// the observers again, and return the record. Everything the invocation held lives in its
// InvocationContext and is released when invoke() returns.
//
// Tiers: a function runs on the interpreter until a native artifact of its module (by sha256)
// exists in the native tier's artifact directory; then the next load uses the native tier.
// A missing artifact is requested from the builder at load time (after a restart or a cache
// wipe too); native_ready() drops the cached entries of a module so they switch. Guest failures
// are SUCCEEDED/FAILED executions, not errors; errors are for "could not run at all"
// (function_not_found, function_not_ready, the caller's authorization, rate_limited,
// concurrency_limit, storage_error).
//
// Threads: every method is thread-safe except add_observer and set_native_tier (start-up, before
// serving). invoke() runs on its caller's thread for up to the function's timeout (plus its wait
// in the admission queue). Called on a fiber (common/fiber.h; the API runs executes that leave
// the I/O loop on fibers), it gives the thread back while it waits — in the admission queue, and
// in a native-tier nil.http_fetch — and resumes on the same thread; called on a plain thread (the
// async queue's workers, tests) it blocks that thread instead: the same synchronous call serves
// both, so there is no separate asynchronous entry point. It can also run on an HTTP I/O loop:
// with --work-threads 0 (the default) the API calls it inline on the connection's loop when the
// function's recent invocations (recent_ms) averaged under 1 ms, on a fiber when they did not
// or it has no history yet; with --work-threads N always on that work pool (api.h,
// Api::handle). Whatever invoke() calls (observers included) must therefore be quick and must
// never wait on an I/O loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/expected.h"
#include "engine/engine.h"
#include "host/host.h"
#include "invoke/context.h"
#include "invoke/limit_enforcer.h"
#include "invoke/observer.h"
#include "invoke/redact.h"
#include "invoke/trigger.h"
#include "store/store.h"

namespace nil::invoke {

// Batches execution records into one store transaction per group ("group commit"): the request
// path only enqueues; the writer thread commits a group. A group is whatever accumulated while
// the previous commit ran, plus what arrives within `linger` of its first record (or until
// `max_batch` records): under load, one commit then carries dozens of records instead of a few,
// and the writer wakes once per group instead of once per record. sync() cuts the linger short
// and waits until everything enqueued before it is committed, so a read that follows an
// answered execute always finds the record. stop() drains the queue: on SIGTERM nothing already
// answered is lost.
//
// Durability of answers (nild --durability, docs/operations.md): with `async` an execute is
// answered as soon as its record is enqueued, so a kill -9 (or power loss) loses the records of
// the last group or two that were answered but not yet committed. With `commit` the API hands
// its answer to when_committed() and the writer sends it after the record's group committed:
// no thread waits per request, the writer runs the callbacks of a whole group once per commit,
// and a waiting answer ends the linger (the group is whatever arrived during the last commit).
//
// Threads: submit, sync, when_committed and stop may be called from any thread; callbacks run
// on the writer thread (or on the caller's, when the ticket is already committed).
class ExecutionWriter {
 public:
  explicit ExecutionWriter(store::Store& store, size_t max_batch = 1000,
                           std::chrono::microseconds linger = std::chrono::milliseconds(2));
  ~ExecutionWriter();
  // Enqueues a record; returns its ticket (1, 2, 3, ... in submission order), also kept as this
  // thread's last_ticket().
  uint64_t submit(store::Execution e);
  void sync();
  // Runs `done(true)` once every record up to `ticket` is committed; `done(false)` if the writer
  // gave up on it (stop() with a store that keeps failing: the record is lost and logged).
  void when_committed(uint64_t ticket, std::function<void(bool committed)> done);
  // The ticket of the last record this thread submitted (0: none yet). The API compares it
  // before and after handling a request to learn whether the request recorded an execution.
  static uint64_t last_ticket();
  void stop();

 private:
  void run();
  // Takes the waiters whose tickets are committed (all of them when `all`); call with mu_ held.
  std::vector<std::function<void(bool)>> take_waiters(bool all);

  store::Store& store_;
  size_t max_batch_;
  std::chrono::microseconds linger_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<store::Execution> queue_;
  uint64_t submitted_ = 0;
  uint64_t committed_ = 0;    // records up to this ticket are committed (or given up on at stop)
  uint64_t sync_target_ = 0;  // the highest submitted_ a sync() waits for
  std::vector<std::pair<uint64_t, std::function<void(bool)>>> waiters_;  // ticket, callback
  bool lingering_ = false;  // the writer waits for a group to fill: wake it only when full
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

class Invoker {
 public:
  // `host` serves the nil.* host calls (env, http_fetch, db_query); each invocation gets its own
  // HostServices from it, limited to the function's grants and environments. Null: nil.* calls
  // answer "unavailable" (tests, tools).
  // `limits`: the per-function and per-invocation limits (LimitEnforcer); `clock`: the time of
  // the records (startedAt, finishedAt) and of the limits. Both default for production.
  Invoker(store::Store& store, engine::Sandbox& sandbox, ExecutionWriter& writer,
          host::HostRuntime* host = nullptr, LimitSettings limits = {},
          const Clock& clock = SystemClock::instance());

  // Runs the invocation `ctx` describes (the function it names, with its input, for its caller
  // and trigger) and returns its execution record, already submitted to the writer. The Invoker
  // owns the context for the call and destroys it before returning: every resource of the
  // invocation is released by then. Errors: the invocation did not run (see above).
  Expected<store::Execution> invoke(InvocationContext ctx);

  // Registers an observer of every invocation (observer.h). Start-up only; not owned.
  void add_observer(InvocationObserver* observer);

  LimitEnforcer& limits() { return limits_; }

  // The native tier (optional; without it everything runs on `sandbox`). Call before serving.
  struct NativeTier {
    engine::NativeSandbox* sandbox = nullptr;
    std::filesystem::path artifact_dir;  // DATA_DIR/native
    // Queues a build of the module (non-blocking; duplicates are the builder's to drop).
    std::function<void(const std::string& sha256, const std::string& function_id)> request_build;
  };
  void set_native_tier(NativeTier tier);

  // The tier the function runs on (or will on its next invocation): "native" once its module's
  // artifact exists, else "interpreter". For the function's JSON.
  std::string tier(const store::Function& f) const;

  // An artifact for this module now exists: cached functions using it switch on their next call.
  void native_ready(const std::string& sha256);

  // How long the function's recent invocations took (a moving average of their wall time, ms),
  // or nullopt when it has not run since nild started. The API runs functions
  // that are slow by this measure off the I/O loops (api.h).
  std::optional<double> recent_ms(std::string_view ref);

  // The function changed (updated, deleted, compiled): drop it from the cache.
  void invalidate(std::string_view function_id);
  // An environment changed: any cached function may hold its values; drop them all.
  void invalidate_all();

 private:
  struct Loaded {
    store::Function function;
    std::shared_ptr<const engine::PreparedModule> module;
    std::vector<std::pair<std::string, std::string>> env;  // merged, in first-seen key order
    Redactor redactor;  // every secret of every attached environment
    host::FunctionGrants grants;
    engine::Sandbox* sandbox = nullptr;  // the tier `module` belongs to
    // Wall time of recent invocations (moving average, ms; < 0: none yet); shared with recent_.
    std::shared_ptr<std::atomic<double>> recent_ms;
  };
  struct CachedModule {
    std::weak_ptr<const engine::PreparedModule> module;
    engine::Sandbox* sandbox = nullptr;
  };
  // The native module for `sha`, or null (then a build is requested when the artifact is missing).
  std::shared_ptr<const engine::PreparedModule> load_native(const std::string& sha,
                                                            const std::string& function_id);
  Expected<std::shared_ptr<const Loaded>> load(std::string_view ref);
  // The part of invoke() that can refuse: resolve, authorize, admit. Fills `ctx` as it goes.
  Expected<std::shared_ptr<const Loaded>> admit(InvocationContext& ctx);

  store::Store& store_;
  engine::Sandbox& sandbox_;
  ExecutionWriter& writer_;
  host::HostRuntime* host_;
  const Clock& clock_;
  LimitEnforcer limits_;
  std::vector<InvocationObserver*> observers_;

  std::shared_mutex mu_;
  uint64_t generation_ = 0;  // bumped by invalidate; a load that raced it is not cached
  std::unordered_map<std::string, std::shared_ptr<const Loaded>> by_id_;
  std::unordered_map<std::string, std::shared_ptr<const Loaded>> by_name_;
  // Recent durations by function id and by name. Kept across cache reloads (a native build
  // completing, an environment change), so a slow function stays known as slow.
  std::unordered_map<std::string, std::shared_ptr<std::atomic<double>>> recent_;
  std::unordered_map<std::string, CachedModule> modules_;  // by sha256
  NativeTier native_;
};

}  // namespace nil::invoke
