// The interpreter tier: libwabt's interpreter, a fresh Store + Instance per invocation.
//
// Compiled as C++17 (Debian's wabt interp-inl.h does not build as C++20); wabt types stay in this
// file. Per invocation, everything lives in one InvocationContext owned by invoke(): the input
// cursor, the stdout/stderr buffers, the deadline, the memory cap and the reason a host call
// stopped the guest. Host functions capture a pointer to it; the Store (and with it every host
// function) is destroyed before invoke() returns.
//
// Host calls never trust the guest: every pointer/length pair is checked against the current
// size of linear memory (re-fetched on every call, because memory.grow reallocates it) and an
// out-of-bounds access is a trap, as it would be for a wasm load or store.
//
// The `nil` module (docs/abi.md) is marshalling only: the engine copies arguments out of guest
// memory, calls Invocation::host (src/host implements it), holds the answer for nil.result_read
// and accounts for every call in Result::host_calls. The guest is paused during a host call; the
// fuel-driven deadline check (instrument.h) resumes as soon as the guest runs again, and a host
// call that returns past the deadline stops the guest at once.
#include <openssl/rand.h>
#include <time.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
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

constexpr uint64_t kPageSize = 65536;
constexpr std::string_view kStopMarker = "nil: stopped by the host";

struct InterpModule final : PreparedModule {
  wi::ModuleDesc desc;
  wabt::Index start_export = 0;  // index into desc.exports
};

// Everything one invocation holds. Destroyed (with the Store) when invoke() returns.
struct InvocationContext {
  const Invocation* inv = nullptr;
  Clock::time_point deadline;
  uint64_t memory_cap_pages = 0;
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
};

// A view of the caller's linear memory, valid for one host call only.
class GuestMemory {
 public:
  explicit GuestMemory(wi::Thread& thread) {
    wi::Instance* instance = thread.GetCallerInstance();
    if (instance && !instance->memories().empty()) {
      wi::Memory::Ptr memory = thread.store().UnsafeGet<wi::Memory>(instance->memories()[0]);
      data_ = memory->UnsafeData();
      size_ = memory->ByteSize();
    }
  }
  bool in_bounds(u32 ptr, u64 len) const { return uint64_t{ptr} + len <= size_; }
  u8* at(u32 ptr) const { return data_ + ptr; }  // only after in_bounds
  u32 load_u32(u32 ptr) const {
    u32 v;
    std::memcpy(&v, data_ + ptr, 4);  // wasm and x86-64/aarch64 are both little-endian
    return v;
  }
  void store_u32(u32 ptr, u32 v) const { std::memcpy(data_ + ptr, &v, 4); }
  void store_u64(u32 ptr, u64 v) const { std::memcpy(data_ + ptr, &v, 8); }
  void copy_in(u32 ptr, const void* src, size_t len) const {
    if (len) std::memcpy(data_ + ptr, src, len);
  }

 private:
  u8* data_ = nullptr;
  u64 size_ = 0;
};

wabt::Result trap(wi::Thread& thread, wi::Trap::Ptr* out_trap, const std::string& message) {
  *out_trap = wi::Trap::New(thread.store(), message);
  return wabt::Result::Error;
}

wabt::Result out_of_bounds(wi::Thread& thread, wi::Trap::Ptr* out_trap, std::string_view call,
                           u32 ptr, u64 len) {
  return trap(thread, out_trap,
              "out of bounds memory access: " + std::string(call) + " was given " +
                  std::to_string(ptr) + "+" + std::to_string(len) + " outside linear memory");
}

// Stops the guest with a failure of the given type (not a wasm trap from the user's view).
wabt::Result stop(InvocationContext& ctx, wi::Thread& thread, wi::Trap::Ptr* out_trap,
                  std::string type, std::string message) {
  if (!ctx.stop) ctx.stop = Failure{std::move(type), std::move(message)};
  return trap(thread, out_trap, std::string(kStopMarker));
}

void set_errno(wi::Values& results, uint16_t errno_value) {
  if (!results.empty()) results[0] = wi::Value::Make(u32{errno_value});
}

u32 p32(const wi::Values& params, size_t i) { return params[i].Get<u32>(); }

