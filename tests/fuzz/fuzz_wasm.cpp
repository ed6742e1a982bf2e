// Fuzz target: uploaded module bytes through validation (the host-interface check and the name
// check), the custom-section stripping the native builder does before wasm2c, and, when valid,
// the interpreter's instrumentation and prepare — the path every upload takes.
//
// Invariants checked (a violation aborts, which the fuzzer reports):
//   - a module that validates has only safe import/export names (nothing else may reach wasm2c),
//     checked against the character set written out here, not only by calling is_safe_name;
//   - is_safe_name itself, on the input's leading bytes, agrees with that character set;
//   - stripping its custom sections leaves a module without any custom section (so no debug
//     name reaches wasm2c) that validates to the same imports/exports;
//   - the instrumented module of a valid module is produced (instrumentation never fails on
//     valid input) and the interpreter loads it.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/instrument.h"

namespace {

void require(bool cond) {
  if (!cond) std::abort();
}

// The names wasm2c may see: non-empty (and short), only [A-Za-z0-9_.$#:@-] (docs/security.md).
bool only_safe_chars(std::string_view name) {
  constexpr std::string_view kSafe =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$#:@-";
  return !name.empty() && name.find_first_not_of(kSafe) == std::string_view::npos;
}

bool safe(std::string_view name) {
  bool ok = nil::engine::is_safe_name(name);
  if (ok) require(only_safe_chars(name));
  return ok;
}

// Section ids of a module whose framing validate_module already accepted.
std::vector<uint8_t> section_ids(std::string_view wasm) {
  std::vector<uint8_t> ids;
  size_t pos = 8;
  while (pos < wasm.size()) {
    ids.push_back(static_cast<uint8_t>(wasm[pos++]));
    uint64_t size = 0;
    for (int shift = 0; pos < wasm.size() && shift < 35; shift += 7) {
      auto b = static_cast<uint8_t>(wasm[pos++]);
      size |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) break;
    }
    require(size <= wasm.size() - pos);
    pos += size;
  }
  return ids;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view wasm(reinterpret_cast<const char*>(data), size);
  (void)safe(wasm.substr(0, 1 + (size > 0 ? data[0] % 64 : 0)));
  auto info = nil::engine::validate_module(wasm);
  if (!info.ok()) return 0;
  for (const std::string& e : info->exports) require(safe(e));
  for (const std::string& qualified : info->imports) {
    // "module.name"; '.' is in the safe set, so wherever the split falls both parts are safe.
    auto dot = qualified.find('.');
    require(dot != std::string::npos);
    require(safe(qualified.substr(0, dot)));
    require(safe(qualified.substr(dot + 1)));
  }

  auto stripped = nil::engine::strip_custom_sections(wasm);
  require(stripped.ok());
  for (uint8_t id : section_ids(*stripped)) require(id != 0);
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
