// Every tier's sandbox: the guest contract of docs/abi.md, every failure type, limits,
// isolation between invocations, and concurrency. Each test runs once per tier (tiers.h); the
// results must be identical.
#include "engine/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tiers.h"
#include "wat.h"

namespace nil::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::wat_to_wasm;
using testing::writer_module;
using namespace std::chrono_literals;

constexpr std::string_view kEcho = R"((module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (func (export "_start") (local $total i32) (local $n i32)
    (loop $more
      (i32.store (i32.const 0) (i32.add (i32.const 1024) (local.get $total)))
      (i32.store (i32.const 4) (i32.sub (i32.const 200000) (local.get $total)))
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)) (then unreachable))
      (local.set $n (i32.load (i32.const 8)))
      (local.set $total (i32.add (local.get $total) (local.get $n)))
      (br_if $more (local.get $n)))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (local.get $total))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
)";

constexpr std::string_view kSpin = R"((module (func (export "_start") (loop $l (br $l)))))";

constexpr std::string_view kFib = R"((module
  (func $fib (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "_start") (drop (call $fib (i32.const 45))))))";

class SandboxTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::shared_ptr<const PreparedModule> prepare(std::string_view wat) {
    auto prepared = sandbox_->prepare(wat_to_wasm(wat));
    EXPECT_TRUE(prepared.ok()) << prepared.error().code << ": " << prepared.error().message;
    return prepared.ok() ? prepared.value() : nullptr;
  }
  std::shared_ptr<const PreparedModule> prepare_wasm(const std::string& wasm) {
    auto prepared = sandbox_->prepare(wasm);
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
  // After any failure, the sandbox must still serve ordinary invocations.
  void expect_healthy() {
    if (!echo_) echo_ = prepare(kEcho);
    const auto& echo = echo_;
    Result r = run(echo, R"({"still": "fine"})");
    ASSERT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message;
    EXPECT_EQ(r.output, R"({"still": "fine"})");
  }
  static void expect_failure(const Result& r, std::string_view type) {
    EXPECT_FALSE(r.succeeded);
    ASSERT_TRUE(r.failure.has_value());
    EXPECT_EQ(r.failure->type, type) << r.failure->message;
  }

  std::unique_ptr<Sandbox> sandbox_ = testing::make_test_sandbox(GetParam());
  std::shared_ptr<const PreparedModule> echo_;
};

TEST_P(SandboxTest, Tier) { EXPECT_EQ(sandbox_->tier(), GetParam()); }

TEST_P(SandboxTest, EchoesInputToOutput) {
  auto m = prepare(kEcho);
  Result r = run(m, "  {\"a\": [1, 2, 3]}\n");
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_EQ(r.output, "{\"a\": [1, 2, 3]}");
  EXPECT_FALSE(r.failure.has_value());
  EXPECT_GT(r.duration.count(), 0);
}

TEST_P(SandboxTest, EchoesLargeInputAcrossManyReads) {
  auto m = prepare(kEcho);
  std::string big = "\"" + std::string(150000, 'x') + "\"";
  Result r = run(m, big);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_EQ(r.output, big);
}

TEST_P(SandboxTest, EmptyStdoutIsNull) {
  auto m = prepare(R"((module (func (export "_start"))))");
  Result r = run(m);
  ASSERT_TRUE(r.succeeded);
  EXPECT_EQ(r.output, "null");
  auto ws = prepare_wasm(writer_module(1, " \n\t "));
  Result r2 = run(ws);
  ASSERT_TRUE(r2.succeeded);
  EXPECT_EQ(r2.output, "null");
}

TEST_P(SandboxTest, StderrBecomesLogs) {
  auto m = prepare_wasm(writer_module(2, "hello from the guest\n"));
  Result r = run(m);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_EQ(r.logs, "hello from the guest\n");
  EXPECT_EQ(r.output, "{}");
}

TEST_P(SandboxTest, LogsPastTheLimitAreTruncatedNotFatal) {
  auto m = prepare(R"((module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start") (local $i i32)
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 300))
      (loop $l
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        ;; nwritten reports everything, even what was dropped
        (if (i32.ne (i32.load (i32.const 8)) (i32.const 300)) (then unreachable))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))))
  )");
  Limits limits;
  limits.log_bytes = 1000;
  Result r = run(m, "", limits);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_EQ(r.logs, std::string(1000, '\0') + "\n[logs truncated]");
}

