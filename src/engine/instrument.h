// Instrumentation that lets the interpreter enforce limits it has no hooks for (libwabt 1.0.32's
// Func::Call runs to completion and memory.grow only knows the module's own maximum).
//
// instrument_module() rewrites a validated module:
//   - a mutable i32 global, the fuel, starts at kFuelPerTick. Every function entry and every
//     loop header subtracts the number of instructions in its straight-line body and, when the
//     fuel drops to zero or below, calls nil_internal.tick () -> i32, which checks the deadline
//     (trapping past it) and returns the next fuel. Calls and back edges are the only ways to
//     run unboundedly, so the time between two deadline checks is bounded by ~kFuelPerTick
//     instructions.
//   - bulk instructions (memory.fill/copy/init, table.fill/copy/init) also pay for their length:
//     one unit of fuel per kBulkBytesPerFuel bytes (per element for tables), taken before the
//     instruction runs, so a loop of large fills reaches tick() as often as a loop of ordinary
//     instructions of the same cost. Host calls are not charged here: every host call checks
//     the deadline itself when it returns (host_calls.cpp), and long ones check it as they go.
//   - every memory.grow becomes a call to nil_internal.memory_grow (i32) -> i32, which enforces
//     the invocation's memory cap (trapping with memory_limit) and otherwise grows as usual.
//   - every table.grow first passes its count through nil_internal.table_grow (i32 count,
//     i32 table) -> i32: the count itself if the grown table still fits the invocation's memory
//     limit (tables count against memoryMb), otherwise 0xffffffff, which makes table.grow fail
//     with -1 as the spec says a grow past the maximum does.
//   - a mutable i32 global counts the wasm call depth: each function entry adds one and calls
//     nil_internal.stack_exhausted () (a trap, "call stack exhausted") past kMaxCallDepth; each
//     exit subtracts one. The body is wrapped in a block so that every exit (falling off the
//     end, `return`, a branch to the function's label) passes the decrement. libwabt 1.0.32
//     does not check the depth of call_indirect recursion (it computes wrong values past about
//     1,600 frames); this counter traps first, like the native tier's stack guard.
// The imports come first in the function index space; indices are renumbered through
// wabt's names (GenerateNames → ApplyNames → edit → ResolveNames). Users can never import
// nil_internal themselves: it is not in the host interface, so validate_module rejects it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace nil::engine {

inline constexpr std::string_view kInternalModule = "nil_internal";
inline constexpr std::string_view kTickImport = "tick";                       // () -> i32
inline constexpr std::string_view kMemoryGrowImport = "memory_grow";          // (i32) -> i32
inline constexpr std::string_view kTableGrowImport = "table_grow";            // (i32, i32) -> i32
inline constexpr std::string_view kStackExhaustedImport = "stack_exhausted";  // () -> ()
inline constexpr int32_t kFuelPerTick = 100'000;
// Bulk-memory bytes (or table elements) per unit of fuel: a tick at least every ~1.6 MB.
inline constexpr int32_t kBulkFuelShift = 4;
inline constexpr int32_t kBulkBytesPerFuel = 1 << kBulkFuelShift;
// Wasm frames the interpreter allows (below libwabt's own ~1,638-frame stack).
inline constexpr int32_t kMaxCallDepth = 1'500;

// Returns the instrumented binary. The input must already have passed validate_module.
Expected<std::string> instrument_module(std::string_view wasm);

}  // namespace nil::engine
