// Test helper: the engine's tiers behind one factory, so that every engine test runs against
// each of them (INSTANTIATE_TEST_SUITE_P over kTiers) and must give identical results.
//
// The native tier's sandbox here is the real NativeSandbox wrapped so that prepare(wasm) builds
// the artifact on demand with compile::build_native (sandboxed, as nild does) into a cache
// shared by every test binary and run (NIL_TEST_NATIVE_CACHE, keyed by the module's sha256 and
// the native ABI version): each distinct module is compiled once per build tree.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/engine.h"

namespace nil::engine::testing {

inline constexpr const char* kTiers[] = {"interpreter", "native"};

std::unique_ptr<Sandbox> make_test_sandbox(std::string_view tier);

// The directory native artifacts of tests are cached in.
std::string native_test_cache_dir();

}  // namespace nil::engine::testing