TEST_P(SandboxTest, EnvironAndArgsAreVisible) {
  // Writes the environ buffer, then the argv buffer, to stderr.
  auto m = prepare(R"((module
    (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func $dump (param $buf i32) (param $len i32)
      (i32.store (i32.const 0) (local.get $buf))
      (i32.store (i32.const 4) (local.get $len))
      (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))))
    (func (export "_start")
      (if (call $env_sizes (i32.const 16) (i32.const 20)) (then unreachable))
      (if (i32.ne (i32.load (i32.const 16)) (i32.const 2)) (then unreachable))
      (if (call $env_get (i32.const 32) (i32.const 256)) (then unreachable))
      ;; environ[1] points just past "A=1\0"
      (if (i32.ne (i32.load (i32.const 36)) (i32.const 260)) (then unreachable))
      (call $dump (i32.const 256) (i32.load (i32.const 20)))
      (if (call $args_sizes (i32.const 16) (i32.const 20)) (then unreachable))
      (if (i32.ne (i32.load (i32.const 16)) (i32.const 2)) (then unreachable))
      (if (call $args_get (i32.const 32) (i32.const 512)) (then unreachable))
      (call $dump (i32.const 512) (i32.load (i32.const 20)))))
  )");
  Invocation inv;
  inv.env = {{"A", "1"}, {"B", "two"}};
  inv.args = {"myfn", "x"};
  Result r = sandbox_->invoke(*m, inv);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_EQ(r.logs, std::string("A=1\0B=two\0myfn\0x\0", 17));
}

TEST_P(SandboxTest, StubbedWasiCallsAnswerWithErrnos) {
  auto m = prepare(R"((module
    (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
    (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
    (memory (export "memory") 1)
    (func $expect (param $got i32) (param $want i32)
      (if (i32.ne (local.get $got) (local.get $want)) (then unreachable)))
    (func (export "_start")
      (call $expect (call $prestat (i32.const 3) (i32.const 0)) (i32.const 8))
      (call $expect (call $seek (i32.const 1) (i64.const 0) (i32.const 0) (i32.const 0)) (i32.const 70))
      (call $expect (call $seek (i32.const 9) (i64.const 0) (i32.const 0) (i32.const 0)) (i32.const 8))
      (call $expect (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                              (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)) (i32.const 8))
      (call $expect (call $poll (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)) (i32.const 52))
      (call $expect (call $fd_write (i32.const 7) (i32.const 0) (i32.const 0) (i32.const 8)) (i32.const 8))
      (call $expect (call $fd_read (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 8)) (i32.const 8))
      (call $expect (call $fdstat (i32.const 1) (i32.const 64)) (i32.const 0))
      (call $expect (call $fdstat (i32.const 5) (i32.const 64)) (i32.const 8))
      (call $expect (call $close (i32.const 4)) (i32.const 8))
      (call $expect (call $clock (i32.const 0) (i64.const 0) (i32.const 128)) (i32.const 0))
      ;; realtime is after 2020 in nanoseconds
      (if (i64.lt_u (i64.load (i32.const 128)) (i64.const 1577836800000000000)) (then unreachable))
      (call $expect (call $clock (i32.const 99) (i64.const 0) (i32.const 128)) (i32.const 28))
      (call $expect (call $random (i32.const 256) (i32.const 64)) (i32.const 0))
      (call $expect (call $yield) (i32.const 0))))
  )");
  Result r = run(m);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
}

TEST_P(SandboxTest, InfiniteLoopTimesOutAndTheNextInvokeWorks) {
  auto m = prepare(kSpin);
  Limits limits;
  limits.timeout_ms = 50;
  for (int i = 0; i < 5; ++i) {
    Result r = run(m, "", limits);
    expect_failure(r, "timeout");
    EXPECT_GE(r.duration, 50ms);
    EXPECT_LT(r.duration, 2000ms);
    expect_healthy();
  }
}

TEST_P(SandboxTest, TenMillisecondTimeoutIsHonoured) {
  auto m = prepare(kSpin);
  Limits limits;
  limits.timeout_ms = 10;
  Result r = run(m, "", limits);
  expect_failure(r, "timeout");
  EXPECT_LT(r.duration, 500ms);
}

TEST_P(SandboxTest, RecursionWithoutLoopsTimesOut) {
  auto m = prepare(kFib);
  Limits limits;
  limits.timeout_ms = 50;
  Result r = run(m, "", limits);
  expect_failure(r, "timeout");
  EXPECT_LT(r.duration, 2000ms);
  expect_healthy();
}

TEST_P(SandboxTest, MemoryGrowPastTheCapIsMemoryLimit) {
  auto m = prepare(R"((module (memory (export "memory") 1)
    (func (export "_start")
      (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))))))");
  Limits limits;
  limits.memory_mb = 2;  // 32 pages: 1 + 16 fits, 33 does not
  Result r = run(m, "", limits);
  expect_failure(r, "memory_limit");
  EXPECT_THAT(r.failure->message, HasSubstr("2 MiB"));
  expect_healthy();
}

