// The Invoker with its InvocationContext, LimitEnforcer and observers, against real parts: a
// SQLite store in a temporary directory, the interpreter sandbox, WAT guests. A test observer
// records the events of each invocation: success and guest failure (a trap) are start + finish;
// a refusal (rate limit, concurrency limit, authorization, unknown function) is a reject only.
#include "invoke/invoker.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../engine/wat.h"
#include "../store/store_fixture.h"
#include "common/clock.h"
#include "common/util.h"

namespace nil::invoke {
namespace {

using engine::testing::wat_to_wasm;

constexpr const char* kEcho = R"((module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (local $n i32)
    (loop $read
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 4096))
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
        (then (return)))
      (local.set $n (i32.load (i32.const 8)))
      (if (i32.eqz (local.get $n)) (then (return)))
      (i32.store (i32.const 4) (local.get $n))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $read))))
)";

constexpr const char* kTrap = R"((module
  (memory (export "memory") 1)
  (func (export "_start") unreachable))
)";

// One event as the observer saw it (copied: observers must not keep the context).
struct Event {
  enum Kind { kStart, kFinish, kReject } kind;
  InvocationContext::Phase phase;
  Trigger trigger;
  std::string function_name;  // empty: not resolved
  std::string execution_id;
  std::optional<store::ExecutionStatus> status;      // finish
  std::string error_type;                            // finish of a FAILED execution
  ErrorCode error_code = ErrorCode::kInternalError;  // reject
  TriggerDetails details;
  uint32_t timeout_ms = 0;
  Clock::SteadyTime deadline{};
};

class RecordingObserver final : public InvocationObserver {
 public:
  void on_start(const InvocationContext& ctx) override {
    events.push_back(common(Event::kStart, ctx));
    if (during_start) during_start(ctx);
  }
  void on_finish(const InvocationContext& ctx, const store::Execution& ex) override {
    Event e = common(Event::kFinish, ctx);
    EXPECT_EQ(&ex, &ctx.execution()) << "on_finish gets the context's own record";
    e.status = ex.status;
    if (ex.error) e.error_type = ex.error->type;
    events.push_back(std::move(e));
  }
  void on_reject(const InvocationContext& ctx, const Error& error) override {
    Event e = common(Event::kReject, ctx);
    e.error_code = error.code;
    events.push_back(std::move(e));
  }

  std::vector<Event> events;
  std::function<void(const InvocationContext&)> during_start;

 private:
  static Event common(Event::Kind kind, const InvocationContext& ctx) {
    Event e{kind, ctx.phase(), ctx.trigger(), {}, ctx.execution().id, {}, {}, {}, ctx.details()};
    if (ctx.function() != nullptr) e.function_name = ctx.function()->name;
    e.timeout_ms = ctx.limits().timeout_ms;
    e.deadline = ctx.deadline();
    return e;
  }
};

class InvokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open_store(db_.url());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    sandbox_ = engine::make_interpreter_sandbox();
    writer_ = std::make_unique<ExecutionWriter>(*store_);
    start({});
  }
  void TearDown() override {
    invoker_.reset();
    writer_->stop();
  }

  // (Re)creates the invoker with these limits and the test observer.
  void start(LimitSettings limits) {
    invoker_ = std::make_unique<Invoker>(*store_, *sandbox_, *writer_, nullptr, limits, clock_);
    invoker_->add_observer(&observer_);
  }

  // A READY function running `wat`, as the compile pool would leave it.
  std::string deploy(const std::string& name, const char* wat, uint32_t timeout_ms = 5000) {
    store::NewFunction nf;
    nf.name = name;
    nf.language = "wasm";
    nf.source = wat_to_wasm(wat);
    nf.limits.timeout_ms = timeout_ms;
    auto f = store_->create_function(nf);
    EXPECT_TRUE(f.ok()) << f.error().message;
    auto job = store_->claim_compile_job("test", 60'000'000);
    EXPECT_TRUE(job.ok() && job->has_value());
    store::CompileOutcome o;
    o.ok = true;
    o.wasm = nf.source;
    o.wasm_sha256 = sha256_hex(o.wasm);
    EXPECT_TRUE(store_->complete_compile_job(**job, o).ok());
    return f->id;
  }

  Expected<store::Execution> run(const std::string& ref, Trigger trigger = Trigger::kApi,
                                 std::string input = "{\"a\":1}", Caller caller = {},
                                 TriggerDetails details = {}) {
    return invoker_->invoke(
        InvocationContext(ref, trigger, std::move(input), std::move(caller), std::move(details)));
  }

  std::vector<Event::Kind> kinds() const {
    std::vector<Event::Kind> k;
    for (const auto& e : observer_.events) k.push_back(e.kind);
    return k;
  }

  store::testing::SqliteTestDatabase db_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<engine::Sandbox> sandbox_;
  std::unique_ptr<ExecutionWriter> writer_;
  ManualClock clock_;
  RecordingObserver observer_;
  std::unique_ptr<Invoker> invoker_;
};

