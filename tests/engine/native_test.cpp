// The native tier's own behaviour, beyond what the shared suite (engine_test, host_calls_test,
// run on both tiers) checks: timeouts that interrupt native code many times over on one thread,
// stack exhaustion, guard-page traps, pooled reservations that leak nothing between invocations,
// many threads trapping at once, faults outside guest code left to the previous handler, and
// loading artifacts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "compile/native_builder.h"
#include "engine/engine.h"
#include "engine/native/native_runtime.h"
#include "tiers.h"
#include "wat.h"

namespace nil::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::wat_to_wasm;

constexpr std::string_view kEcho = R"((module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 60000))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
)";

class NativeTest : public ::testing::Test {
 protected:
  std::shared_ptr<const PreparedModule> prepare(std::string_view wat) {
    auto prepared = sandbox_->prepare(wat_to_wasm(wat));
    EXPECT_TRUE(prepared.ok()) << prepared.error().code << ": " << prepared.error().message;
    return prepared.ok() ? prepared.value() : nullptr;
  }
  Result run(const std::shared_ptr<const PreparedModule>& m, std::string_view input = "",
             Limits limits = {}) {
    Invocation inv;
    inv.input = input;
    inv.limits = limits;
    return sandbox_->invoke(*m, inv);
  }
  void expect_echo(const std::shared_ptr<const PreparedModule>& echo) {
    Result r = run(echo, R"({"still":"fine"})");
    ASSERT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message;
    EXPECT_EQ(r.output, R"({"still":"fine"})");
  }
  std::unique_ptr<Sandbox> sandbox_ = testing::make_test_sandbox("native");
};

TEST_F(NativeTest, AThousandTimeoutsLeaveTheThreadHealthy) {
  auto spin = prepare(R"((module (func (export "_start") (loop $l (br $l)))))");
  auto echo = prepare(kEcho);
  Limits limits;
  limits.timeout_ms = 1;
  int timeouts = 0;
  for (int i = 0; i < 1000; ++i) {
    Result r = run(spin, "", limits);
    if (r.failure && r.failure->type == "timeout") ++timeouts;
    if (i % 100 == 0) expect_echo(echo);
  }
  EXPECT_EQ(timeouts, 1000);
  expect_echo(echo);
}

TEST_F(NativeTest, TimeoutDuringAHostCallIsTakenWhenTheGuestResumes) {
  // The guest spends its time in fd_write (host code, where no jump may happen) and in a loop.
  auto m = prepare(R"((module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 1))
      (loop $l
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br $l)))))");
  Limits limits;
  limits.timeout_ms = 5;
  for (int i = 0; i < 50; ++i) {
    Result r = run(m, "", limits);
    ASSERT_TRUE(r.failure.has_value());
    EXPECT_EQ(r.failure->type, "timeout");
  }
  expect_echo(prepare(kEcho));
}