TEST_P(SandboxTest, MemoryGrowWithinTheCapWorks) {
  auto m = prepare(R"((module (memory (export "memory") 1)
    (func (export "_start")
      (if (i32.ne (memory.grow (i32.const 3)) (i32.const 1)) (then unreachable))
      (if (i32.ne (memory.size) (i32.const 4)) (then unreachable))
      (i32.store (i32.const 262140) (i32.const 42)))))");
  Limits limits;
  limits.memory_mb = 1;
  Result r = run(m, "", limits);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
}

TEST_P(SandboxTest, MemoryGrowPastTheModulesOwnMaximumReturnsMinusOne) {
  auto m = prepare(R"((module (memory (export "memory") 1 2)
    (func (export "_start")
      (if (i32.ne (memory.grow (i32.const 5)) (i32.const -1)) (then unreachable)))))");
  Result r = run(m);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
}

TEST_P(SandboxTest, InitialMemoryAboveTheCapIsMemoryLimit) {
  auto m = prepare(R"((module (memory (export "memory") 64) (func (export "_start"))))");
  Limits limits;
  limits.memory_mb = 1;
  expect_failure(run(m, "", limits), "memory_limit");
  Limits roomy;
  roomy.memory_mb = 8;
  EXPECT_TRUE(run(m, "", roomy).succeeded);
}

TEST_P(SandboxTest, TablesGrowAndIndirectCallsSeeTheirElements) {
  auto m = prepare(R"((module
    (type $t (func (result i32)))
    (table $f 1 funcref)
    (table $e 0 externref)
    (func $seven (result i32) (i32.const 7))
    (elem declare func $seven)
    (func (export "_start")
      (if (i32.ne (table.grow $f (ref.func $seven) (i32.const 2)) (i32.const 1)) (then unreachable))
      (if (i32.ne (table.size $f) (i32.const 3)) (then unreachable))
      (if (i32.ne (call_indirect $f (type $t) (i32.const 2)) (i32.const 7)) (then unreachable))
      (if (i32.ne (table.grow $e (ref.null extern) (i32.const 4)) (i32.const 0)) (then unreachable))
      (if (i32.ne (table.size $e) (i32.const 4)) (then unreachable))
      (if (i32.eqz (ref.is_null (table.get $e (i32.const 3)))) (then unreachable))
      (drop (call_indirect $f (type $t) (i32.const 0))))))");
  Result r = run(m);
  expect_failure(r, "trap");  // element 0 was never set
  EXPECT_THAT(r.failure->message, HasSubstr("uninitialized table element"));
  expect_healthy();
}

TEST_P(SandboxTest, StdoutPastTheLimitIsOutputLimit) {
  auto m = prepare(R"((module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 1000))
      (loop $l
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br $l)))))");
  Limits limits;
  limits.output_bytes = 10000;
  Result r = run(m, "", limits);
  expect_failure(r, "output_limit");
  EXPECT_THAT(r.failure->message, HasSubstr("10000"));
  expect_healthy();
}

struct TrapCase {
  const char* name;
  const char* body;
  const char* kind;
};