// The bytes of argv or environ as WASI lays them out: NUL-terminated strings, back to back.
std::vector<std::string> strings_for(const Invocation& inv, bool environ) {
  std::vector<std::string> out;
  if (environ) {
    for (const auto& [k, v] : inv.env) out.push_back(k + "=" + v);
  } else {
    out = inv.args;
  }
  return out;
}

// Shared by args_sizes_get / environ_sizes_get.
wabt::Result sizes_get(const std::vector<std::string>& strings, std::string_view call,
                       wi::Thread& thread, const wi::Values& params, wi::Values& results,
                       wi::Trap::Ptr* out_trap) {
  GuestMemory mem(thread);
  u32 count_ptr = p32(params, 0), size_ptr = p32(params, 1);
  if (!mem.in_bounds(count_ptr, 4)) return out_of_bounds(thread, out_trap, call, count_ptr, 4);
  if (!mem.in_bounds(size_ptr, 4)) return out_of_bounds(thread, out_trap, call, size_ptr, 4);
  u64 total = 0;
  for (const std::string& s : strings) total += s.size() + 1;
  mem.store_u32(count_ptr, static_cast<u32>(strings.size()));
  mem.store_u32(size_ptr, static_cast<u32>(total));
  set_errno(results, wasi_errno::kSuccess);
  return wabt::Result::Ok;
}

// Shared by args_get / environ_get: pointers into `ptrs`, the strings into `buf`.
wabt::Result strings_get(const std::vector<std::string>& strings, std::string_view call,
                         wi::Thread& thread, const wi::Values& params, wi::Values& results,
                         wi::Trap::Ptr* out_trap) {
  GuestMemory mem(thread);
  u32 ptrs = p32(params, 0), buf = p32(params, 1);
  u64 total = 0;
  for (const std::string& s : strings) total += s.size() + 1;
  if (!mem.in_bounds(ptrs, u64{4} * strings.size())) {
    return out_of_bounds(thread, out_trap, call, ptrs, u64{4} * strings.size());
  }
  if (!mem.in_bounds(buf, total)) return out_of_bounds(thread, out_trap, call, buf, total);
  u32 cursor = buf;
  for (size_t i = 0; i < strings.size(); ++i) {
    mem.store_u32(ptrs + static_cast<u32>(4 * i), cursor);
    mem.copy_in(cursor, strings[i].c_str(), strings[i].size() + 1);
    cursor += static_cast<u32>(strings[i].size() + 1);
  }
  set_errno(results, wasi_errno::kSuccess);
  return wabt::Result::Ok;
}

struct Iovec {
  u32 buf;
  u32 len;
};

// Reads and bounds-checks an iovec array and every buffer it names.
bool read_iovecs(const GuestMemory& mem, u32 iovs, u32 count, std::vector<Iovec>* out,
                 u32* bad_ptr, u64* bad_len) {
  if (!mem.in_bounds(iovs, u64{8} * count)) {
    *bad_ptr = iovs;
    *bad_len = u64{8} * count;
    return false;
  }
  out->clear();
  for (u32 i = 0; i < count; ++i) {
    Iovec v{mem.load_u32(iovs + 8 * i), mem.load_u32(iovs + 8 * i + 4)};
    if (!mem.in_bounds(v.buf, v.len)) {
      *bad_ptr = v.buf;
      *bad_len = v.len;
      return false;
    }
    out->push_back(v);
  }
  return true;
}

// stderr and nil.log share the log buffer and its cap.
void append_log(InvocationContext& ctx, std::string_view bytes) {
  if (ctx.logs_truncated) return;
  size_t room =
      ctx.inv->limits.log_bytes - std::min<size_t>(ctx.logs.size(), ctx.inv->limits.log_bytes);
  if (bytes.size() <= room) {
    ctx.logs.append(bytes);
  } else {
    ctx.logs.append(bytes.substr(0, room));
    ctx.logs += "\n[logs truncated]";
    ctx.logs_truncated = true;
  }
}

