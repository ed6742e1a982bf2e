// The interpreter tier: libwabt's interpreter, a fresh Store + Instance per invocation.
//
// Compiled as C++17 (Debian's wabt interp-inl.h does not build as C++20); wabt types stay in this
// file. Per invocation, everything lives in one HostState (host_calls.h) owned by invoke(): the
// input cursor, the stdout/stderr buffers, the deadline, the memory cap and the reason a host call
// stopped the guest. Host functions capture a pointer to it; the Store (and with it every host
// function) is destroyed before invoke() returns.
//
// The semantics of every host call live in host_calls.cpp, shared with the native tier; this
// file only adapts wabt's calling convention. The fuel-driven deadline check (instrument.h)
// resumes as soon as the guest runs again after a host call.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/fiber.h"
#include "engine/engine.h"
#include "engine/host_calls.h"
#include "engine/host_interface.h"
#include "engine/instrument.h"
#include "wabt/binary-reader.h"
#include "wabt/cast.h"
#include "wabt/interp/binary-reader-interp.h"
#include "wabt/interp/interp.h"

namespace nil::engine {
namespace {

namespace wi = wabt::interp;
using Clock = std::chrono::steady_clock;
using wi::u32;
using wi::u64;
using wi::u8;

constexpr std::string_view kStopMarker = "nil: stopped by the host";

struct InterpModule final : PreparedModule {
  wi::ModuleDesc desc;
  wabt::Index start_export = 0;  // index into desc.exports
};

wabt::Result trap(wi::Thread& thread, wi::Trap::Ptr* out_trap, const std::string& message) {
  *out_trap = wi::Trap::New(thread.store(), message);
  return wabt::Result::Error;
}

// Stops the guest with a failure of the given type (not a wasm trap from the user's view).
wabt::Result stop(HostState& ctx, wi::Thread& thread, wi::Trap::Ptr* out_trap, Failure failure) {
  if (!ctx.stop) ctx.stop = std::move(failure);
  return trap(thread, out_trap, std::string(kStopMarker));
}

// The caller's linear memory, re-fetched on every call: memory.grow reallocates it.
GuestMemory caller_memory(wi::Thread& thread) {
  wi::Instance* instance = thread.GetCallerInstance();
  if (instance && !instance->memories().empty()) {
    wi::Memory::Ptr memory = thread.store().UnsafeGet<wi::Memory>(instance->memories()[0]);
    return GuestMemory(memory->UnsafeData(), memory->ByteSize());
  }
  return GuestMemory();
}

// Adapts wabt's host function convention to the tier-neutral host calls (host_calls.h).
wabt::Result host_call(const HostImport& row, HostState& ctx, wi::Thread& thread,
                       const wi::Values& params, wi::Values& results, wi::Trap::Ptr* out_trap) {
  uint64_t slots[16] = {};
  for (size_t i = 0; i < params.size() && i < row.params.size() && i < 16; ++i) {
    // Only the member of wabt's Value union that was written is defined.
    slots[i] = row.params[i] == 'I' ? params[i].Get<u64>() : u64{params[i].Get<u32>()};
  }
  const HostCall call = row.call;
  HostCallResult out;
  out.mem = caller_memory(thread);
  switch (call_host(call, ctx, slots, out)) {
    case HostStep::kOk:
      if (!results.empty()) results[0] = wi::Value::Make(static_cast<u32>(out.value));
      return wabt::Result::Ok;
    case HostStep::kTrap:
      return trap(thread, out_trap, out.trap);
    case HostStep::kStop:
      return trap(thread, out_trap, std::string(kStopMarker));
  }
  return trap(thread, out_trap, "internal error: unknown host step");
}

wabt::Result tick(HostState& ctx, wi::Thread& thread, wi::Values& results,
                  wi::Trap::Ptr* out_trap) {
  if (Clock::now() >= ctx.deadline)
    return stop(ctx, thread, out_trap, timeout_failure(ctx.inv->limits));
  results[0] = wi::Value::Make(u32(kFuelPerTick));
  return wabt::Result::Ok;
}

// What a table element costs the interpreter (a wi::Ref in a std::vector).
constexpr u64 kTableElementBytes = sizeof(wi::Ref);

// Recounts HostState's memory and table bytes from the instance (tables and memory change
// size only through instructions the instrumentation routes through the host).
void count_usage(HostState& ctx, wi::Thread& thread) {
  wi::Instance* instance = thread.GetCallerInstance();
  if (!instance) return;
  ctx.memory_bytes = 0;
  ctx.table_bytes = 0;
  for (wi::Ref ref : instance->memories()) {
    ctx.memory_bytes += thread.store().UnsafeGet<wi::Memory>(ref)->ByteSize();
  }
  for (wi::Ref ref : instance->tables()) {
    ctx.table_bytes += u64{thread.store().UnsafeGet<wi::Table>(ref)->size()} * kTableElementBytes;
  }
}

wabt::Result memory_grow(HostState& ctx, wi::Thread& thread, const wi::Values& params,
                         wi::Values& results, wi::Trap::Ptr* out_trap) {
  u32 delta = params[0].Get<u32>();
  wi::Instance* instance = thread.GetCallerInstance();
  if (!instance || instance->memories().empty()) {
    return trap(thread, out_trap, "memory.grow without a memory");
  }
  wi::Memory::Ptr memory = thread.store().UnsafeGet<wi::Memory>(instance->memories()[0]);
  u64 old_pages = memory->PageSize();
  count_usage(ctx, thread);
  if (old_pages + delta > ctx.memory_cap_pages ||
      !memory_fits(ctx, (old_pages + delta) * kWasmPageSize)) {
    return stop(ctx, thread, out_trap, memory_grow_failure(old_pages + delta, ctx.inv->limits));
  }
  bool grown = wabt::Succeeded(memory->Grow(delta));
  results[0] = wi::Value::Make(grown ? u32(old_pages) : u32(0xffffffffu));
  // Growing zero-fills: a large grow takes time of its own.
  if (Clock::now() >= ctx.deadline) {
    return stop(ctx, thread, out_trap, timeout_failure(ctx.inv->limits));
  }
  return wabt::Result::Ok;
}

// Before table.grow (instrument.h): the count to grow by, or 0xffffffff (table.grow then
// fails with -1) when the grown table would not fit memoryMb next to the memory and the other
// tables.
wabt::Result table_grow(HostState& ctx, wi::Thread& thread, const wi::Values& params,
                        wi::Values& results, wi::Trap::Ptr* out_trap) {
  u32 count = params[0].Get<u32>();
  count_usage(ctx, thread);
  bool fits = tables_fit(ctx, u64{count} * kTableElementBytes);
  results[0] = wi::Value::Make(fits ? count : u32(0xffffffffu));
  if (Clock::now() >= ctx.deadline) {
    return stop(ctx, thread, out_trap, timeout_failure(ctx.inv->limits));
  }
  return wabt::Result::Ok;
}

// wabt names traps by what happened; the API promises "<kind>: ..." with a stable kind first.
std::string trap_message(const std::string& wabt_message) {
  if (wabt_message.rfind("unreachable", 0) == 0) return "unreachable: " + wabt_message;
  return wabt_message;
}

class InterpreterSandbox final : public Sandbox {
 public:
  std::string_view tier() const override { return "interpreter"; }

