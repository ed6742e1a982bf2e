// The `nil` import module on the engine side (docs/abi.md): marshalling between guest memory and
// engine::HostServices, status numbers, result_read, nil.log, accounting (Result::host_calls),
// the deadline around host calls, and out-of-bounds pointers (a trap, the host unharmed).
//
// FakeHost below is a test double of HostServices, acceptable here only because these tests are
// about the engine's marshalling; the real services (src/host) are tested in tests/host against
// a real HTTP server and a real SQLite database.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "tiers.h"
#include "wat.h"

namespace nil::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::wat_to_wasm;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class FakeHost final : public HostServices {
 public:
  std::map<std::string, std::string> vars;
  std::string fetch_answer = R"({"status":200,"headers":{},"body":"ok"})";
  std::optional<Error> fetch_error;
  std::chrono::milliseconds fetch_sleep{0};
  std::string db_answer = R"({"columns":[],"rows":[],"rowsAffected":0,"truncated":false})";
  std::optional<Error> db_error;

  int calls = 0;
  std::string last_request, last_sql, last_params;
  Clock::time_point last_deadline{};

  std::optional<std::string> env(std::string_view key) override {
    ++calls;
    auto it = vars.find(std::string(key));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  }
  Expected<std::string> http_fetch(std::string_view request_json,
                                   Clock::time_point deadline) override {
    ++calls;
    last_request = std::string(request_json);
    last_deadline = deadline;
    if (fetch_sleep.count()) std::this_thread::sleep_for(fetch_sleep);
    if (fetch_error) return *fetch_error;
    return fetch_answer;
  }
  Expected<std::string> db_query(std::string_view sql, std::string_view params_json,
                                 Clock::time_point deadline) override {
    ++calls;
    last_sql = std::string(sql);
    last_params = std::string(params_json);
    last_deadline = deadline;
    if (db_error) return *db_error;
    return db_answer;
  }
};

// A guest that puts `a` at 256 and `b` at 8192, evaluates `call` (an i32 expression using
// $env/$fetch/$db/$read/$log and locals $a_len/$b_len), traps unless the status is `expected`
// (when given), then reads the held answer with result_read and writes it to stdout.
std::string guest(std::string_view call, std::optional<int> expected, std::string_view a = "",
                  std::string_view b = "", std::string_view after = "") {
  std::string wat = R"((module
  (import "nil" "log" (func $log (param i32 i32 i32)))
  (import "nil" "env" (func $env (param i32 i32) (result i32)))
  (import "nil" "http_fetch" (func $fetch (param i32 i32) (result i32)))
  (import "nil" "db_query" (func $db (param i32 i32 i32 i32) (result i32)))
  (import "nil" "result_read" (func $read (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 256) ")" +
                    testing::wat_string(a) + R"(")
  (data (i32.const 8192) ")" +
                    testing::wat_string(b) + R"(")
  (func (export "_start") (local $status i32) (local $n i32) (local $a_len i32) (local $b_len i32)
    (local.set $a_len (i32.const )" +
                    std::to_string(a.size()) + R"())
    (local.set $b_len (i32.const )" +
                    std::to_string(b.size()) + R"())
    (local.set $status )" +
                    std::string(call) + R"()
    )" +
                    (expected ? "(if (i32.ne (local.get $status) (i32.const " +
                                    std::to_string(*expected) + ")) (then unreachable))"
                              : std::string()) +
                    R"(
    (local.set $n (call $read (i32.const 16384) (i32.const 100000)))
    (i32.store (i32.const 0) (i32.const 16384))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    )" + std::string(after) +
                    R"()
))";
  return wat_to_wasm(wat);
}

class HostCallsTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::shared_ptr<const PreparedModule> prepare(const std::string& wasm) {
    auto prepared = sandbox_->prepare(wasm);
    EXPECT_TRUE(prepared.ok()) << prepared.error().code << ": " << prepared.error().message;
    return prepared.ok() ? prepared.value() : nullptr;
  }
  Result run(const std::string& wasm, HostServices* host, Limits limits = {}) {
    auto m = prepare(wasm);
    if (!m) return Result{};
    Invocation inv;
    inv.host = host;
    inv.limits = limits;
    return sandbox_->invoke(*m, inv);
  }
  static void expect_ok(const Result& r) {
    ASSERT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message << "\n" << r.logs;
  }
  static const HostCallStats* stats(const Result& r, std::string_view name) {
    for (const HostCallStats& s : r.host_calls) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
  // A trap names the call and the range, and the next invocation runs normally.
  void expect_oob_trap(const std::string& wasm, std::string_view call) {
    FakeHost host;
    host.vars["K"] = "\"v\"";
    Result r = run(wasm, &host);
    ASSERT_FALSE(r.succeeded);
    ASSERT_TRUE(r.failure.has_value());
    EXPECT_EQ(r.failure->type, "trap");
    EXPECT_THAT(r.failure->message,
                StartsWith("out of bounds memory access: " + std::string(call)));
    EXPECT_EQ(host.calls, 0) << "the service must not see an out-of-bounds argument";
    Result again = run(guest("(call $env (i32.const 256) (local.get $a_len))", 3, "K"), &host);
    expect_ok(again);
    EXPECT_EQ(again.output, "\"v\"");
  }

  std::unique_ptr<Sandbox> sandbox_ = testing::make_test_sandbox(GetParam());
};