TEST_F(NativeTest, DeepRecursionIsCallStackExhaustedOnAnyThread) {
  auto m = prepare(R"((module
    (func $r (param i64) (result i64) (i64.add (call $r (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
    (func (export "_start") (drop (call $r (i64.const 0))))))");
  auto echo = prepare(kEcho);
  for (int i = 0; i < 3; ++i) {
    Result r = run(m);
    ASSERT_TRUE(r.failure.has_value());
    EXPECT_EQ(r.failure->type, "trap");
    EXPECT_EQ(r.failure->message, "call stack exhausted");
    expect_echo(echo);
  }
  std::thread worker([&] {
    Result r = run(m);
    ASSERT_TRUE(r.failure.has_value());
    EXPECT_EQ(r.failure->message, "call stack exhausted");
    expect_echo(echo);
  });
  worker.join();
}

TEST_F(NativeTest, HostCallsNearTheEndOfTheStackTrapInsteadOfOverflowing) {
  // Recursion that calls the host on every level: the host call refuses when the stack is low.
  auto m = prepare(R"((module
    (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
    (memory (export "memory") 1)
    (func $r (param i32) (result i32)
      (i32.add (call $yield) (call $r (local.get 0))))
    (func (export "_start") (drop (call $r (i32.const 0))))))");
  Result r = run(m);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->message, "call stack exhausted");
  expect_echo(prepare(kEcho));
}

TEST_F(NativeTest, ASmallThreadStackStillServesHostCallsAndTrapsDeepRecursion) {
  // 256 KiB, less than the usual host-call reserve: the reserve shrinks with the stack.
  auto echo = prepare(kEcho);
  auto deep = prepare(R"((module
    (func $r (param i64) (result i64) (i64.add (call $r (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
    (func (export "_start") (drop (call $r (i64.const 0))))))");
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256u << 10);
  pthread_t thread;
  using Self = std::remove_pointer_t<decltype(this)>;
  struct Args {
    Self* test;
    std::shared_ptr<const PreparedModule> echo, deep;
    bool echo_ok = false;
    std::string deep_message;
  } args{this, echo, deep, false, {}};
  ASSERT_EQ(pthread_create(
                &thread, &attr,
                [](void* p) -> void* {
                  auto* a = static_cast<Args*>(p);
                  Result r = a->test->run(a->echo, R"({"small":"stack"})");
                  a->echo_ok = r.succeeded && r.output == R"({"small":"stack"})";
                  Result d = a->test->run(a->deep);
                  a->deep_message = d.failure ? d.failure->message : "no failure";
                  return nullptr;
                },
                &args),
            0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  EXPECT_TRUE(args.echo_ok);
  EXPECT_EQ(args.deep_message, "call stack exhausted");
}

TEST_F(NativeTest, GuardPagesTrapPastTheEndOfMemoryAndPastAGrow) {
  auto m = prepare(R"((module (memory 1)
    (func (export "_start")
      (drop (memory.grow (i32.const 1)))
      (i32.store (i32.const 131068) (i32.const 1))     ;; the last word of page 2: fine
      (i32.store (i32.const 131070) (i32.const 1)))))");  // straddles the end: a trap
  Result r = run(m);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->type, "trap");
  EXPECT_THAT(r.failure->message, StartsWith("out of bounds memory access"));
  auto far = prepare(R"((module (memory 1)
    (func (export "_start") (drop (i32.load offset=4294967295 (i32.const -1))))))");
  Result r2 = run(far);
  ASSERT_TRUE(r2.failure.has_value());
  EXPECT_THAT(r2.failure->message, StartsWith("out of bounds memory access"));
  expect_echo(prepare(kEcho));
}

TEST_F(NativeTest, APooledReservationShowsNothingOfTheLastInvocation) {
  // One module writes inside its initial page and into a page it grew; the next invocations (of
  // another module, on the same thread, so on the same pooled reservation) must see zeros and
  // must not reach the grown page without growing.
  auto writer = prepare(R"((module (memory 1)
    (func (export "_start")
      (i32.store (i32.const 100) (i32.const 0x5eC12E7))
      (if (i32.ne (memory.grow (i32.const 3)) (i32.const 1)) (then unreachable))
      (i32.store (i32.const 200000) (i32.const 0x5eC12E7)))))");
  auto reader = prepare(R"((module (memory 1)
    (func (export "_start")
      (if (i32.ne (memory.size) (i32.const 1)) (then unreachable))
      (if (i32.load (i32.const 100)) (then unreachable))
      (if (i32.ne (memory.grow (i32.const 3)) (i32.const 1)) (then unreachable))
      (if (i32.load (i32.const 200000)) (then unreachable)))))");
  auto peeker = prepare(R"((module (memory 1)
    (func (export "_start") (drop (i32.load (i32.const 200000))))))");
  for (int i = 0; i < 5; ++i) {
    Result w = run(writer);
    ASSERT_TRUE(w.succeeded) << w.failure->message;
    Result p = run(peeker);
    ASSERT_TRUE(p.failure.has_value()) << "read past the initial size without a grow";
    EXPECT_THAT(p.failure->message, StartsWith("out of bounds memory access"));
    ASSERT_TRUE(run(writer).succeeded);
    Result r = run(reader);
    ASSERT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message;
  }
  EXPECT_GT(native::pooled_reservations_on_this_thread(), 0u);
}