TEST_P(SandboxTest, TrapsNameTheirKind) {
  const TrapCase cases[] = {
      {"unreachable", "(func (export \"_start\") unreachable)", "unreachable"},
      {"div", "(func (export \"_start\") (drop (i32.div_s (i32.const 1) (i32.const 0))))",
       "integer divide by zero"},
      {"oob", "(memory 1) (func (export \"_start\") (drop (i32.load (i32.const 70000))))",
       "out of bounds memory access"},
      {"stack", "(func $r (call $r)) (func (export \"_start\") (call $r))", "call stack exhausted"},
      {"indirect", "(table 1 funcref) (func (export \"_start\") (call_indirect (i32.const 0)))",
       "uninitialized table element"},
  };
  for (const TrapCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto m = prepare(std::string("(module ") + c.body + ")");
    Result r = run(m);
    expect_failure(r, "trap");
    if (r.failure) {
      EXPECT_THAT(r.failure->message, StartsWith(c.kind));
    }
    expect_healthy();
  }
}

TEST_P(SandboxTest, OutOfBoundsPointersToHostCallsTrap) {
  const char* calls[] = {
      // iovec array past the end of memory
      "(drop (call $fd_write (i32.const 1) (i32.const 65530) (i32.const 1) (i32.const 8)))",
      // iovec array length overflowing 32 bits
      "(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0x20000000) (i32.const 8)))",
      // a buffer that runs past the end
      "(i32.store (i32.const 0) (i32.const 65000)) (i32.store (i32.const 4) (i32.const 1000))"
      "(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))",
      // a huge pointer
      "(i32.store (i32.const 0) (i32.const -16)) (i32.store (i32.const 4) (i32.const 32))"
      "(drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))",
      // nwritten out of bounds
      "(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const -1)))",
      // read into memory that is not there
      "(i32.store (i32.const 0) (i32.const 65535)) (i32.store (i32.const 4) (i32.const 16))"
      "(drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))",
      "(drop (call $random (i32.const 65500) (i32.const 100)))",
  };
  for (const char* call : calls) {
    SCOPED_TRACE(call);
    auto m = prepare(std::string(R"((module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start") )") +
                     call + "))");
    Result r = run(m, "0123456789abcdefghijklmnop");
    expect_failure(r, "trap");
    if (r.failure) {
      EXPECT_THAT(r.failure->message, StartsWith("out of bounds memory access"));
    }
  }
  expect_healthy();
}

TEST_P(SandboxTest, ProcExit) {
  auto fail = prepare(R"((module
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (func (export "_start") (call $exit (i32.const 3)) unreachable)))");
  Result r = run(fail);
  expect_failure(r, "exit");
  EXPECT_EQ(r.failure->message, "exited with code 3");
  EXPECT_EQ(r.exit_code, 3);

  auto ok = prepare(R"((module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (data (i32.const 100) "{\"ok\": true}")
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 100))
      (i32.store (i32.const 4) (i32.const 12))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (call $exit (i32.const 0))
      unreachable)))");
  Result r2 = run(ok);
  ASSERT_TRUE(r2.succeeded) << r2.failure->message;
  EXPECT_EQ(r2.output, "{\"ok\": true}");
  EXPECT_EQ(r2.exit_code, 0);
}

TEST_P(SandboxTest, NonJsonStdoutIsInvalidOutput) {
  auto m = prepare_wasm(writer_module(1, "hello, world"));
  Result r = run(m);
  expect_failure(r, "invalid_output");
  EXPECT_THAT(r.failure->message, HasSubstr("hello, world"));
  auto two = prepare_wasm(writer_module(1, "{} {}"));
  expect_failure(run(two), "invalid_output");
}

TEST_P(SandboxTest, StartFunctionTrapIsInstantiate) {
  auto m = prepare(R"((module (func $s unreachable) (start $s) (func (export "_start"))))");
  expect_failure(run(m), "instantiate");
  auto data =
      prepare(R"((module (memory 1) (data (i32.const 65535) "ab") (func (export "_start"))))");
  expect_failure(run(data), "instantiate");
  expect_healthy();
}