TEST_F(InvokerTest, SuccessIsStartThenFinishWithTheStoredRecord) {
  std::string id = deploy("echo", kEcho, 1234);
  Caller caller;
  caller.user_id = "u-1";
  caller.username = "ada";
  caller.role = "dev";
  auto ex = run("echo", Trigger::kApi, "{\"a\":1}", caller);
  ASSERT_TRUE(ex.ok()) << ex.error().message;
  EXPECT_EQ(ex->status, store::ExecutionStatus::kSucceeded);
  EXPECT_EQ(ex->output, "{\"a\":1}");
  EXPECT_EQ(ex->input, "{\"a\":1}");
  EXPECT_EQ(ex->trigger, "api");
  EXPECT_EQ(ex->user_id, "u-1");
  // The records' times come from the injected clock.
  EXPECT_EQ(ex->started_at, clock_.now_micros());
  EXPECT_EQ(ex->finished_at, clock_.now_micros());

  ASSERT_EQ(kinds(), (std::vector<Event::Kind>{Event::kStart, Event::kFinish}));
  const Event& start = observer_.events[0];
  EXPECT_EQ(start.phase, InvocationContext::Phase::kRunning);
  EXPECT_EQ(start.trigger, Trigger::kApi);
  EXPECT_EQ(start.function_name, "echo");
  EXPECT_EQ(start.execution_id, ex->id);  // the record is being built before the run
  EXPECT_EQ(start.timeout_ms, 1234u);     // resolved by the LimitEnforcer
  EXPECT_EQ(start.deadline, clock_.steady_now() + std::chrono::milliseconds(1234));
  const Event& finish = observer_.events[1];
  EXPECT_EQ(finish.phase, InvocationContext::Phase::kFinished);
  EXPECT_EQ(finish.execution_id, ex->id);
  EXPECT_EQ(finish.status, store::ExecutionStatus::kSucceeded);

  writer_->sync();
  auto stored = store_->get_execution(ex->id);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(stored->trigger, "api");
  EXPECT_EQ(stored->function_id, id);
  EXPECT_EQ(stored->output, "{\"a\":1}");
}

TEST_F(InvokerTest, TrapIsStartThenFinishFailedNotAReject) {
  deploy("trap", kTrap);
  auto ex = run("trap", Trigger::kHttp);
  ASSERT_TRUE(ex.ok()) << ex.error().message;  // the guest failed; the invocation did run
  EXPECT_EQ(ex->status, store::ExecutionStatus::kFailed);
  ASSERT_TRUE(ex->error);
  EXPECT_EQ(ex->error->type, "trap");
  EXPECT_EQ(ex->trigger, "http");
  ASSERT_EQ(kinds(), (std::vector<Event::Kind>{Event::kStart, Event::kFinish}));
  EXPECT_EQ(observer_.events[1].status, store::ExecutionStatus::kFailed);
  EXPECT_EQ(observer_.events[1].error_type, "trap");
  writer_->sync();
  auto stored = store_->get_execution(ex->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, store::ExecutionStatus::kFailed);
}

TEST_F(InvokerTest, RateLimitedInvocationNeverStartsAndIsRejected) {
  start({.function_rate = 1, .function_burst = 1});
  deploy("echo", kEcho);
  ASSERT_TRUE(run("echo").ok());
  observer_.events.clear();

  auto refused = run("echo", Trigger::kCron);  // any trigger: the limit is the invoker's
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(http_status(refused.error().code), 429);
  EXPECT_EQ(refused.error().retry_after_s, 1);
  ASSERT_EQ(kinds(), (std::vector<Event::Kind>{Event::kReject}));
  EXPECT_EQ(observer_.events[0].error_code, ErrorCode::kRateLimited);
  EXPECT_EQ(observer_.events[0].phase, InvocationContext::Phase::kRejected);
  EXPECT_EQ(observer_.events[0].function_name, "echo");
  EXPECT_TRUE(observer_.events[0].execution_id.empty());  // no record: nothing ran

  clock_.advance(std::chrono::seconds(1));  // the bucket refills on the test clock
  EXPECT_TRUE(run("echo").ok());
}

