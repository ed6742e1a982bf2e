// engine_bench — fresh-sandbox cost in process: instantiate + run `_start` of a trivial function
// (reads its input, writes "{}"), each iteration a new sandbox, timed one by one.
// Prints one JSON object (p50/p99/mean in microseconds) for bench/run to fold into its table.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "compile/driver.h"
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

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 20000;
  auto wasm = nil::compile::make_wat_driver()->compile(kTrivial, {});
  if (!wasm) {
    std::fprintf(stderr, "compile: %s\n", wasm.error().message.c_str());
    return 1;
  }
  auto sandbox = nil::engine::make_interpreter_sandbox();
  auto module = sandbox->prepare(*wasm);
  if (!module) {
    std::fprintf(stderr, "prepare: %s\n", module.error().message.c_str());
    return 1;
  }
  nil::engine::Invocation inv;
  inv.input = "{}";
  for (int i = 0; i < 200; ++i) (void)sandbox->invoke(**module, inv);  // warm-up
  std::vector<double> us;
  us.reserve(iterations);
  int failures = 0;
  for (int i = 0; i < iterations; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = sandbox->invoke(**module, inv);
    auto t1 = std::chrono::steady_clock::now();
    if (!r.succeeded) ++failures;
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  double mean = 0;
  for (double x : us) mean += x;
  mean /= static_cast<double>(us.size());
  std::printf(
      "{\"benchmark\":\"fresh_sandbox_trivial\",\"tier\":\"%s\",\"iterations\":%d,\"failures\":%d,"
      "\"p50_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f}\n",
      std::string(sandbox->tier()).c_str(), iterations, failures, percentile(us, 0.50),
      percentile(us, 0.99), mean);
  return failures == 0 ? 0 : 1;
}