TEST_P(SandboxTest, PrepareRejectsInvalidModules) {
  auto r = sandbox_->prepare(
      wat_to_wasm(R"((module (import "env" "system" (func)) (func (export "_start"))))"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kForbiddenImport);
  EXPECT_EQ(r.error().message, "import env.system is not part of the host interface");
  EXPECT_EQ(sandbox_->prepare("garbage").error().code, ErrorCode::kInvalidWasm);
}

// The instrumentation renumbers every function: calls, exports, the start function, element
// segments, ref.func in globals and tables must all still point at the right function.
TEST_P(SandboxTest, InstrumentationPreservesSemantics) {
  auto m = prepare(R"((module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (type $ret (func (result i32)))
    (memory (export "memory") 1)
    (global $g (mut i32) (i32.const 0))
    (global $fr funcref (ref.func $nine))
    (table $t 4 funcref)
    (elem (i32.const 0) $seven $eight)
    (elem (i32.const 2) funcref (ref.func $eight))
    (elem declare func $nine)
    (func $seven (result i32) (i32.const 7))
    (func $eight (result i32) (i32.const 8))
    (func $nine (result i32) (i32.const 9))
    (func $init (global.set $g (i32.const 5)))
    (start $init)
    (data (i32.const 100) "{\"sum\": 37}")
    (func $loop_sum (param $n i32) (result i32) (local $acc i32)
      (block $done
        (loop $l
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $acc (i32.add (local.get $acc) (local.get $n)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $l)))
      (local.get $acc))
    (func (export "helper") (result i32) (call $seven))
    (func (export "_start")
      (table.set $t (i32.const 3) (global.get $fr))
      (if (i32.ne
            (i32.add (i32.add (i32.add (call_indirect (type $ret) (i32.const 0))
                                       (call_indirect (type $ret) (i32.const 1)))
                              (i32.add (call_indirect (type $ret) (i32.const 2))
                                       (call_indirect (type $ret) (i32.const 3))))
                     (global.get $g))
            (i32.const 37))
        (then unreachable))
      (if (i32.ne (call $loop_sum (i32.const 1000)) (i32.const 500500)) (then unreachable))
      (i32.store (i32.const 0) (i32.const 100))
      (i32.store (i32.const 4) (i32.const 11))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))))");
  Result r = run(m);
  ASSERT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message;
  EXPECT_EQ(r.output, "{\"sum\": 37}");
}

TEST_P(SandboxTest, LongRunningWorkWithinTheTimeoutCompletes) {
  // ~10^7 loop iterations: many fuel refills, no timeout at the default 10 s.
  auto m = prepare(R"((module (func (export "_start") (local $i i32)
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
             (br_if $l (i32.lt_u (local.get $i) (i32.const 3000000)))))))");
  Result r = run(m);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
}

