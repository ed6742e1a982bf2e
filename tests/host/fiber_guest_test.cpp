// Suspendable invocations (issue 13): native-tier guests calling nil.http_fetch on fibers
// (common/fiber.h) against a real local HTTP server. A fetch on a fiber gives the thread back:
// another invocation runs (and traps) on the same thread meanwhile; a deadline that passes while
// suspended is a timeout; traps, memory limits and stack exhaustion after resuming are reported
// as on a thread, and the thread stays healthy. The interpreter tier blocks instead of
// suspending and still answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <random>

#include "../engine/tiers.h"
#include "../engine/wat.h"
#include "common/fiber.h"
#include "engine/engine.h"
#include "host/host.h"
#include "test_http_server.h"

namespace nil::host {
namespace {

using ::testing::HasSubstr;

// Fetches the request at 1024, reads the answer to 65536, runs `after`, prints the answer.
std::string fetch_then(std::string_view request, std::string_view after) {
  return engine::testing::wat_to_wasm(R"((module
  (import "nil" "http_fetch" (func $fetch (param i32 i32) (result i32)))
  (import "nil" "result_read" (func $read (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (data (i32.const 1024) ")" + engine::testing::wat_string(request) +
                                      R"(")
  (func $deep (param i32) (result i32)
    (i32.add (call $deep (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "_start") (local $n i32)
    (drop (call $fetch (i32.const 1024) (i32.const )" +
                                      std::to_string(request.size()) + R"()))
    (local.set $n (call $read (i32.const 65536) (i32.const 131072)))
    )" + std::string(after) + R"(
    (i32.store (i32.const 0) (i32.const 65536))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
)");
}

class FiberGuestTest : public ::testing::Test {
 protected:
  FiberGuestTest() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("nil-fiber-test-" + std::to_string(rd()));
    HostConfig cfg;
    cfg.app_db = dir_ / "app.db";
    cfg.http_allow_private = true;
    runtime_ = std::make_unique<HostRuntime>(cfg);
    grants_.http_allow = {"127.0.0.1:" + std::to_string(server_.port())};
  }
  ~FiberGuestTest() override {
    threads_.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string request(std::string_view path) { return R"({"url":")" + server_.url(path) + R"("})"; }

  // Starts the invocation on a fiber (of the one fiber thread); the future has its result and
  // whether it ran on a fiber that could suspend.
  std::future<std::pair<engine::Result, bool>> start(engine::Sandbox& sandbox,
                                                     const std::string& wasm,
                                                     engine::Limits limits = {}) {
    auto prepared = sandbox.prepare(wasm);
    EXPECT_TRUE(prepared.ok()) << prepared.error().message;
    auto promise = std::make_shared<std::promise<std::pair<engine::Result, bool>>>();
    auto module = std::move(prepared).value();
    threads_.spawn([this, &sandbox, module, limits, promise] {
      auto services = runtime_->for_invocation(grants_, {});
      engine::Invocation inv;
      inv.host = services.get();
      inv.limits = limits;
      bool suspendable = fiber::can_suspend();
      promise->set_value({sandbox.invoke(*module, inv), suspendable});
    });
    return promise->get_future();
  }

  engine::Result run(engine::Sandbox& sandbox, const std::string& wasm,
                     engine::Limits limits = {}) {
    auto f = start(sandbox, wasm, limits);
    EXPECT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    auto [r, suspendable] = f.get();
    EXPECT_TRUE(suspendable);
    return r;
  }

  std::filesystem::path dir_;
  std::unique_ptr<HostRuntime> runtime_;
  FunctionGrants grants_;
  testing::TestHttpServer server_;
  std::unique_ptr<engine::Sandbox> native_ = engine::testing::make_test_sandbox("native");
  fiber::FiberThreads threads_{1, 8u << 20};
};

TEST_F(FiberGuestTest, AWaitingFetchGivesItsThreadToAnotherInvocation) {
  // One fiber thread: the second invocation can only run (and trap, and finish) while the first
  // is suspended in its fetch; the first then resumes and answers.
  auto waiting = start(*native_, fetch_then(request("/gate"), ""));
  auto trapping = start(*native_, fetch_then(request("/hello"), "(unreachable)"));
  ASSERT_EQ(trapping.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  auto [trapped, s1] = trapping.get();
  ASSERT_FALSE(trapped.succeeded);
  EXPECT_EQ(trapped.failure->type, "trap");
  EXPECT_THAT(trapped.failure->message, HasSubstr("unreachable"));
  EXPECT_NE(waiting.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  server_.open_gate();
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  auto [r, s2] = waiting.get();
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_THAT(r.output, HasSubstr("through the gate"));
  EXPECT_TRUE(s1 && s2);
}

TEST_F(FiberGuestTest, ManyFetchesWaitAtOnceOnOneThread) {
  // More fetches waiting at the gate than the thread could run if each held it.
  std::vector<std::future<std::pair<engine::Result, bool>>> all;
  for (int i = 0; i < 50; ++i) all.push_back(start(*native_, fetch_then(request("/gate"), "")));
  while (server_.requests() < 50) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server_.open_gate();
  for (auto& f : all) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    auto [r, s] = f.get();
    ASSERT_TRUE(r.succeeded) << r.failure->message;
    EXPECT_THAT(r.output, HasSubstr("through the gate"));
  }
}

TEST_F(FiberGuestTest, ADeadlineThatPassesWhileSuspendedIsATimeout) {
  engine::Limits limits;
  limits.timeout_ms = 300;
  auto r = run(*native_, fetch_then(request("/hang"), ""), limits);
  ASSERT_FALSE(r.succeeded);
  EXPECT_EQ(r.failure->type, "timeout");
  // The thread is healthy afterwards.
  auto ok = run(*native_, fetch_then(request("/hello"), ""));
  ASSERT_TRUE(ok.succeeded) << ok.failure->message;
}

TEST_F(FiberGuestTest, ATrapAfterResumingIsATrap) {
  auto r = run(*native_, fetch_then(request("/hello"), "(unreachable)"));
  ASSERT_FALSE(r.succeeded);
  EXPECT_EQ(r.failure->type, "trap");
  EXPECT_THAT(r.failure->message, HasSubstr("unreachable"));
  auto oob = run(*native_, fetch_then(request("/hello"), "(drop (i32.load (i32.const -8)))"));
  ASSERT_FALSE(oob.succeeded);
  EXPECT_EQ(oob.failure->message, "out of bounds memory access");
}

TEST_F(FiberGuestTest, AMemoryLimitAfterResumingIsAMemoryLimit) {
  engine::Limits limits;
  limits.memory_mb = 1;
  auto r =
      run(*native_, fetch_then(request("/hello"), "(drop (memory.grow (i32.const 100)))"), limits);
  ASSERT_FALSE(r.succeeded);
  EXPECT_EQ(r.failure->type, "memory_limit");
}

TEST_F(FiberGuestTest, AStackOverflowAfterResumingIsCallStackExhausted) {
  auto r = run(*native_, fetch_then(request("/hello"), "(drop (call $deep (i32.const 0)))"));
  ASSERT_FALSE(r.succeeded);
  EXPECT_EQ(r.failure->type, "trap");
  EXPECT_EQ(r.failure->message, "call stack exhausted");
  auto ok = run(*native_, fetch_then(request("/hello"), ""));
  ASSERT_TRUE(ok.succeeded) << ok.failure->message;
}

TEST_F(FiberGuestTest, TheInterpreterBlocksItsFiberAndStillAnswers) {
  auto interp = engine::make_interpreter_sandbox();
  auto r = run(*interp, fetch_then(request("/hello"), ""));
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_THAT(r.output, HasSubstr("hello"));
}

TEST(FiberAwait, OffAFiberItBlocksUntilWokenOrTheDeadline) {
  EXPECT_FALSE(fiber::on_fiber());
  std::thread waker_thread;
  bool woken = fiber::await([&](const fiber::WakerPtr& w) {
    waker_thread = std::thread([w] { EXPECT_TRUE(w->wake()); });
  });
  waker_thread.join();
  EXPECT_TRUE(woken);
  fiber::WakerPtr kept;
  bool in_time = fiber::await([&](const fiber::WakerPtr& w) { kept = w; },
                              std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
  EXPECT_FALSE(in_time);
  EXPECT_FALSE(kept->wake());  // the deadline won: the waker knows it came too late
}

}  // namespace
}  // namespace nil::host
