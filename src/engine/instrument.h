// Instrumentation that lets the interpreter enforce limits it has no hooks for (libwabt 1.0.32's
// Func::Call runs to completion and memory.grow only knows the module's own maximum).
//
// instrument_module() rewrites a validated module:
//   - a mutable i32 global, the fuel, starts at kFuelPerTick. Every function entry and every
//     loop header subtracts the number of instructions in its straight-line body and, when the
//     fuel drops to zero or below, calls nil_internal.tick () -> i32, which checks the deadline
//     (trapping past it) and returns the next fuel. Calls and back edges are the only ways to
//     run unboundedly, so the time between two deadline checks is bounded by ~kFuelPerTick
//     instructions (plus single bulk-memory instructions, bounded by the memory cap).
//   - every memory.grow becomes a call to nil_internal.memory_grow (i32) -> i32, which enforces
//     the invocation's memory cap (trapping with memory_limit) and otherwise grows as usual.
// The two imports come first in the function index space; indices are renumbered through
// wabt's names (GenerateNames → ApplyNames → edit → ResolveNames). Users can never import
// nil_internal themselves: it is not in the host interface, so validate_module rejects it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace nil::engine {

inline constexpr std::string_view kInternalModule = "nil_internal";
inline constexpr std::string_view kTickImport = "tick";               // () -> i32
inline constexpr std::string_view kMemoryGrowImport = "memory_grow";  // (i32) -> i32
inline constexpr int32_t kFuelPerTick = 100'000;

// Returns the instrumented binary. The input must already have passed validate_module.
Expected<std::string> instrument_module(std::string_view wasm);

}  // namespace nil::engine