TEST_P(SandboxTest, ConcurrentInvocations) {
  auto echo = prepare(kEcho);
  auto spin = prepare(kSpin);
  std::atomic<int> ok{0}, timeouts{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        Invocation inv;
        if (i % 5 == 4) {
          inv.limits.timeout_ms = 20;
          Result r = sandbox_->invoke(*spin, inv);
          (r.failure && r.failure->type == "timeout" ? timeouts : wrong)++;
        } else {
          std::string input =
              "{\"thread\": " + std::to_string(t) + ", \"i\": " + std::to_string(i) + "}";
          inv.input = input;
          Result r = sandbox_->invoke(*echo, inv);
          (r.succeeded && r.output == input ? ok : wrong)++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(ok.load(), 8 * 16);
  EXPECT_EQ(timeouts.load(), 8 * 4);
}

TEST_P(SandboxTest, ReportsInstantiateCost) {
  auto trivial = prepare(R"((module (memory (export "memory") 2) (func (export "_start"))))");
  auto echo = prepare(kEcho);
  for (auto [name, m] :
       {std::pair{"trivial (2 pages)", trivial}, std::pair{"echo (4 pages)", echo}}) {
    constexpr int kRuns = 300;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(run(m, "{}").succeeded);
    auto us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start) / kRuns;
    std::printf("[ cost     ] %s: %.1f us per invoke (instantiate + run + teardown)\n", name,
                us.count());
  }
}

// A real wasi-libc program, compiled at test time if clang-16 and wasi-libc are installed.
class CProgramTest : public SandboxTest {
 protected:
  std::string compile(const std::string& source) {
    if (std::system("command -v clang-16 >/dev/null 2>&1") != 0) return {};
    auto dir = std::filesystem::temp_directory_path() /
               ("nil_engine_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "main.c") << source;
    std::string cmd = "clang-16 --target=wasm32-wasi -O2 -s -o " + (dir / "main.wasm").string() +
                      " " + (dir / "main.c").string() + " 2>" + (dir / "err.txt").string();
    if (std::system(cmd.c_str()) != 0) {
      std::ifstream err(dir / "err.txt");
      std::string msg((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
      std::filesystem::remove_all(dir);
      if (msg.find("wasi") != std::string::npos && msg.find("not found") != std::string::npos)
        return {};
      ADD_FAILURE() << "clang-16 failed: " << msg;
      return {};
    }
    std::ifstream in(dir / "main.wasm", std::ios::binary);
    std::string wasm((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::filesystem::remove_all(dir);
    return wasm;
  }
  int counter_ = 0;
};

TEST_P(CProgramTest, StdioProgram) {
  std::string wasm = compile(R"(
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
int main(int argc, char** argv) {
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, stdin);
  buf[n] = 0;
  while (n && (buf[n-1] == '\n' || buf[n-1] == ' ')) buf[--n] = 0;
  const char* greeting = getenv("GREETING");
  fprintf(stderr, "read %zu bytes\n", n);
  time_t t = time(NULL);
  unsigned char r[8];
  arc4random_buf(r, sizeof r);
  printf("{\"input\": %s, \"argc\": %d, \"argv0\": \"%s\", \"greeting\": \"%s\", \"sane_time\": %s}\n",
         n ? buf : "null", argc, argc ? argv[0] : "", greeting ? greeting : "",
         t > 1577836800 ? "true" : "false");
  return 0;
}
)");
  if (wasm.empty()) GTEST_SKIP() << "clang-16 with wasm32-wasi is not available";
  auto info = validate_module(wasm);
  ASSERT_TRUE(info.ok()) << info.error().message;
  auto m = prepare_wasm(wasm);
  Invocation inv;
  inv.input = "[1, 2, 3]";
  inv.env = {{"GREETING", "hi"}};
  inv.args = {"myfn"};
  Result r = sandbox_->invoke(*m, inv);
  ASSERT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message;
  EXPECT_EQ(
      r.output,
      R"({"input": [1, 2, 3], "argc": 1, "argv0": "myfn", "greeting": "hi", "sane_time": true})");
  EXPECT_EQ(r.logs, "read 9 bytes\n");
}

TEST_P(CProgramTest, ExitCodeAndMallocPastTheCap) {
  std::string wasm = compile(R"(
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
  char mode[16] = {0};
  fgets(mode, sizeof mode, stdin);
  if (mode[0] == 'e') return 7;
  if (mode[0] == 'm') {
    static char* volatile keep[64];  // observable, so the allocations are not optimized away
    for (int i = 0; i < 64; ++i) {
      char* p = malloc(1 << 20);
      if (!p) { puts("null"); return 0; }
      memset(p, i, 1 << 20);
      keep[i] = p;
    }
    printf("{\"byte\": %d}\n", keep[5][100]);
    return 0;
  }
  puts("{}");
  return 0;
}
)");
  if (wasm.empty()) GTEST_SKIP() << "clang-16 with wasm32-wasi is not available";
  auto m = prepare_wasm(wasm);
  Result exit = run(m, "e");
  expect_failure(exit, "exit");
  EXPECT_EQ(exit.failure->message, "exited with code 7");
  Limits limits;
  limits.memory_mb = 16;
  expect_failure(run(m, "m", limits), "memory_limit");
  Result fine = run(m, "x", limits);
  ASSERT_TRUE(fine.succeeded);
  EXPECT_EQ(fine.output, "{}");
}

INSTANTIATE_TEST_SUITE_P(Tiers, SandboxTest, ::testing::ValuesIn(testing::kTiers));
INSTANTIATE_TEST_SUITE_P(Tiers, CProgramTest, ::testing::ValuesIn(testing::kTiers));

}  // namespace
}  // namespace nil::engine