TEST_F(NativeTest, ManyThreadsTrappingAtOnceAffectNoOneElse) {
  auto echo = prepare(kEcho);
  auto spin = prepare(R"((module (func (export "_start") (loop $l (br $l)))))");
  auto oob = prepare(
      R"((module (memory 1) (func (export "_start") (drop (i32.load (i32.const 70000))))))");
  auto unreachable = prepare(R"((module (func (export "_start") unreachable)))");
  auto div = prepare(
      R"((module (func (export "_start") (drop (i32.div_u (i32.const 1) (i32.const 0))))))");
  std::atomic<int> wrong{0}, done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        Invocation inv;
        switch ((t + i) % 5) {
          case 0: {
            std::string input = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
            inv.input = input;
            Result r = sandbox_->invoke(*echo, inv);
            if (!r.succeeded || r.output != input) ++wrong;
            break;
          }
          case 1: {
            inv.limits.timeout_ms = 3;
            Result r = sandbox_->invoke(*spin, inv);
            if (!r.failure || r.failure->type != "timeout") ++wrong;
            break;
          }
          case 2: {
            Result r = sandbox_->invoke(*oob, inv);
            if (!r.failure || r.failure->message.rfind("out of bounds memory access", 0) != 0)
              ++wrong;
            break;
          }
          case 3: {
            Result r = sandbox_->invoke(*unreachable, inv);
            if (!r.failure || r.failure->message.rfind("unreachable", 0) != 0) ++wrong;
            break;
          }
          case 4: {
            Result r = sandbox_->invoke(*div, inv);
            if (!r.failure || r.failure->message != "integer divide by zero") ++wrong;
            break;
          }
        }
        ++done;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(done.load(), 12 * 40);
}

TEST_F(NativeTest, ThreadsThatEndReleaseTheirReservations) {
  auto m = prepare(
      R"((module (memory 2) (func (export "_start") (i32.store (i32.const 8) (i32.const 1)))))");
  auto count_maps = [] {
    std::ifstream in("/proc/self/maps");
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  };
  // Warm up (handlers, the first thread's resources) before counting.
  std::thread([&] { run(m); }).join();
  int before = count_maps();
  for (int i = 0; i < 64; ++i) {
    std::thread([&] {
      Result r = run(m);
      EXPECT_TRUE(r.succeeded);
    }).join();
  }
  EXPECT_LT(count_maps(), before + 16);
}

TEST_F(NativeTest, AFaultOutsideGuestCodeIsNotSwallowed) {
  auto echo = prepare(kEcho);
  expect_echo(echo);  // the runtime's handlers are installed now
  EXPECT_DEATH(
      {
        volatile int* p = nullptr;
        *p = 1;
      },
      "");
}

TEST_F(NativeTest, LoadRejectsWhatIsNotAnArtifact) {
  auto native = make_native_sandbox();
  auto missing = native->load("/nonexistent/x.so");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNativeLoadFailed);
  // A shared object without the entry points (libm is one on every system).
  auto libm = native->load("libm.so.6");
  ASSERT_FALSE(libm.ok());
  EXPECT_THAT(libm.error().message, HasSubstr("entry points"));
  auto unbuilt = native->prepare(wat_to_wasm(R"((module (func (export "_start"))))"));
  ASSERT_FALSE(unbuilt.ok());
  EXPECT_EQ(unbuilt.error().code, ErrorCode::kNativeNotBuilt);
}

TEST_F(NativeTest, BuildWritesTheArtifactUnderItsNameAndPrepareFindsIt) {
  std::string wasm = wat_to_wasm(R"((module (func (export "_start") (nop))))");
  auto dir = std::filesystem::temp_directory_path() / ("nil_native_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto so = dir / native_artifact_name(module_sha256(wasm));
  auto built = compile::build_native(wasm, so);
  ASSERT_TRUE(built.ok()) << built.error().message;
  NativeOptions o;
  o.artifact_dir = dir.string();
  auto native = make_native_sandbox(o);
  auto m = native->prepare(wasm);
  ASSERT_TRUE(m.ok()) << m.error().message;
  Invocation inv;
  Result r = native->invoke(**m, inv);
  EXPECT_TRUE(r.succeeded);
  EXPECT_EQ(r.output, "null");
  // Nothing but the artifact is left behind (the temp name was renamed).
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(dir);
}

TEST_F(NativeTest, BuildRejectsAnInvalidModule) {
  auto dir = std::filesystem::temp_directory_path() / "nil_native_invalid.so";
  auto built = compile::build_native("\0asm\x01", dir);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().code, ErrorCode::kInvalidWasm);
}

}  // namespace
}  // namespace nil::engine