TEST_P(HostCallsTest, EnvReturnsTheLengthAndResultReadTheValue) {
  FakeHost host;
  host.vars["GREETING"] = R"({"hello":"world"})";
  Result r = run(guest("(call $env (i32.const 256) (local.get $a_len))", 17, "GREETING"), &host);
  expect_ok(r);
  EXPECT_EQ(r.output, R"({"hello":"world"})");
}

TEST_P(HostCallsTest, MissingEnvKeyIsNotFoundWithErrorJson) {
  FakeHost host;
  Result r = run(guest("(call $env (i32.const 256) (local.get $a_len))", -1, "NOPE"), &host);
  expect_ok(r);
  EXPECT_THAT(r.output, HasSubstr(R"("code":"not_found")"));
  EXPECT_THAT(r.output, StartsWith(R"({"error":{)"));
}

TEST_P(HostCallsTest, WithoutHostServicesEveryCallIsUnavailable) {
  Result r = run(guest("(call $env (i32.const 256) (local.get $a_len))", -2, "K"), nullptr);
  expect_ok(r);
  EXPECT_THAT(r.output, HasSubstr(R"("code":"unavailable")"));
  r = run(guest("(call $fetch (i32.const 256) (local.get $a_len))", -2, "{}"), nullptr);
  expect_ok(r);
  EXPECT_THAT(r.output, HasSubstr("nil.http_fetch is not available"));
  r = run(guest("(call $db (i32.const 256) (local.get $a_len) (i32.const 0) (i32.const 0))", -2,
                "SELECT 1"),
          nullptr);
  expect_ok(r);
  EXPECT_THAT(r.output, HasSubstr(R"("code":"unavailable")"));
}

TEST_P(HostCallsTest, HttpFetchPassesTheRequestAndTheDeadline) {
  FakeHost host;
  std::string request = R"({"method":"GET","url":"http://example.com/"})";
  Limits limits;
  limits.timeout_ms = 3000;
  auto before = Clock::now();
  Result r = run(guest("(call $fetch (i32.const 256) (local.get $a_len))",
                       static_cast<int>(host.fetch_answer.size()), request),
                 &host, limits);
  expect_ok(r);
  EXPECT_EQ(r.output, host.fetch_answer);
  EXPECT_EQ(host.last_request, request);
  EXPECT_GT(host.last_deadline, before + 2500ms);
  EXPECT_LT(host.last_deadline, Clock::now() + 3000ms);
}

TEST_P(HostCallsTest, ServiceErrorsBecomeStatusNumbersAndErrorJson) {
  FakeHost host;
  host.fetch_error = make_error(ErrorCode::kHostNotAllowed, "evil.com is not on");
  Result r = run(guest("(call $fetch (i32.const 256) (local.get $a_len))", -4, "{}"), &host);
  expect_ok(r);
  EXPECT_EQ(r.output, R"({"error":{"code":"host_not_allowed","message":"evil.com is not on"}})");
  host.db_error = make_error(ErrorCode::kSqlError, "near \"SELEC\": syntax error");
  r = run(guest("(call $db (i32.const 256) (local.get $a_len) (i32.const 8192) (local.get $b_len))",
                -7, "SELEC 1", "[1]"),
          &host);
  expect_ok(r);
  EXPECT_THAT(r.output, HasSubstr("syntax error"));
  host.db_error = make_error(ErrorCode::kMultipleStatements, "one statement");
  r = run(guest("(call $db (i32.const 256) (local.get $a_len) (i32.const 0) (i32.const 0))", -3,
                "SELECT 1; SELECT 2"),
          &host);
  expect_ok(r);
  host.db_error = make_error(ErrorCode::kTimeout, "slow");
  r = run(guest("(call $db (i32.const 256) (local.get $a_len) (i32.const 0) (i32.const 0))", -5,
                "SELECT 1"),
          &host);
  expect_ok(r);
  host.fetch_error = make_error(ErrorCode::kResponseTooLarge, "big");
  r = run(guest("(call $fetch (i32.const 256) (local.get $a_len))", -6, "{}"), &host);
  expect_ok(r);
  host.fetch_error = make_error(ErrorCode::kFetchFailed, "refused");
  r = run(guest("(call $fetch (i32.const 256) (local.get $a_len))", -8, "{}"), &host);
  expect_ok(r);
}

