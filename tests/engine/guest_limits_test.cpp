// Security findings of issue 11 in the engine, on every tier (tiers.h):
//   - names that would reach wasm2c's C output unescaped are refused by validation;
//   - custom sections (debug names) never reach the native build, which still works;
//   - bulk-memory instructions and host calls cannot run far past the timeout (interpreter);
//   - tables count against memoryMb;
//   - recursion through call_indirect traps with "call stack exhausted" (interpreter);
//   - WASI clocks 2 and 3 show the invocation's own time, not nild's CPU time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "tiers.h"
#include "wat.h"

namespace nil::engine {
namespace {

using ::testing::HasSubstr;
using testing::wat_to_wasm;
using namespace std::chrono_literals;

// ---- hand-made binaries (names WAT tools would not pass through unchanged) -----------------

std::string leb(uint32_t n) {
  std::string out;
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    out += static_cast<char>(n ? (b | 0x80) : b);
  } while (n);
  return out;
}
std::string section(uint8_t id, const std::string& payload) {
  return std::string(1, static_cast<char>(id)) + leb(static_cast<uint32_t>(payload.size())) +
         payload;
}
std::string wasm_name(std::string_view s) {
  return leb(static_cast<uint32_t>(s.size())) + std::string(s);
}

// (module (func) (export "_start" (func 0)) (export <extra> (func 0))) plus optional custom
// sections appended at the end.
std::string module_exporting(std::string_view extra, const std::string& trailer = {}) {
  std::string exports = "\x02" + wasm_name("_start") + std::string("\x00\x00", 2) +
                        wasm_name(extra) + std::string("\x00\x00", 2);
  return std::string("\0asm\x01\0\0\0", 8) + section(1, std::string("\x01\x60\x00\x00", 4)) +
         section(3, std::string("\x01\x00", 2)) + section(7, exports) +
         section(10, std::string("\x01\x02\x00\x0b", 4)) + trailer;
}

// A "name" section naming function 0 `fname`, and an unrelated custom section.
std::string name_section(std::string_view fname) {
  std::string sub = leb(1) + leb(0) + wasm_name(fname);
  std::string payload = wasm_name("name") + "\x01" + leb(static_cast<uint32_t>(sub.size())) + sub;
  // "?" "?/" is the trigraph ??/ written so that the C++ source holds none (-Wtrigraphs).
  return section(0, payload) + section(0, wasm_name("producers") +
                                              "anything*/\n?"
                                              "?/\\");
}

const std::vector<std::pair<const char*, std::string>>& hostile_names() {
  static const std::vector<std::pair<const char*, std::string>> names = {
      {"comment terminator and newline", "x*/\nint injected = 1;\n/*"},
      {"comment terminator", "a*/b"},
      {"newline", "a\nb"},
      {"backslash line splice", "a\\\nb"},
      {"trigraph ?"
       "?/",
       "a?"
       "?/"},  // ??/, split so that the source holds no trigraph
      {"NUL", std::string("a\0b", 3)},
      {"slash", "a/b"},
      {"non-ASCII", "caf\xc3\xa9"},
      {"empty", ""},
      {"too long", std::string(300, 'a')},
  };
  return names;
}

TEST(NameCheck, SafeSetIsDocumented) {
  for (const char* ok : {"_start", "memory", "__heap_base", "Foo#bar", "Foo#get:x", "a.b-c$d@e"}) {
    EXPECT_TRUE(is_safe_name(ok)) << ok;
  }
  for (const auto& [what, name] : hostile_names()) EXPECT_FALSE(is_safe_name(name)) << what;
}

TEST(NameCheck, ValidationRefusesHostileExportNames) {
  for (const auto& [what, name] : hostile_names()) {
    SCOPED_TRACE(what);
    auto info = validate_module(module_exporting(name));
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.error().code, ErrorCode::kUnsafeName);
    EXPECT_THAT(info.error().message, HasSubstr("export name"));
    // The message names the name, escaped: no raw control bytes in an error.
    for (char c : info.error().message) EXPECT_GE(static_cast<unsigned char>(c), 0x20);
  }
  EXPECT_TRUE(validate_module(module_exporting("helper")).ok());
}