TEST_F(InvokerTest, RefusedAuthorizationSpendsNoRateToken) {
  start({.function_rate = 1, .function_burst = 1});
  deploy("echo", kEcho);
  Caller stranger;
  stranger.authorize = [](const store::Function& f) -> Expected<void> {
    return make_error(ErrorCode::kFunctionNotFound, "no function " + f.name);
  };
  auto refused = run("echo", Trigger::kApi, "{}", stranger);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kFunctionNotFound);
  ASSERT_EQ(kinds(), (std::vector<Event::Kind>{Event::kReject}));
  EXPECT_TRUE(run("echo").ok());  // the one token is still there
}

TEST_F(InvokerTest, UnknownFunctionIsRejectedWithoutAFunction) {
  auto refused = run("nope");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kFunctionNotFound);
  ASSERT_EQ(kinds(), (std::vector<Event::Kind>{Event::kReject}));
  EXPECT_TRUE(observer_.events[0].function_name.empty());
}

TEST_F(InvokerTest, ConcurrencyLimitRefusesASecondRunningInvocationAndFreesOnFinish) {
  start({.function_concurrency = 1});
  std::string id = deploy("echo", kEcho);
  // While the first invocation runs (its on_start), a second one of the same function must be
  // refused; another function is not affected.
  deploy("other", kEcho);
  std::optional<Expected<store::Execution>> nested, other;
  observer_.during_start = [&](const InvocationContext& ctx) {
    if (ctx.function()->name != "echo" || nested) return;
    EXPECT_EQ(invoker_->limits().running(id), 1u);
    nested = run("echo", Trigger::kQueue);
    other = run("other");
  };
  auto first = run("echo");
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(nested && other);
  ASSERT_FALSE(nested->ok());
  EXPECT_EQ(nested->error().code, ErrorCode::kConcurrencyLimit);
  EXPECT_EQ(http_status(nested->error().code), 429);
  EXPECT_TRUE(other->ok());
  // Events: echo start, queue reject, other start + finish, echo finish.
  ASSERT_EQ(kinds(), (std::vector<Event::Kind>{Event::kStart, Event::kReject, Event::kStart,
                                               Event::kFinish, Event::kFinish}));
  EXPECT_EQ(observer_.events[1].error_code, ErrorCode::kConcurrencyLimit);
  EXPECT_EQ(observer_.events[1].trigger, Trigger::kQueue);

  // invoke() destroyed the context: the slot is free again.
  EXPECT_EQ(invoker_->limits().running(id), 0u);
  EXPECT_TRUE(run("echo").ok());
}

TEST_F(InvokerTest, CronTriggerIsStoredByItsPreciseKindWithItsDetails) {
  deploy("tick", kEcho);
  TriggerDetails details;
  details.schedule_id = "sched-1";
  details.tick_at_micros = clock_.now_micros();
  details.attempt = 1;
  auto ex = run("tick", Trigger::kCron, "null", {}, details);
  ASSERT_TRUE(ex.ok()) << ex.error().message;
  EXPECT_EQ(ex->trigger, "cron");
  EXPECT_FALSE(ex->user_id);  // a trigger acting as the system is anonymous
  ASSERT_EQ(kinds(), (std::vector<Event::Kind>{Event::kStart, Event::kFinish}));
  EXPECT_EQ(observer_.events[0].details.schedule_id, "sched-1");
  EXPECT_EQ(observer_.events[0].details.tick_at_micros, clock_.now_micros());
  EXPECT_EQ(observer_.events[0].details.attempt, 1u);
  EXPECT_EQ(faas_trigger(observer_.events[0].trigger), "timer");
  writer_->sync();
  auto stored = store_->get_execution(ex->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->trigger, "cron");
}

}  // namespace
}  // namespace nil::invoke
