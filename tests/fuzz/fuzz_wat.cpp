// Fuzz target: WAT source through the compile driver (libwabt's text parser) and, when it
// compiles, through module validation.
#include <cstdint>
#include <string_view>

#include "compile/driver.h"
#include "engine/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto driver = nil::compile::make_wat_driver();
  std::string_view src(reinterpret_cast<const char*>(data), size);
  auto wasm = driver->compile(src, {});
  if (wasm.ok()) (void)nil::engine::validate_module(*wasm);
  return 0;
}