wabt::Result fd_write(InvocationContext& ctx, wi::Thread& thread, const wi::Values& params,
                      wi::Values& results, wi::Trap::Ptr* out_trap) {
  GuestMemory mem(thread);
  u32 fd = p32(params, 0), iovs = p32(params, 1), count = p32(params, 2), nwritten = p32(params, 3);
  std::vector<Iovec> vecs;
  u32 bad_ptr = 0;
  u64 bad_len = 0;
  if (!read_iovecs(mem, iovs, count, &vecs, &bad_ptr, &bad_len)) {
    return out_of_bounds(thread, out_trap, "fd_write", bad_ptr, bad_len);
  }
  if (!mem.in_bounds(nwritten, 4)) return out_of_bounds(thread, out_trap, "fd_write", nwritten, 4);
  if (fd != 1 && fd != 2) {
    set_errno(results, fd == 0 ? wasi_errno::kBadf : wasi_errno::kBadf);
    return wabt::Result::Ok;
  }
  u64 total = 0;
  for (const Iovec& v : vecs) {
    const char* bytes = reinterpret_cast<const char*>(mem.at(v.buf));
    total += v.len;
    if (fd == 1) {
      if (ctx.output.size() + v.len > ctx.inv->limits.output_bytes) {
        return stop(ctx, thread, out_trap, "output_limit",
                    "stdout exceeded the limit of " +
                        std::to_string(ctx.inv->limits.output_bytes) + " bytes");
      }
      ctx.output.append(bytes, v.len);
    } else {
      append_log(ctx, std::string_view(bytes, v.len));
    }
  }
  // Truncated logs still count as written: the guest must not retry them.
  mem.store_u32(nwritten, static_cast<u32>(total));
  set_errno(results, wasi_errno::kSuccess);
  return wabt::Result::Ok;
}

wabt::Result fd_read(InvocationContext& ctx, wi::Thread& thread, const wi::Values& params,
                     wi::Values& results, wi::Trap::Ptr* out_trap) {
  GuestMemory mem(thread);
  u32 fd = p32(params, 0), iovs = p32(params, 1), count = p32(params, 2), nread = p32(params, 3);
  std::vector<Iovec> vecs;
  u32 bad_ptr = 0;
  u64 bad_len = 0;
  if (!read_iovecs(mem, iovs, count, &vecs, &bad_ptr, &bad_len)) {
    return out_of_bounds(thread, out_trap, "fd_read", bad_ptr, bad_len);
  }
  if (!mem.in_bounds(nread, 4)) return out_of_bounds(thread, out_trap, "fd_read", nread, 4);
  if (fd != 0) {
    set_errno(results, wasi_errno::kBadf);
    return wabt::Result::Ok;
  }
  std::string_view input = ctx.inv->input;
  u64 total = 0;
  for (const Iovec& v : vecs) {
    size_t n = std::min<size_t>(v.len, input.size() - ctx.input_pos);
    mem.copy_in(v.buf, input.data() + ctx.input_pos, n);
    ctx.input_pos += n;
    total += n;
    if (n < v.len) break;
  }
  mem.store_u32(nread, static_cast<u32>(total));
  set_errno(results, wasi_errno::kSuccess);
  return wabt::Result::Ok;
}

bool is_stdio(u32 fd) { return fd <= 2; }

