// The host calls' semantics, shared by every tier (private to the engine).
//
// One implementation of the WASI subset and the `nil` module: bounds checks against linear
// memory, stdout/stderr buffers and their limits, proc_exit, nil.* marshalling with
// nil.result_read, and HostCallStats accounting. A tier adapts its own calling convention to
// call_host(): it passes the arguments as 64-bit slots (i32 zero-extended, i64 as is), a view of
// the caller's linear memory fetched for this call (memory.grow moves or resizes it), and turns
// the HostStep into a return, a wasm trap or a stop.
//
// HostState is everything of one invocation that the host calls touch; the tier owns it for the
// invocation's lifetime and builds the Result from it with finish_result().
// Deliberately free of wabt types: the interpreter's translation unit is C++17, the native
// tier's C++20.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/host_interface.h"

namespace nil::engine {

inline constexpr uint64_t kWasmPageSize = 65536;

struct HostState {
  const Invocation* inv = nullptr;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point deadline;
  uint64_t memory_cap_pages = 0;
  // memoryMb covers linear memory and tables together (a table element costs host memory too:
  // 8 bytes in the interpreter, sizeof(wasm_rt_funcref_t) natively). The tiers keep these.
  uint64_t limit_bytes = 0;
  uint64_t memory_bytes = 0;  // linear memory now
  uint64_t table_bytes = 0;   // every table's elements now
  size_t input_pos = 0;
  std::string output;
  std::string logs;
  bool logs_truncated = false;
  std::optional<Failure> stop;  // why a host call stopped the guest (timeout, exit, limits)
  bool exited = false;          // proc_exit(0)
  int exit_code = 0;
  // nil.*: the answer of the last env/http_fetch/db_query call, read by nil.result_read.
  std::string held;
  size_t held_pos = 0;
  size_t held_stats = 0;  // index into host_calls of the call that produced `held`
  std::vector<HostCallStats> host_calls;

  HostState(const Invocation& invocation, std::chrono::steady_clock::time_point started);
};

// A view of the caller's linear memory, valid for one host call only.
class GuestMemory {
 public:
  GuestMemory() = default;
  GuestMemory(uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  bool in_bounds(uint32_t ptr, uint64_t len) const { return uint64_t{ptr} + len <= size_; }
  uint8_t* at(uint32_t ptr) const { return data_ + ptr; }  // only after in_bounds
  uint32_t load_u32(uint32_t ptr) const {
    uint32_t v;
    std::memcpy(&v, data_ + ptr, 4);  // wasm and x86-64/aarch64 are both little-endian
    return v;
  }
  void store_u32(uint32_t ptr, uint32_t v) const { std::memcpy(data_ + ptr, &v, 4); }
  void store_u64(uint32_t ptr, uint64_t v) const { std::memcpy(data_ + ptr, &v, 8); }
  void copy_in(uint32_t ptr, const void* src, size_t len) const {
    if (len) std::memcpy(data_ + ptr, src, len);
  }

 private:
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

enum class HostStep {
  kOk,    // return `value` (if the import has a result)
  kTrap,  // a wasm trap with message `trap`
  kStop,  // the guest ends: HostState::stop says why, or HostState::exited (proc_exit(0))
};

struct HostCallResult {
  GuestMemory mem;     // in: the caller's memory
  uint64_t value = 0;  // out
  std::string trap;    // out, with kTrap
};

// Runs one host call. `params` holds as many slots as the import's signature has parameters.
HostStep call_host(HostCall call, HostState& state, const uint64_t* params, HostCallResult& out);

// The failure for a deadline that passed, for memory.grow past the cap, for an initial memory
// above the cap: the same words in every tier.
Failure timeout_failure(const Limits& limits);
Failure memory_grow_failure(uint64_t pages_wanted, const Limits& limits);
Failure initial_memory_failure(uint64_t initial_pages, const Limits& limits);
// Tables whose elements (with the memory) do not fit memoryMb.
Failure table_failure(uint64_t elements, uint64_t bytes, const Limits& limits);

// Whether growing linear memory to `memory_bytes` still fits memoryMb next to the tables, and
// whether `extra_table_bytes` more table elements fit next to the memory.
bool memory_fits(const HostState& state, uint64_t memory_bytes);
bool tables_fit(const HostState& state, uint64_t extra_table_bytes);

// The Result for an invocation that ended with `failure` (nullopt: _start returned or
// proc_exit(0)): validates stdout as JSON, moves logs and stats out of `state`.
Result finish_result(HostState& state, std::optional<Failure> failure);

}  // namespace nil::engine
