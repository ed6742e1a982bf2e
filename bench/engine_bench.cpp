// engine_bench — fresh-sandbox cost in process: instantiate + run `_start` of a trivial function
// (reads its input, writes "{}"), each iteration a new sandbox, timed one by one; and a small
// compute row (recursive fib in WAT) to compare the tiers' speed.
// Prints one JSON object per tier and row (p50/p99/mean in microseconds) for bench/run to fold
// into its table.
//
// Usage: engine_bench [ITERATIONS] [--tier interpreter|native|both]   (default: both)
// The native tier's artifacts are built with compile::build_native (sandboxed, as nild does)
// into a temporary directory first; build time is reported, not included in the figures.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "compile/driver.h"
#include "compile/native_builder.h"
#include "engine/engine.h"

namespace {

constexpr const char* kTrivial = R"((module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 2))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))))";

// fib(25 + the input's length): the argument comes from the input so that no compiler folds it.
constexpr const char* kFib = R"((module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $fib (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 256))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (if (i32.ne (call $fib (i32.add (i32.const 25) (i32.load (i32.const 8)))) (i32.const 196418))
      (then unreachable)))))";

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct Tier {
  std::unique_ptr<nil::engine::Sandbox> interpreter;
  std::unique_ptr<nil::engine::NativeSandbox> native;
  std::filesystem::path dir;
};

// Prepares `wat` on the tier: the interpreter directly, the native tier by building first.
nil::Expected<std::shared_ptr<const nil::engine::PreparedModule>> prepare(Tier& t,
                                                                          std::string_view tier,
                                                                          const std::string& wasm) {
  if (tier == "interpreter") return t.interpreter->prepare(wasm);
  auto so = t.dir / nil::engine::native_artifact_name(nil::engine::module_sha256(wasm));
  auto started = std::chrono::steady_clock::now();
  NIL_TRY_VOID(nil::compile::build_native(wasm, so));
  std::fprintf(stderr, "native build: %.0f ms\n",
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                   .count());
  return t.native->load(so.string());
}

int run_row(Tier& t, std::string_view tier, const char* benchmark, const char* wat, int iterations,
            int warmup) {
  auto wasm = nil::compile::make_wat_driver()->compile(wat, {});
  if (!wasm) {
    std::fprintf(stderr, "compile: %s\n", wasm.error().message.c_str());
    return 1;
  }
  auto module = prepare(t, tier, *wasm);
  if (!module) {
    std::fprintf(stderr, "prepare (%s): %s\n", std::string(tier).c_str(),
                 module.error().message.c_str());
    return 1;
  }
  nil::engine::Sandbox& sandbox =
      tier == "interpreter" ? *t.interpreter : static_cast<nil::engine::Sandbox&>(*t.native);
  nil::engine::Invocation inv;
  inv.input = "{}";
  inv.limits.timeout_ms = 60'000;
  for (int i = 0; i < warmup; ++i) (void)sandbox.invoke(**module, inv);
  std::vector<double> us;
  us.reserve(iterations);
  int failures = 0;
  for (int i = 0; i < iterations; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = sandbox.invoke(**module, inv);
    auto t1 = std::chrono::steady_clock::now();
    if (!r.succeeded) ++failures;
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  double mean = 0;
  for (double x : us) mean += x;
  mean /= static_cast<double>(us.size());
  std::printf(
      "{\"benchmark\":\"%s\",\"tier\":\"%s\",\"iterations\":%d,\"failures\":%d,"
      "\"p50_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f}\n",
      benchmark, std::string(tier).c_str(), iterations, failures, percentile(us, 0.50),
      percentile(us, 0.99), mean);
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20000;
  std::string tiers = "both";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--tier" && i + 1 < argc) {
      tiers = argv[++i];
    } else if (!a.empty() && a[0] != '-') {
      iterations = std::atoi(argv[i]);
    } else {
      std::fprintf(stderr, "usage: engine_bench [ITERATIONS] [--tier interpreter|native|both]\n");
      return 2;
    }
  }
  Tier t;
  t.interpreter = nil::engine::make_interpreter_sandbox();
  t.native = nil::engine::make_native_sandbox();
  t.dir =
      std::filesystem::temp_directory_path() / ("nil-engine-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(t.dir);
  int rc = 0;
  // The fresh-sandbox rows last: bench/run folds the last line into its table.
  for (std::string_view tier : {"interpreter", "native"}) {
    if (tiers != "both" && tiers != tier) continue;
    rc |= run_row(t, tier, "fib27", kFib, tier == "native" ? 50 : 5, 1);
  }
  for (std::string_view tier : {"interpreter", "native"}) {
    if (tiers != "both" && tiers != tier) continue;
    rc |= run_row(t, tier, "fresh_sandbox_trivial", kTrivial, iterations, 200);
  }
  std::filesystem::remove_all(t.dir);
  return rc;
}
