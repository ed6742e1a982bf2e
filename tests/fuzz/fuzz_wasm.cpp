// Fuzz target: uploaded module bytes through validation (the host-interface check), and, when
// valid, through the interpreter's prepare (instrumentation) — the path every upload takes.
#include <cstdint>
#include <string_view>

#include "engine/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view wasm(reinterpret_cast<const char*>(data), size);
  auto info = nil::engine::validate_module(wasm);
  if (info.ok()) {
    static auto sandbox = nil::engine::make_interpreter_sandbox();
    auto prepared = sandbox->prepare(wasm);
    if (prepared.ok()) {
      nil::engine::Invocation inv;
      inv.input = "{}";
      inv.limits.timeout_ms = 50;
      inv.limits.memory_mb = 16;
      (void)sandbox->invoke(**prepared, inv);
    }
  }
  return 0;
}