  Expected<std::shared_ptr<const PreparedModule>> prepare(std::string_view wasm) override {
    NIL_TRY(validate_module(wasm));
    std::string instrumented = NIL_TRY(instrument_module(wasm));
    auto module = std::make_shared<InterpModule>();
    wabt::Features features;
    wabt::Errors errors;
    wabt::ReadBinaryOptions options(features, nullptr, false, true, false);
    if (wabt::Failed(wi::ReadBinaryInterp("module.wasm", instrumented.data(), instrumented.size(),
                                          options, &errors, &module->desc))) {
      std::string msg = errors.empty() ? "unknown error" : errors.front().message;
      return make_error(ErrorCode::kInstrumentationFailed,
                        "the instrumented module does not load: " + msg);
    }
    bool found = false;
    for (size_t i = 0; i < module->desc.exports.size(); ++i) {
      if (module->desc.exports[i].type.name == "_start") {
        module->start_export = static_cast<wabt::Index>(i);
        found = true;
      }
    }
    if (!found) return make_error(ErrorCode::kMissingExport, "no _start");
    return std::shared_ptr<const PreparedModule>(std::move(module));
  }

  Result invoke(const PreparedModule& prepared, const Invocation& inv) override {
    // The interpreter never suspends (docs/architecture.md): its host calls block the thread
    // even on a fiber, because interleaving two invocations on one thread's wabt Store (and its
    // interpreter thread state) is not something wabt 1.0.32 supports.
    fiber::NoSuspend no_suspend;
    auto started = Clock::now();
    Result result;
    try {
      result = run(static_cast<const InterpModule&>(prepared), inv, started);
    } catch (const std::bad_alloc&) {
      result = Result{};
      result.failure = Failure{"memory_limit", "the host ran out of memory for this invocation"};
    } catch (const std::exception& e) {
      result = Result{};
      result.failure = Failure{"trap", std::string("internal error: ") + e.what()};
    }
    result.duration = Clock::now() - started;
    return result;
  }