TEST(NameCheck, ValidationRefusesHostileImportNames) {
  auto info = validate_module(wat_to_wasm(
      R"((module (import "wasi_snapshot_preview1" "fd_write*/" (func (param i32 i32 i32 i32) (result i32)))
                 (memory (export "memory") 1) (func (export "_start"))))"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, ErrorCode::kUnsafeName);
  EXPECT_THAT(info.error().message, HasSubstr("fd_write*/"));
  info = validate_module(wat_to_wasm(
      R"((module (import "wasi\0a" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                 (memory (export "memory") 1) (func (export "_start"))))"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, ErrorCode::kUnsafeName);
  EXPECT_THAT(info.error().message, HasSubstr("wasi\\x0a"));
}

TEST(NameCheck, StripCustomSectionsKeepsTheModule) {
  std::string plain = module_exporting("helper");
  std::string named = module_exporting("helper", name_section("x*/\nint injected;\n/*"));
  ASSERT_TRUE(validate_module(named).ok());
  auto stripped = strip_custom_sections(named);
  ASSERT_TRUE(stripped.ok()) << stripped.error().message;
  EXPECT_EQ(*stripped, plain);
  EXPECT_FALSE(strip_custom_sections(std::string("\0asm\x01\0\0\0\x01\x7f", 10)).ok());
}

class GuestLimitsTest : public ::testing::TestWithParam<const char*> {
 protected:
  std::shared_ptr<const PreparedModule> prepare(const std::string& wasm) {
    auto prepared = sandbox_->prepare(wasm);
    EXPECT_TRUE(prepared.ok()) << prepared.error().code << ": " << prepared.error().message;
    return prepared.ok() ? prepared.value() : nullptr;
  }
  Result run(const std::shared_ptr<const PreparedModule>& m, Limits limits = {}) {
    Invocation inv;
    inv.input = "";
    inv.limits = limits;
    return sandbox_->invoke(*m, inv);
  }
  static void expect_failure(const Result& r, std::string_view type) {
    EXPECT_FALSE(r.succeeded);
    ASSERT_TRUE(r.failure.has_value());
    EXPECT_EQ(r.failure->type, type) << r.failure->message;
  }
  std::unique_ptr<Sandbox> sandbox_ = testing::make_test_sandbox(GetParam());
};

TEST_P(GuestLimitsTest, HostileNamesAreRefusedByPrepare) {
  for (const auto& [what, name] : hostile_names()) {
    SCOPED_TRACE(what);
    auto prepared = sandbox_->prepare(module_exporting(name));
    ASSERT_FALSE(prepared.ok());
    EXPECT_EQ(prepared.error().code, ErrorCode::kUnsafeName);
  }
}

TEST_P(GuestLimitsTest, ModuleWithANameSectionRuns) {
  auto m = prepare(module_exporting("helper", name_section("x*/\nint injected = 1;\n/*")));
  ASSERT_TRUE(m);
  Result r = run(m);
  ASSERT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message;
  EXPECT_EQ(r.output, "null");
}

// 1,000 calls of random_get for 2 MiB each: seconds of work in host calls, at a 100 ms timeout.
TEST_P(GuestLimitsTest, LoopOfLargeRandomGetTimesOut) {
  auto m = prepare(wat_to_wasm(R"((module
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    (memory (export "memory") 33)
    (func (export "_start") (local $i i32)
      (loop $l
        (drop (call $random (i32.const 0) (i32.const 2097152)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))))"));
  Limits limits;
  limits.timeout_ms = 100;
  Result r = run(m, limits);
  expect_failure(r, "timeout");
  EXPECT_LT(r.duration, 5 * 100ms * 10);  // very loose: only "not seconds past it"
}

// 2,000 fills (and copies) of 16 MiB: seconds of memset, at a 100 ms timeout.
TEST_P(GuestLimitsTest, LoopOfLargeBulkMemoryTimesOut) {
  for (const char* op : {"(memory.fill (i32.const 0) (i32.const 7) (i32.const 16777216))",
                         "(memory.copy (i32.const 0) (i32.const 16777216) (i32.const 16777216))"}) {
    SCOPED_TRACE(op);
    auto m = prepare(wat_to_wasm(std::string(R"((module
      (memory (export "memory") 512)
      (func (export "_start") (local $i i32)
        (loop $l
          )") + op + R"(
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 2000)))))))"));
    Limits limits;
    limits.timeout_ms = 100;
    limits.memory_mb = 64;
    Result r = run(m, limits);
    expect_failure(r, "timeout");
    EXPECT_LT(r.duration, 5 * 100ms * 10);
  }
}

TEST_P(GuestLimitsTest, TablesAboveTheMemoryLimitAreMemoryLimit) {
  // 3,000,000 elements: 24 MB at 8 bytes each (more natively), above 16 MiB.
  auto m = prepare(wat_to_wasm(R"((module (table 3000000 funcref) (func (export "_start"))))"));
  Limits limits;
  limits.memory_mb = 16;
  Result r = run(m, limits);
  expect_failure(r, "memory_limit");
  EXPECT_THAT(r.failure->message, HasSubstr("table"));
  Limits roomy;
  roomy.memory_mb = 128;
  Result ok = run(m, roomy);
  EXPECT_TRUE(ok.succeeded) << ok.failure->type << ": " << ok.failure->message;
}

TEST_P(GuestLimitsTest, TableGrowPastTheMemoryLimitReturnsMinusOne) {
  // Three tables grown by 100,000 elements at a time until table.grow says -1. At 8 MiB, that
  // must happen after at most 10 grows (8 bytes an element; more natively), without a trap.
  auto m = prepare(wat_to_wasm(R"((module
    (memory (export "memory") 1)
    (table $a 0 funcref) (table $b 0 funcref) (table $c 0 externref)
    (func (export "_start") (local $grows i32)
      (block $full
        (loop $l
          (br_if $full (i32.eq (table.grow $a (ref.null func) (i32.const 100000)) (i32.const -1)))
          (local.set $grows (i32.add (local.get $grows) (i32.const 1)))
          (br_if $full (i32.eq (table.grow $b (ref.null func) (i32.const 100000)) (i32.const -1)))
          (local.set $grows (i32.add (local.get $grows) (i32.const 1)))
          (br_if $full (i32.eq (table.grow $c (ref.null extern) (i32.const 100000)) (i32.const -1)))
          (local.set $grows (i32.add (local.get $grows) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $grows) (i32.const 300)))))
      (if (i32.eqz (local.get $grows)) (then unreachable))
      (if (i32.gt_u (local.get $grows) (i32.const 10)) (then unreachable))
      ;; small grows still work within the limit
      (if (i32.eq (table.grow $a (ref.null func) (i32.const 0)) (i32.const -1)) (then unreachable)))))"));
  Limits limits;
  limits.memory_mb = 8;
  Result r = run(m, limits);
  EXPECT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message;
}

