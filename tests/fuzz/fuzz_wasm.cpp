// Fuzz target: uploaded module bytes through validation (the host-interface check and the name
// check), the custom-section stripping the native builder does before wasm2c, and, when valid,
// the interpreter's instrumentation and prepare — the path every upload takes.
//
// Invariants checked (a violation aborts, which the fuzzer reports):
//   - a module that validates has only safe import/export names (nothing else may reach wasm2c);
//   - stripping its custom sections leaves a module that validates to the same imports/exports;
//   - the instrumented module of a valid module is produced (instrumentation never fails on
//     valid input) and the interpreter loads it.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/engine.h"
#include "engine/instrument.h"

namespace {

void require(bool cond) {
  if (!cond) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view wasm(reinterpret_cast<const char*>(data), size);
  auto info = nil::engine::validate_module(wasm);
  if (!info.ok()) return 0;
  for (const std::string& e : info->exports) require(nil::engine::is_safe_name(e));
  for (const std::string& qualified : info->imports) {
    auto dot = qualified.find('.');
    require(nil::engine::is_safe_name(qualified.substr(0, dot)));
    require(nil::engine::is_safe_name(qualified.substr(dot + 1)));
  }

  auto stripped = nil::engine::strip_custom_sections(wasm);
  require(stripped.ok());
  auto again = nil::engine::validate_module(*stripped);
  require(again.ok());
  require(again->exports == info->exports && again->imports == info->imports);

  auto instrumented = nil::engine::instrument_module(wasm);
  require(instrumented.ok());

  static auto sandbox = nil::engine::make_interpreter_sandbox();
  auto prepared = sandbox->prepare(wasm);
  require(prepared.ok());
  nil::engine::Invocation inv;
  inv.input = "{}";
  inv.limits.timeout_ms = 50;
  inv.limits.memory_mb = 16;
  (void)sandbox->invoke(**prepared, inv);
  return 0;
}