TEST_P(HostCallsTest, DbQueryPassesSqlAndParamsAndDefaultsParamsToAnEmptyArray) {
  FakeHost host;
  Result r =
      run(guest("(call $db (i32.const 256) (local.get $a_len) (i32.const 8192) (local.get $b_len))",
                static_cast<int>(host.db_answer.size()), "SELECT ?1, ?2", R"([1,"x"])"),
          &host);
  expect_ok(r);
  EXPECT_EQ(host.last_sql, "SELECT ?1, ?2");
  EXPECT_EQ(host.last_params, R"([1,"x"])");
  EXPECT_EQ(r.output, host.db_answer);
  r = run(guest("(call $db (i32.const 256) (local.get $a_len) (i32.const 0) (i32.const 0))",
                std::nullopt, "SELECT 1"),
          &host);
  expect_ok(r);
  EXPECT_EQ(host.last_params, "[]");
}

TEST_P(HostCallsTest, ResultReadCanBeChunkedAndEndsWithZero) {
  FakeHost host;
  host.vars["K"] = R"(["abcdefgh"])";
  // Reads 4 bytes, then the rest, then expects 0; writes all of it to stdout.
  std::string wat = R"((module
    (import "nil" "env" (func $env (param i32 i32) (result i32)))
    (import "nil" "result_read" (func $read (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 256) "K")
    (func (export "_start") (local $n i32)
      (if (i32.ne (call $env (i32.const 256) (i32.const 1)) (i32.const 12)) (then unreachable))
      (if (i32.ne (call $read (i32.const 1024) (i32.const 4)) (i32.const 4)) (then unreachable))
      (local.set $n (call $read (i32.const 1028) (i32.const 1000)))
      (if (i32.ne (local.get $n) (i32.const 8)) (then unreachable))
      (if (i32.ne (call $read (i32.const 2000) (i32.const 1000)) (i32.const 0)) (then unreachable))
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 12))
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
  )";
  Result r = run(wat_to_wasm(wat), &host);
  expect_ok(r);
  EXPECT_EQ(r.output, R"(["abcdefgh"])");
  const HostCallStats* s = stats(r, "env");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->bytes_out, 12u);
}

TEST_P(HostCallsTest, LogWritesLevelledLinesIntoTheLogsUnderTheCap) {
  std::string wat = R"((module
    (import "nil" "log" (func $log (param i32 i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 256) "careful")
    (func (export "_start") (local $i i32)
      (call $log (i32.const 0) (i32.const 256) (i32.const 7))
      (call $log (i32.const 1) (i32.const 256) (i32.const 7))
      (call $log (i32.const 2) (i32.const 256) (i32.const 7))
      (call $log (i32.const 3) (i32.const 256) (i32.const 7))
      (call $log (i32.const 99) (i32.const 256) (i32.const 7))))
  )";
  Result r = run(wat_to_wasm(wat), nullptr);  // log needs no services
  expect_ok(r);
  EXPECT_EQ(r.logs,
            "[debug] careful\n[info] careful\n[warn] careful\n[error] careful\n[info] careful\n");
  const HostCallStats* s = stats(r, "log");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->count, 5u);
  EXPECT_EQ(s->bytes_in, 35u);

  Limits limits;
  limits.log_bytes = 20;
  r = run(wat_to_wasm(wat), nullptr, limits);
  expect_ok(r);
  EXPECT_EQ(r.logs, "[debug] careful\n[inf\n[logs truncated]");
}

TEST_P(HostCallsTest, HostCallsAreAccountedPerFunction) {
  FakeHost host;
  host.vars["A"] = "\"12345\"";
  std::string after = R"(
    (call $log (i32.const 1) (i32.const 256) (i32.const 1))
    (drop (call $env (i32.const 256) (i32.const 1)))
    (drop (call $db (i32.const 8192) (local.get $b_len) (i32.const 0) (i32.const 0))))";
  Result r = run(guest("(call $env (i32.const 256) (local.get $a_len))", 7, "A", "SELECT 1", after),
                 &host);
  expect_ok(r);
  ASSERT_EQ(r.host_calls.size(), 3u);
  EXPECT_EQ(r.host_calls[0].name, "env");  // in order of first use
  EXPECT_EQ(r.host_calls[1].name, "log");
  EXPECT_EQ(r.host_calls[2].name, "db_query");
  const HostCallStats* env = stats(r, "env");
  EXPECT_EQ(env->count, 2u);
  EXPECT_EQ(env->bytes_in, 2u);
  EXPECT_EQ(env->bytes_out, 7u);  // only the first answer was read
  EXPECT_GE(env->ms, 0.0);
  const HostCallStats* db = stats(r, "db_query");
  EXPECT_EQ(db->count, 1u);
  EXPECT_EQ(db->bytes_in, 8u);
  EXPECT_EQ(db->bytes_out, 0u);
  EXPECT_EQ(stats(r, "http_fetch"), nullptr);  // only what was called
}

