// nil::compile drivers — turn one language's source into a WebAssembly binary.
//
// A driver is pure with respect to the platform: source in, wasm bytes or diagnostics out. The
// queue workers (compile/worker.h) call drivers; drivers never touch the store.
// Errors: kind kInvalidInput, code "compile_error", message = the diagnostics shown to the user
// as the function's compileError (with line:column where the compiler gives them).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"

namespace nil::compile {

struct CompileOptions {
  uint32_t timeout_ms = 60'000;
  uint64_t memory_bytes = 2ull << 30;
  uint64_t max_artifact_bytes = 32ull << 20;
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string_view language() const = 0;
  // Thread-safe: workers call it concurrently.
  virtual Expected<std::string> compile(std::string_view source, const CompileOptions& opts) = 0;
};

std::unique_ptr<Driver> make_wat_driver();
std::unique_ptr<Driver> make_wasm_driver();  // pass-through; validation is the worker's job

}  // namespace nil::compile