// Everything of WASI the host interface offers, dispatched by HostCall.
wabt::Result wasi_call(HostCall call, InvocationContext& ctx, wi::Thread& thread,
                       const wi::Values& params, wi::Values& results, wi::Trap::Ptr* out_trap) {
  switch (call) {
    case HostCall::kArgsSizesGet:
      return sizes_get(strings_for(*ctx.inv, false), "args_sizes_get", thread, params, results,
                       out_trap);
    case HostCall::kArgsGet:
      return strings_get(strings_for(*ctx.inv, false), "args_get", thread, params, results,
                         out_trap);
    case HostCall::kEnvironSizesGet:
      return sizes_get(strings_for(*ctx.inv, true), "environ_sizes_get", thread, params, results,
                       out_trap);
    case HostCall::kEnvironGet:
      return strings_get(strings_for(*ctx.inv, true), "environ_get", thread, params, results,
                         out_trap);
    case HostCall::kFdWrite:
      return fd_write(ctx, thread, params, results, out_trap);
    case HostCall::kFdRead:
      return fd_read(ctx, thread, params, results, out_trap);
    case HostCall::kClockResGet:
    case HostCall::kClockTimeGet: {
      u32 id = p32(params, 0);
      u32 out = p32(params, call == HostCall::kClockResGet ? 1 : 2);
      clockid_t clock;
      switch (id) {
        case 0: clock = CLOCK_REALTIME; break;
        case 1: clock = CLOCK_MONOTONIC; break;
        case 2: clock = CLOCK_PROCESS_CPUTIME_ID; break;
        case 3: clock = CLOCK_THREAD_CPUTIME_ID; break;
        default: set_errno(results, wasi_errno::kInval); return wabt::Result::Ok;
      }
      GuestMemory mem(thread);
      if (!mem.in_bounds(out, 8)) return out_of_bounds(thread, out_trap, "clock_time_get", out, 8);
      timespec ts{};
      if (call == HostCall::kClockResGet) {
        clock_getres(clock, &ts);
      } else {
        clock_gettime(clock, &ts);
      }
      mem.store_u64(out, u64(ts.tv_sec) * 1'000'000'000u + u64(ts.tv_nsec));
      set_errno(results, wasi_errno::kSuccess);
      return wabt::Result::Ok;
    }
    case HostCall::kRandomGet: {
      GuestMemory mem(thread);
      u32 buf = p32(params, 0), len = p32(params, 1);
      if (!mem.in_bounds(buf, len)) return out_of_bounds(thread, out_trap, "random_get", buf, len);
      u32 done = 0;
      while (done < len) {
        int chunk = static_cast<int>(std::min<u32>(len - done, 1u << 20));
        if (RAND_bytes(mem.at(buf + done), chunk) != 1) {
          set_errno(results, wasi_errno::kIo);
          return wabt::Result::Ok;
        }
        done += static_cast<u32>(chunk);
      }
      set_errno(results, wasi_errno::kSuccess);
      return wabt::Result::Ok;
    }
    case HostCall::kProcExit: {
      u32 code = p32(params, 0);
      ctx.exit_code = static_cast<int>(code);
      if (code == 0) {
        ctx.exited = true;
        return trap(thread, out_trap, std::string(kStopMarker));
      }
      return stop(ctx, thread, out_trap, "exit", "exited with code " + std::to_string(code));
    }
    case HostCall::kFdFdstatGet: {
      u32 fd = p32(params, 0), out = p32(params, 1);
      if (!is_stdio(fd)) {
        set_errno(results, wasi_errno::kBadf);
        return wabt::Result::Ok;
      }
      GuestMemory mem(thread);
      if (!mem.in_bounds(out, 24)) return out_of_bounds(thread, out_trap, "fd_fdstat_get", out, 24);
      // fdstat: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16.
      // Filetype unknown (0): stdio are neither files nor ttys, so wasi-libc buffers stdout
      // fully. Rights: fd_read (bit 1) on stdin, fd_write (bit 6) on stdout/stderr.
      u8 zero[24] = {};
      mem.copy_in(out, zero, sizeof zero);
      mem.store_u64(out + 8, fd == 0 ? u64{1} << 1 : u64{1} << 6);
      set_errno(results, wasi_errno::kSuccess);
      return wabt::Result::Ok;
    }
    case HostCall::kFdFilestatGet: {
      u32 fd = p32(params, 0), out = p32(params, 1);
      if (!is_stdio(fd)) {
        set_errno(results, wasi_errno::kBadf);
        return wabt::Result::Ok;
      }
      GuestMemory mem(thread);
      if (!mem.in_bounds(out, 64)) {
        return out_of_bounds(thread, out_trap, "fd_filestat_get", out, 64);
      }
      u8 zero[64] = {};  // filestat, all zero: device 0, inode 0, filetype unknown, size 0
      mem.copy_in(out, zero, sizeof zero);
      set_errno(results, wasi_errno::kSuccess);
      return wabt::Result::Ok;
    }
    case HostCall::kFdClose:
    case HostCall::kFdSync:
    case HostCall::kFdDatasync:
    case HostCall::kFdFdstatSetFlags:
      // Closing or syncing stdio is harmless and changes nothing; other fds do not exist.
      set_errno(results, is_stdio(p32(params, 0)) ? wasi_errno::kSuccess : wasi_errno::kBadf);
      return wabt::Result::Ok;
    case HostCall::kFdSeek:
    case HostCall::kFdTell:
      set_errno(results, is_stdio(p32(params, 0)) ? wasi_errno::kSpipe : wasi_errno::kBadf);
      return wabt::Result::Ok;
    case HostCall::kFdPrestatGet:
    case HostCall::kFdPrestatDirName:
      // No preopened directories: wasi-libc probes fds from 3 up until EBADF.
      set_errno(results, wasi_errno::kBadf);
      return wabt::Result::Ok;
    case HostCall::kSchedYield:
      set_errno(results, wasi_errno::kSuccess);
      return wabt::Result::Ok;
    case HostCall::kFdAdvise:
    case HostCall::kFdAllocate:
    case HostCall::kFdFdstatSetRights:
    case HostCall::kFdFilestatSetSize:
    case HostCall::kFdFilestatSetTimes:
    case HostCall::kFdPread:
    case HostCall::kFdPwrite:
    case HostCall::kFdReaddir:
    case HostCall::kFdRenumber:
    case HostCall::kSockAccept:
    case HostCall::kSockRecv:
    case HostCall::kSockSend:
    case HostCall::kSockShutdown:
      // Descriptor calls that make no sense on stdio: ENOSYS there, EBADF elsewhere.
      set_errno(results, is_stdio(p32(params, 0)) ? wasi_errno::kNosys : wasi_errno::kBadf);
      return wabt::Result::Ok;
    case HostCall::kPathCreateDirectory:
    case HostCall::kPathFilestatGet:
    case HostCall::kPathFilestatSetTimes:
    case HostCall::kPathLink:
    case HostCall::kPathOpen:
    case HostCall::kPathReadlink:
    case HostCall::kPathRemoveDirectory:
    case HostCall::kPathRename:
    case HostCall::kPathSymlink:
    case HostCall::kPathUnlinkFile:
      // Paths are relative to a directory fd; none exists.
      set_errno(results, wasi_errno::kBadf);
      return wabt::Result::Ok;
    case HostCall::kPollOneoff:
    case HostCall::kProcRaise:
    case HostCall::kNilLog:  // the nil module is bound to nil_call, never here
    case HostCall::kNilEnv:
    case HostCall::kNilHttpFetch:
    case HostCall::kNilDbQuery:
    case HostCall::kNilResultRead:
      set_errno(results, wasi_errno::kNosys);
      return wabt::Result::Ok;
  }
  set_errno(results, wasi_errno::kNosys);
  return wabt::Result::Ok;
}

// ---- the nil module ----------------------------------------------------------------------

HostCallStats& stats_for(InvocationContext& ctx, std::string_view name, size_t* index = nullptr) {
  for (size_t i = 0; i < ctx.host_calls.size(); ++i) {
    if (ctx.host_calls[i].name == name) {
      if (index) *index = i;
      return ctx.host_calls[i];
    }
  }
  HostCallStats s;
  s.name = std::string(name);
  ctx.host_calls.push_back(std::move(s));
  if (index) *index = ctx.host_calls.size() - 1;
  return ctx.host_calls.back();
}

std::string error_json(std::string_view code, std::string_view message) {
  boost::json::object inner;
  inner["code"] = code;
  inner["message"] = message;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  return boost::json::serialize(outer);
}

// Holds an answer for nil.result_read and returns the status the guest sees: its length, or a
// negative nil_status with the error JSON held instead.
int32_t hold_answer(InvocationContext& ctx, size_t stats_index, Expected<std::string> answer) {
  ctx.held_stats = stats_index;
  ctx.held_pos = 0;
  if (answer.ok() && answer.value().size() > kNilMaxResultBytes) {
    answer = make_error(ErrorKind::kTooLarge, "response_too_large",
                        "the answer of " + std::to_string(answer.value().size()) +
                            " bytes exceeds the host interface's limit of " +
                            std::to_string(kNilMaxResultBytes) + " bytes");
  }
  if (answer.ok()) {
    ctx.held = std::move(answer).value();
    return static_cast<int32_t>(ctx.held.size());
  }
  const Error& e = answer.error();
  ctx.held = error_json(e.code, e.message);
  return nil_status_for(e.code);
}

std::string_view level_name(u32 level) {
  switch (level) {
    case 0: return "debug";
    case 1: return "info";
    case 2: return "warn";
    case 3: return "error";
    default: return "info";
  }
}

Error unavailable(std::string_view call) {
  return make_error(ErrorKind::kUnavailable, "unavailable",
                    "nil." + std::string(call) + " is not available in this invocation");
}

Error argument_too_large(std::string_view call, u64 len) {
  return make_error(ErrorKind::kInvalidInput, "invalid_request",
                    "nil." + std::string(call) + " was given an argument of " +
                        std::to_string(len) + " bytes; the limit is " +
                        std::to_string(kNilMaxArgumentBytes));
}

wabt::Result nil_call(HostCall call, InvocationContext& ctx, wi::Thread& thread,
                      const wi::Values& params, wi::Values& results, wi::Trap::Ptr* out_trap) {
  GuestMemory mem(thread);
  auto arg = [&](u32 ptr, u32 len) {
    return std::string_view(reinterpret_cast<const char*>(mem.at(ptr)), len);
  };
  auto set_i32 = [&](int32_t v) { results[0] = wi::Value::Make(static_cast<u32>(v)); };
  auto started = Clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  };
  // After a service returns: past the deadline the guest does not run again.
  auto after_service = [&]() -> wabt::Result {
    if (Clock::now() >= ctx.deadline) {
      return stop(ctx, thread, out_trap, "timeout",
                  "the function ran longer than its timeout of " +
                      std::to_string(ctx.inv->limits.timeout_ms) + " ms");
    }
    return wabt::Result::Ok;
  };
  HostServices* host = ctx.inv->host;

  switch (call) {
    case HostCall::kNilLog: {
      u32 level = p32(params, 0), ptr = p32(params, 1), len = p32(params, 2);
      if (!mem.in_bounds(ptr, len)) return out_of_bounds(thread, out_trap, "nil.log", ptr, len);
      std::string line = "[" + std::string(level_name(level)) + "] ";
      line.append(arg(ptr, len));
      line += '\n';
      append_log(ctx, line);
      HostCallStats& s = stats_for(ctx, "log");
      s.count++;
      s.bytes_in += len;
      s.ms += elapsed_ms();
      return wabt::Result::Ok;
    }
    case HostCall::kNilEnv: {
      u32 ptr = p32(params, 0), len = p32(params, 1);
      if (!mem.in_bounds(ptr, len)) return out_of_bounds(thread, out_trap, "nil.env", ptr, len);
      size_t index = 0;
      stats_for(ctx, "env", &index);
      Expected<std::string> answer = unavailable("env");
      if (len > kNilMaxArgumentBytes) {
        answer = argument_too_large("env", len);
      } else if (host) {
        std::optional<std::string> value = host->env(arg(ptr, len));
        if (value) {
          answer = std::move(*value);
        } else {
          answer = make_error(ErrorKind::kNotFound, "not_found",
                              "no environment key " + std::string(arg(ptr, len)));
        }
      }
      set_i32(hold_answer(ctx, index, std::move(answer)));
      HostCallStats& s = ctx.host_calls[index];
      s.count++;
      s.bytes_in += len;
      s.ms += elapsed_ms();
      return after_service();
    }
    case HostCall::kNilHttpFetch: {
      u32 ptr = p32(params, 0), len = p32(params, 1);
      if (!mem.in_bounds(ptr, len)) {
        return out_of_bounds(thread, out_trap, "nil.http_fetch", ptr, len);
      }
      size_t index = 0;
      stats_for(ctx, "http_fetch", &index);
      Expected<std::string> answer = unavailable("http_fetch");
      if (len > kNilMaxArgumentBytes) {
        answer = argument_too_large("http_fetch", len);
      } else if (host) {
        // A copy: the service must not hold a view into guest memory.
        answer = host->http_fetch(std::string(arg(ptr, len)), ctx.deadline);
      }
      set_i32(hold_answer(ctx, index, std::move(answer)));
      HostCallStats& s = ctx.host_calls[index];
      s.count++;
      s.bytes_in += len;
      s.ms += elapsed_ms();
      return after_service();
    }
    case HostCall::kNilDbQuery: {
      u32 sql_ptr = p32(params, 0), sql_len = p32(params, 1);
      u32 params_ptr = p32(params, 2), params_len = p32(params, 3);
      if (!mem.in_bounds(sql_ptr, sql_len)) {
        return out_of_bounds(thread, out_trap, "nil.db_query", sql_ptr, sql_len);
      }
      if (!mem.in_bounds(params_ptr, params_len)) {
        return out_of_bounds(thread, out_trap, "nil.db_query", params_ptr, params_len);
      }
      size_t index = 0;
      stats_for(ctx, "db_query", &index);
      Expected<std::string> answer = unavailable("db_query");
      if (sql_len > kNilMaxArgumentBytes || params_len > kNilMaxArgumentBytes) {
        answer = argument_too_large("db_query", std::max(sql_len, params_len));
      } else if (host) {
        std::string sql(arg(sql_ptr, sql_len));
        std::string params_json = params_len ? std::string(arg(params_ptr, params_len)) : "[]";
        answer = host->db_query(sql, params_json, ctx.deadline);
      }
      set_i32(hold_answer(ctx, index, std::move(answer)));
      HostCallStats& s = ctx.host_calls[index];
      s.count++;
      s.bytes_in += u64{sql_len} + params_len;
      s.ms += elapsed_ms();
      return after_service();
    }
    case HostCall::kNilResultRead: {
      u32 ptr = p32(params, 0), cap = p32(params, 1);
      if (!mem.in_bounds(ptr, cap)) {
        return out_of_bounds(thread, out_trap, "nil.result_read", ptr, cap);
      }
      size_t n = std::min<size_t>(cap, ctx.held.size() - ctx.held_pos);
      mem.copy_in(ptr, ctx.held.data() + ctx.held_pos, n);
      ctx.held_pos += n;
      if (n && ctx.held_stats < ctx.host_calls.size()) ctx.host_calls[ctx.held_stats].bytes_out += n;
      set_i32(static_cast<int32_t>(n));
      return wabt::Result::Ok;
    }
    default:
      break;
  }
  return trap(thread, out_trap, "internal error: not a nil host call");
}