 private:
  static Result run(const InterpModule& module, const Invocation& inv, Clock::time_point started) {
    HostState ctx(inv, started);
    auto finish_failure = [&](Failure f) { return finish_result(ctx, std::move(f)); };

    // The memory cap is also the memories' maximum, so an ordinary grow cannot pass it.
    wi::ModuleDesc desc = module.desc;
    u64 initial_memory = 0;
    for (wi::MemoryDesc& m : desc.memories) {
      wabt::Limits& limits = m.type.limits;
      if (limits.initial > ctx.memory_cap_pages) {
        return finish_failure(initial_memory_failure(limits.initial, inv.limits));
      }
      initial_memory += limits.initial * kWasmPageSize;
      if (!limits.has_max || limits.max > ctx.memory_cap_pages) {
        limits.max = ctx.memory_cap_pages;
        limits.has_max = true;
      }
    }
    // Tables count against memoryMb too: their initial elements must fit next to the initial
    // memory, and no table may be declared larger than the whole limit (so that the count
    // table_grow() substitutes always fails).
    u64 table_cap = ctx.limit_bytes / kTableElementBytes;
    u64 initial_elements = 0;
    for (wi::TableDesc& t : desc.tables) {
      wabt::Limits& limits = t.type.limits;
      initial_elements += limits.initial;
      if (!limits.has_max || limits.max > table_cap) {
        limits.max = std::max<u64>(limits.initial, table_cap);
        limits.has_max = true;
      }
    }
    ctx.memory_bytes = initial_memory;
    if (!tables_fit(ctx, initial_elements * kTableElementBytes)) {
      return finish_failure(table_failure(
          initial_elements, initial_elements * kTableElementBytes + initial_memory, inv.limits));
    }

    wi::Store store;
    wi::Module::Ptr mod = wi::Module::New(store, std::move(desc));
    wi::RefVec imports;
    for (const wi::ImportType& import : mod->import_types()) {
      const auto& type = *wabt::cast<wi::FuncType>(import.type.get());
      wi::HostFunc::Callback callback;
      HostState* c = &ctx;
      if (import.module == kInternalModule && import.name == kTickImport) {
        callback = [c](wi::Thread& t, const wi::Values&, wi::Values& r, wi::Trap::Ptr* trap) {
          return tick(*c, t, r, trap);
        };
      } else if (import.module == kInternalModule && import.name == kTableGrowImport) {
        callback = [c](wi::Thread& t, const wi::Values& p, wi::Values& r, wi::Trap::Ptr* trap) {
          return table_grow(*c, t, p, r, trap);
        };
      } else if (import.module == kInternalModule && import.name == kStackExhaustedImport) {
        // The same words as the native tier's stack guard (native_runtime.cpp).
        callback = [](wi::Thread& t, const wi::Values&, wi::Values&, wi::Trap::Ptr* trap) {
          return nil::engine::trap(t, trap, "call stack exhausted");
        };
      } else if (import.module == kInternalModule && import.name == kMemoryGrowImport) {
        callback = [c](wi::Thread& t, const wi::Values& p, wi::Values& r, wi::Trap::Ptr* trap) {
          return memory_grow(*c, t, p, r, trap);
        };
      } else {
        const HostImport* row = find_host_import(import.module, import.name);
        NIL_CHECK(row != nullptr, "prepare() admitted an import outside the host interface");
        callback = [c, row](wi::Thread& t, const wi::Values& p, wi::Values& r,
                            wi::Trap::Ptr* trap) { return host_call(*row, *c, t, p, r, trap); };
      }
      imports.push_back(wi::HostFunc::New(store, type, std::move(callback)).ref());
    }

    wi::Trap::Ptr trap;
    wi::Instance::Ptr instance = wi::Instance::Instantiate(store, mod.ref(), imports, &trap);
    if (!instance) {
      if (ctx.stop) return finish_failure(*ctx.stop);
      if (!ctx.exited) {
        return finish_failure(Failure{
            "instantiate", trap ? trap->message() : "the module could not be instantiated"});
      }
      // proc_exit(0) from a start function: the program ended before _start.
    }

    wi::Values params, results;
    if (instance &&
        wabt::Failed(store.UnsafeGet<wi::Func>(instance->exports()[module.start_export])
                         ->Call(store, params, results, &trap))) {
      if (ctx.stop) return finish_failure(*ctx.stop);
      if (!ctx.exited) {
        return finish_failure(Failure{"trap", trap_message(trap ? trap->message() : "trap")});
      }
      // proc_exit(0): a normal end.
    }
    return finish_result(ctx, std::nullopt);
  }
};

}  // namespace

std::unique_ptr<Sandbox> make_interpreter_sandbox() {
  return std::make_unique<InterpreterSandbox>();
}

}  // namespace nil::engine