TEST_P(GuestLimitsTest, InfiniteRecursionThroughCallIndirectTraps) {
  auto m = prepare(wat_to_wasm(R"((module
    (type $t (func (param i32) (result i32)))
    (table 1 funcref)
    (elem (i32.const 0) $f)
    (func $f (param i32) (result i32)
      (i32.add (call_indirect (type $t) (i32.add (local.get 0) (i32.const 1)) (i32.const 0))
               (i32.const 1)))
    (func (export "_start") (drop (call_indirect (type $t) (i32.const 0) (i32.const 0))))))"));
  Result r = run(m);
  expect_failure(r, "trap");
  EXPECT_THAT(r.failure->message, HasSubstr("call stack exhausted"));
}

TEST_P(GuestLimitsTest, DeepButFiniteRecursionThroughCallIndirectIsExact) {
  // sum(1..n) by recursion through the table, with `return` and a branch to the function's
  // label as exits: the depth counter must see every one of them.
  auto m = prepare(wat_to_wasm(R"((module
    (type $t (func (param i32) (result i32)))
    (table 1 funcref)
    (elem (i32.const 0) $sum)
    (func $sum (param $n i32) (result i32)
      (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
      (if (i32.eq (local.get $n) (i32.const 1)) (then (br 1 (i32.const 1))))
      (i32.add (local.get $n)
               (call_indirect (type $t) (i32.sub (local.get $n) (i32.const 1)) (i32.const 0))))
    (func (export "_start")
      (local $i i32)
      ;; many shallow calls after each other: exits must undo the count
      (loop $again
        (if (i32.ne (call_indirect (type $t) (i32.const 1000) (i32.const 0)) (i32.const 500500))
          (then unreachable))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $again (i32.lt_u (local.get $i) (i32.const 50)))))))"));
  Result r = run(m);
  EXPECT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message;
}

TEST_P(GuestLimitsTest, CpuClocksShowTheInvocationsOwnTime) {
  // Burn 300 ms of CPU on this thread first: a guest that saw the process's (or this thread's)
  // CPU time would read more than that.
  timespec ts{};
  do {
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  } while (ts.tv_sec == 0 && ts.tv_nsec < 300'000'000);
  auto m = prepare(wat_to_wasm(R"((module
    (import "wasi_snapshot_preview1" "clock_time_get" (func $now (param i32 i64 i32) (result i32)))
    (memory (export "memory") 1)
    (func $check (param $clock i32)
      (if (call $now (local.get $clock) (i64.const 1) (i32.const 0)) (then unreachable))
      ;; the invocation takes far less than 200 ms
      (if (i64.ge_u (i64.load (i32.const 0)) (i64.const 200000000)) (then unreachable)))
    (func (export "_start") (call $check (i32.const 2)) (call $check (i32.const 3)))))"));
  Result r = run(m);
  EXPECT_TRUE(r.succeeded) << r.failure->type << ": " << r.failure->message;
}

INSTANTIATE_TEST_SUITE_P(Tiers, GuestLimitsTest, ::testing::ValuesIn(testing::kTiers));

}  // namespace
}  // namespace nil::engine