wabt::Result tick(InvocationContext& ctx, wi::Thread& thread, wi::Values& results,
                  wi::Trap::Ptr* out_trap) {
  if (Clock::now() >= ctx.deadline) {
    return stop(ctx, thread, out_trap, "timeout",
                "the function ran longer than its timeout of " +
                    std::to_string(ctx.inv->limits.timeout_ms) + " ms");
  }
  results[0] = wi::Value::Make(u32(kFuelPerTick));
  return wabt::Result::Ok;
}

wabt::Result memory_grow(InvocationContext& ctx, wi::Thread& thread, const wi::Values& params,
                         wi::Values& results, wi::Trap::Ptr* out_trap) {
  u32 delta = p32(params, 0);
  wi::Instance* instance = thread.GetCallerInstance();
  if (!instance || instance->memories().empty()) {
    return trap(thread, out_trap, "memory.grow without a memory");
  }
  wi::Memory::Ptr memory = thread.store().UnsafeGet<wi::Memory>(instance->memories()[0]);
  u64 old_pages = memory->PageSize();
  if (old_pages + delta > ctx.memory_cap_pages) {
    return stop(ctx, thread, out_trap, "memory_limit",
                "memory.grow to " + std::to_string((old_pages + delta) * kPageSize) +
                    " bytes exceeds the limit of " +
                    std::to_string(ctx.inv->limits.memory_mb) + " MiB");
  }
  bool grown = wabt::Succeeded(memory->Grow(delta));
  results[0] = wi::Value::Make(grown ? u32(old_pages) : u32(0xffffffffu));
  return wabt::Result::Ok;
}

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
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
      return make_error(ErrorKind::kInternal, "instrumentation_failed",
                        "the instrumented module does not load: " + msg);
    }
    bool found = false;
    for (size_t i = 0; i < module->desc.exports.size(); ++i) {
      if (module->desc.exports[i].type.name == "_start") {
        module->start_export = static_cast<wabt::Index>(i);
        found = true;
      }
    }
    if (!found) return make_error(ErrorKind::kInvalidInput, "missing_export", "no _start");
    return std::shared_ptr<const PreparedModule>(std::move(module));
  }

  Result invoke(const PreparedModule& prepared, const Invocation& inv) override {
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
    InvocationContext ctx;
    ctx.inv = &inv;
    ctx.deadline = started + std::chrono::milliseconds(inv.limits.timeout_ms);
    ctx.memory_cap_pages = (uint64_t{inv.limits.memory_mb} << 20) / kPageSize;

    Result result;
    auto finish_failure = [&](Failure f) {
      result.succeeded = false;
      result.failure = std::move(f);
      result.logs = std::move(ctx.logs);
      result.exit_code = ctx.exit_code;
      result.host_calls = std::move(ctx.host_calls);
      return result;
    };

    // The memory cap is also the memories' maximum, so an ordinary grow cannot pass it.
    wi::ModuleDesc desc = module.desc;
    for (wi::MemoryDesc& m : desc.memories) {
      wabt::Limits& limits = m.type.limits;
      if (limits.initial > ctx.memory_cap_pages) {
        return finish_failure(Failure{
            "memory_limit", "the module's initial memory of " +
                                std::to_string(limits.initial * kPageSize) +
                                " bytes exceeds the limit of " +
                                std::to_string(inv.limits.memory_mb) + " MiB"});
      }
      if (!limits.has_max || limits.max > ctx.memory_cap_pages) {
        limits.max = ctx.memory_cap_pages;
        limits.has_max = true;
      }
    }

    wi::Store store;
    wi::Module::Ptr mod = wi::Module::New(store, std::move(desc));
    wi::RefVec imports;
    for (const wi::ImportType& import : mod->import_types()) {
      const auto& type = *wabt::cast<wi::FuncType>(import.type.get());
      wi::HostFunc::Callback callback;
      InvocationContext* c = &ctx;
      if (import.module == kInternalModule && import.name == kTickImport) {
        callback = [c](wi::Thread& t, const wi::Values&, wi::Values& r, wi::Trap::Ptr* trap) {
          return tick(*c, t, r, trap);
        };
      } else if (import.module == kInternalModule && import.name == kMemoryGrowImport) {
        callback = [c](wi::Thread& t, const wi::Values& p, wi::Values& r, wi::Trap::Ptr* trap) {
          return memory_grow(*c, t, p, r, trap);
        };
      } else {
        const HostImport* row = find_host_import(import.module, import.name);
        NIL_CHECK(row != nullptr, "prepare() admitted an import outside the host interface");
        HostCall call = row->call;
        if (row->module == kNilModule) {
          callback = [c, call](wi::Thread& t, const wi::Values& p, wi::Values& r,
                               wi::Trap::Ptr* trap) { return nil_call(call, *c, t, p, r, trap); };
        } else {
          callback = [c, call](wi::Thread& t, const wi::Values& p, wi::Values& r,
                               wi::Trap::Ptr* trap) { return wasi_call(call, *c, t, p, r, trap); };
        }
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
    if (instance && wabt::Failed(store.UnsafeGet<wi::Func>(instance->exports()[module.start_export])
                                     ->Call(store, params, results, &trap))) {
      if (ctx.stop) return finish_failure(*ctx.stop);
      if (!ctx.exited) {
        return finish_failure(Failure{"trap", trap_message(trap ? trap->message() : "trap")});
      }
      // proc_exit(0): a normal end.
    }

    std::string_view text = trim(ctx.output);
    if (text.empty()) text = "null";
    boost::system::error_code ec;
    boost::json::parse(text, ec);
    if (ec) {
      std::string shown(text.substr(0, 200));
      return finish_failure(Failure{"invalid_output", "stdout is not JSON (" + ec.message() +
                                                          "): " + shown});
    }
    result.succeeded = true;
    result.output = std::string(text);
    result.logs = std::move(ctx.logs);
    result.exit_code = ctx.exit_code;
    result.host_calls = std::move(ctx.host_calls);
    return result;
  }
};

}  // namespace

std::unique_ptr<Sandbox> make_interpreter_sandbox() {
  return std::make_unique<InterpreterSandbox>();
}

}  // namespace nil::engine