TEST_P(HostCallsTest, StatsSurviveAFailure) {
  FakeHost host;
  Result r = run(guest("(call $env (i32.const 256) (local.get $a_len))", 99, "K"), &host);
  ASSERT_FALSE(r.succeeded);
  ASSERT_EQ(r.host_calls.size(), 1u);
  EXPECT_EQ(r.host_calls[0].count, 1u);
}

TEST_P(HostCallsTest, OutOfBoundsArgumentsTrapAndTheHostIsUnharmed) {
  // Memory is 2 pages (131072 bytes).
  expect_oob_trap(guest("(call $env (i32.const 131070) (i32.const 3))", std::nullopt), "nil.env");
  expect_oob_trap(guest("(call $env (i32.const -1) (i32.const 1))", std::nullopt), "nil.env");
  expect_oob_trap(guest("(call $fetch (i32.const 0) (i32.const -1))", std::nullopt),
                  "nil.http_fetch");
  expect_oob_trap(guest("(call $db (i32.const 256) (i32.const 4) (i32.const 131072) (i32.const 1))",
                        std::nullopt, "SELE"),
                  "nil.db_query");
  expect_oob_trap(guest("(call $db (i32.const 131000) (i32.const 100) (i32.const 0) (i32.const 0))",
                        std::nullopt),
                  "nil.db_query");
  expect_oob_trap(guest("(i32.const 0)", std::nullopt, "", "",
                        "(drop (call $read (i32.const 131000) (i32.const 100)))"),
                  "nil.result_read");
  expect_oob_trap(guest("(i32.const 0)", std::nullopt, "", "",
                        "(call $log (i32.const 1) (i32.const 65536) (i32.const 100000))"),
                  "nil.log");
}

TEST_P(HostCallsTest, ResultReadIsBoundsCheckedEvenWithNothingToRead) {
  // A zero-length answer still requires a valid destination range.
  expect_oob_trap(guest("(i32.const 0)", std::nullopt, "", "",
                        "(drop (call $read (i32.const -8) (i32.const 16)))"),
                  "nil.result_read");
}

TEST_P(HostCallsTest, AHostCallThatReturnsPastTheDeadlineStopsTheGuest) {
  FakeHost host;
  host.fetch_sleep = 80ms;
  Limits limits;
  limits.timeout_ms = 30;
  Result r = run(guest("(call $fetch (i32.const 256) (local.get $a_len))", std::nullopt, "{}"),
                 &host, limits);
  ASSERT_FALSE(r.succeeded);
  EXPECT_EQ(r.failure->type, "timeout");
  EXPECT_EQ(r.output, "");
}

TEST_P(HostCallsTest, TheDeadlineStillInterruptsAGuestAfterHostCalls) {
  FakeHost host;
  Limits limits;
  limits.timeout_ms = 50;
  auto before = Clock::now();
  Result r = run(guest("(call $fetch (i32.const 256) (local.get $a_len))", std::nullopt, "{}", "",
                       "(loop $spin (drop (call $env (i32.const 256) (i32.const 0))) (br $spin))"),
                 &host, limits);
  ASSERT_FALSE(r.succeeded);
  EXPECT_EQ(r.failure->type, "timeout");
  EXPECT_LT(Clock::now() - before, 2s);
  EXPECT_GT(stats(r, "env")->count, 1u);
}

TEST(HostInterfaceTest, ValidationKnowsTheNilModule) {
  auto e = validate_module(wat_to_wasm(R"((module
    (import "nil" "env" (func (param i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start"))))"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kForbiddenImport);
  EXPECT_THAT(e.error().message, HasSubstr("nil.env has the signature (i32) -> (i32)"));

  e = validate_module(wat_to_wasm(R"((module
    (import "nil" "exec" (func (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start"))))"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kForbiddenImport);

  e = validate_module(wat_to_wasm(R"((module
    (import "nil" "log" (func (param i32 i32 i32)))
    (memory 1)
    (func (export "_start"))))"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kMissingExport);

  auto ok = validate_module(wat_to_wasm(R"((module
    (import "nil" "log" (func (param i32 i32 i32)))
    (import "nil" "env" (func (param i32 i32) (result i32)))
    (import "nil" "http_fetch" (func (param i32 i32) (result i32)))
    (import "nil" "db_query" (func (param i32 i32 i32 i32) (result i32)))
    (import "nil" "result_read" (func (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "_start"))))"));
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

INSTANTIATE_TEST_SUITE_P(Tiers, HostCallsTest, ::testing::ValuesIn(testing::kTiers));

}  // namespace
}  // namespace nil::engine
