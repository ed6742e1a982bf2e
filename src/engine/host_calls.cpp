// The WASI subset and the nil module, shared by every tier (see host_calls.h).
//
// Host calls never trust the guest: every pointer/length pair is checked against the current
// size of linear memory and an out-of-bounds access is a trap, as it would be for a wasm load or
// store.
//
// The `nil` module (docs/abi.md) is marshalling only: the engine copies arguments out of guest
// memory, calls Invocation::host (src/host implements it), holds the answer for nil.result_read
// and accounts for every call in Result::host_calls. The guest is paused during a host call; a
// host call that returns past the deadline stops the guest at once.
#include "engine/host_calls.h"

#include <openssl/rand.h>
#include <time.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nil::engine {
namespace {

using Clock = std::chrono::steady_clock;
using u8 = uint8_t;
using u32 = uint32_t;
using u64 = uint64_t;

HostStep trap(HostCallResult& out, const std::string& message) {
  out.trap = message;
  return HostStep::kTrap;
}

HostStep out_of_bounds(HostCallResult& out, std::string_view call, u32 ptr, u64 len) {
  return trap(out, "out of bounds memory access: " + std::string(call) + " was given " +
                       std::to_string(ptr) + "+" + std::to_string(len) + " outside linear memory");
}

// Stops the guest with a failure of the given type (not a wasm trap from the user's view).
HostStep stop(HostState& ctx, HostCallResult& out, std::string type, std::string message) {
  if (!ctx.stop) ctx.stop = Failure{std::move(type), std::move(message)};
  out.trap.clear();
  return HostStep::kStop;
}

void set_errno(HostCallResult& out, uint16_t errno_value) { out.value = errno_value; }

u32 p32(const uint64_t* params, size_t i) { return static_cast<u32>(params[i]); }

// The bytes of argv or environ as WASI lays them out: NUL-terminated strings, back to back.
std::vector<std::string> strings_for(const Invocation& inv, bool environ) {
  std::vector<std::string> out;
  if (environ) {
    for (const auto& [k, v] : inv.env) {
      std::string& entry = out.emplace_back(k);
      entry += '=';
      entry += v;
    }
  } else {
    out = inv.args;
  }
  return out;
}

// Shared by args_sizes_get / environ_sizes_get.
HostStep sizes_get(const std::vector<std::string>& strings, std::string_view call,
                   const uint64_t* params, HostCallResult& out) {
  const GuestMemory& mem = out.mem;
  u32 count_ptr = p32(params, 0), size_ptr = p32(params, 1);
  if (!mem.in_bounds(count_ptr, 4)) return out_of_bounds(out, call, count_ptr, 4);
  if (!mem.in_bounds(size_ptr, 4)) return out_of_bounds(out, call, size_ptr, 4);
  u64 total = 0;
  for (const std::string& s : strings) total += s.size() + 1;
  mem.store_u32(count_ptr, static_cast<u32>(strings.size()));
  mem.store_u32(size_ptr, static_cast<u32>(total));
  set_errno(out, wasi_errno::kSuccess);
  return HostStep::kOk;
}

// Shared by args_get / environ_get: pointers into `ptrs`, the strings into `buf`.
HostStep strings_get(const std::vector<std::string>& strings, std::string_view call,
                     const uint64_t* params, HostCallResult& out) {
  const GuestMemory& mem = out.mem;
  u32 ptrs = p32(params, 0), buf = p32(params, 1);
  u64 total = 0;
  for (const std::string& s : strings) total += s.size() + 1;
  if (!mem.in_bounds(ptrs, u64{4} * strings.size())) {
    return out_of_bounds(out, call, ptrs, u64{4} * strings.size());
  }
  if (!mem.in_bounds(buf, total)) return out_of_bounds(out, call, buf, total);
  u32 cursor = buf;
  for (size_t i = 0; i < strings.size(); ++i) {
    mem.store_u32(ptrs + static_cast<u32>(4 * i), cursor);
    mem.copy_in(cursor, strings[i].c_str(), strings[i].size() + 1);
    cursor += static_cast<u32>(strings[i].size() + 1);
  }
  set_errno(out, wasi_errno::kSuccess);
  return HostStep::kOk;
}

struct Iovec {
  u32 buf;
  u32 len;
};

// Linux's IOV_MAX. More iovecs would make the host allocate and walk an array as large as the
// guest's memory in one call; wasi-libc never passes more than a few.
constexpr u32 kMaxIovecs = 1024;

// Reads and bounds-checks an iovec array and every buffer it names.
bool read_iovecs(const GuestMemory& mem, u32 iovs, u32 count, std::vector<Iovec>* out, u32* bad_ptr,
                 u64* bad_len) {
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
void append_log(HostState& ctx, std::string_view bytes) {
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

HostStep fd_write(HostState& ctx, const uint64_t* params, HostCallResult& out) {
  const GuestMemory& mem = out.mem;
  u32 fd = p32(params, 0), iovs = p32(params, 1), count = p32(params, 2), nwritten = p32(params, 3);
  std::vector<Iovec> vecs;
  if (!mem.in_bounds(iovs, u64{8} * count)) {
    return out_of_bounds(out, "fd_write", iovs, u64{8} * count);
  }
  if (count > kMaxIovecs) {
    set_errno(out, wasi_errno::kInval);
    return HostStep::kOk;
  }
  u32 bad_ptr = 0;
  u64 bad_len = 0;
  if (!read_iovecs(mem, iovs, count, &vecs, &bad_ptr, &bad_len)) {
    return out_of_bounds(out, "fd_write", bad_ptr, bad_len);
  }
  if (!mem.in_bounds(nwritten, 4)) return out_of_bounds(out, "fd_write", nwritten, 4);
  if (fd != 1 && fd != 2) {
    set_errno(out, wasi_errno::kBadf);
    return HostStep::kOk;
  }
  u64 total = 0;
  for (const Iovec& v : vecs) {
    const char* bytes = reinterpret_cast<const char*>(mem.at(v.buf));
    total += v.len;
    if (fd == 1) {
      if (ctx.output.size() + v.len > ctx.inv->limits.output_bytes) {
        return stop(ctx, out, "output_limit",
                    "stdout exceeded the limit of " + std::to_string(ctx.inv->limits.output_bytes) +
                        " bytes");
      }
      ctx.output.append(bytes, v.len);
    } else {
      append_log(ctx, std::string_view(bytes, v.len));
    }
  }
  // Truncated logs still count as written: the guest must not retry them.
  mem.store_u32(nwritten, static_cast<u32>(total));
  set_errno(out, wasi_errno::kSuccess);
  return HostStep::kOk;
}

HostStep fd_read(HostState& ctx, const uint64_t* params, HostCallResult& out) {
  const GuestMemory& mem = out.mem;
  u32 fd = p32(params, 0), iovs = p32(params, 1), count = p32(params, 2), nread = p32(params, 3);
  std::vector<Iovec> vecs;
  if (!mem.in_bounds(iovs, u64{8} * count)) {
    return out_of_bounds(out, "fd_read", iovs, u64{8} * count);
  }
  if (count > kMaxIovecs) {
    set_errno(out, wasi_errno::kInval);
    return HostStep::kOk;
  }
  u32 bad_ptr = 0;
  u64 bad_len = 0;
  if (!read_iovecs(mem, iovs, count, &vecs, &bad_ptr, &bad_len)) {
    return out_of_bounds(out, "fd_read", bad_ptr, bad_len);
  }
  if (!mem.in_bounds(nread, 4)) return out_of_bounds(out, "fd_read", nread, 4);
  if (fd != 0) {
    set_errno(out, wasi_errno::kBadf);
    return HostStep::kOk;
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
  set_errno(out, wasi_errno::kSuccess);
  return HostStep::kOk;
}

bool is_stdio(u32 fd) { return fd <= 2; }

// Everything of WASI the host interface offers, dispatched by HostCall.
HostStep wasi_call(HostCall call, HostState& ctx, const uint64_t* params, HostCallResult& out) {
  switch (call) {
    case HostCall::kArgsSizesGet:
      return sizes_get(strings_for(*ctx.inv, false), "args_sizes_get", params, out);
    case HostCall::kArgsGet:
      return strings_get(strings_for(*ctx.inv, false), "args_get", params, out);
    case HostCall::kEnvironSizesGet:
      return sizes_get(strings_for(*ctx.inv, true), "environ_sizes_get", params, out);
    case HostCall::kEnvironGet:
      return strings_get(strings_for(*ctx.inv, true), "environ_get", params, out);
    case HostCall::kFdWrite:
      return fd_write(ctx, params, out);
    case HostCall::kFdRead:
      return fd_read(ctx, params, out);
    case HostCall::kClockResGet:
    case HostCall::kClockTimeGet: {
      u32 id = p32(params, 0);
      u32 out_ptr = p32(params, call == HostCall::kClockResGet ? 1 : 2);
      // Clocks 2 (process CPU time) and 3 (thread CPU time) would show nild's own CPU time,
      // which other tenants' work moves: a guest sees the time since its invocation started
      // on the monotonic clock instead (an upper bound of its own CPU time).
      clockid_t clock;
      bool invocation_clock = false;
      switch (id) {
        case 0:
          clock = CLOCK_REALTIME;
          break;
        case 1:
          clock = CLOCK_MONOTONIC;
          break;
        case 2:
        case 3:
          clock = CLOCK_MONOTONIC;
          invocation_clock = true;
          break;
        default:
          set_errno(out, wasi_errno::kInval);
          return HostStep::kOk;
      }
      const GuestMemory& mem = out.mem;
      if (!mem.in_bounds(out_ptr, 8)) return out_of_bounds(out, "clock_time_get", out_ptr, 8);
      timespec ts{};
      u64 value = 0;
      if (call == HostCall::kClockResGet) {
        clock_getres(clock, &ts);
        value = u64(ts.tv_sec) * 1'000'000'000u + u64(ts.tv_nsec);
      } else if (invocation_clock) {
        value = static_cast<u64>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - ctx.started)
                .count());
      } else {
        clock_gettime(clock, &ts);
        value = u64(ts.tv_sec) * 1'000'000'000u + u64(ts.tv_nsec);
      }
      mem.store_u64(out_ptr, value);
      set_errno(out, wasi_errno::kSuccess);
      return HostStep::kOk;
    }
    case HostCall::kRandomGet: {
      const GuestMemory& mem = out.mem;
      u32 buf = p32(params, 0), len = p32(params, 1);
      if (!mem.in_bounds(buf, len)) return out_of_bounds(out, "random_get", buf, len);
      u32 done = 0;
      while (done < len) {
        // 64 KiB at a time with a deadline check between chunks: a 4 GiB request must not run
        // long past the timeout.
        if (done && Clock::now() >= ctx.deadline) {
          return stop(ctx, out, "timeout", timeout_failure(ctx.inv->limits).message);
        }
        int chunk = static_cast<int>(std::min<u32>(len - done, 64u << 10));
        if (RAND_bytes(mem.at(buf + done), chunk) != 1) {
          set_errno(out, wasi_errno::kIo);
          return HostStep::kOk;
        }
        done += static_cast<u32>(chunk);
      }
      set_errno(out, wasi_errno::kSuccess);
      return HostStep::kOk;
    }
    case HostCall::kProcExit: {
      u32 code = p32(params, 0);
      ctx.exit_code = static_cast<int>(code);
      if (code == 0) {
        ctx.exited = true;
        return HostStep::kStop;
      }
      return stop(ctx, out, "exit", "exited with code " + std::to_string(code));
    }
    case HostCall::kFdFdstatGet: {
      u32 fd = p32(params, 0), out_ptr = p32(params, 1);
      if (!is_stdio(fd)) {
        set_errno(out, wasi_errno::kBadf);
        return HostStep::kOk;
      }
      const GuestMemory& mem = out.mem;
      if (!mem.in_bounds(out_ptr, 24)) return out_of_bounds(out, "fd_fdstat_get", out_ptr, 24);
      // fdstat: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16.
      // Filetype unknown (0): stdio are neither files nor ttys, so wasi-libc buffers stdout
      // fully. Rights: fd_read (bit 1) on stdin, fd_write (bit 6) on stdout/stderr.
      u8 zero[24] = {};
      mem.copy_in(out_ptr, zero, sizeof zero);
      mem.store_u64(out_ptr + 8, fd == 0 ? u64{1} << 1 : u64{1} << 6);
      set_errno(out, wasi_errno::kSuccess);
      return HostStep::kOk;
    }
    case HostCall::kFdFilestatGet: {
      u32 fd = p32(params, 0), out_ptr = p32(params, 1);
      if (!is_stdio(fd)) {
        set_errno(out, wasi_errno::kBadf);
        return HostStep::kOk;
      }
      const GuestMemory& mem = out.mem;
      if (!mem.in_bounds(out_ptr, 64)) {
        return out_of_bounds(out, "fd_filestat_get", out_ptr, 64);
      }
      u8 zero[64] = {};  // filestat, all zero: device 0, inode 0, filetype unknown, size 0
      mem.copy_in(out_ptr, zero, sizeof zero);
      set_errno(out, wasi_errno::kSuccess);
      return HostStep::kOk;
    }
    case HostCall::kFdClose:
    case HostCall::kFdSync:
    case HostCall::kFdDatasync:
    case HostCall::kFdFdstatSetFlags:
      // Closing or syncing stdio is harmless and changes nothing; other fds do not exist.
      set_errno(out, is_stdio(p32(params, 0)) ? wasi_errno::kSuccess : wasi_errno::kBadf);
      return HostStep::kOk;
    case HostCall::kFdSeek:
    case HostCall::kFdTell:
      set_errno(out, is_stdio(p32(params, 0)) ? wasi_errno::kSpipe : wasi_errno::kBadf);
      return HostStep::kOk;
    case HostCall::kFdPrestatGet:
    case HostCall::kFdPrestatDirName:
      // No preopened directories: wasi-libc probes fds from 3 up until EBADF.
      set_errno(out, wasi_errno::kBadf);
      return HostStep::kOk;
    case HostCall::kSchedYield:
      set_errno(out, wasi_errno::kSuccess);
      return HostStep::kOk;
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
      set_errno(out, is_stdio(p32(params, 0)) ? wasi_errno::kNosys : wasi_errno::kBadf);
      return HostStep::kOk;
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
      set_errno(out, wasi_errno::kBadf);
      return HostStep::kOk;
    case HostCall::kPollOneoff:
    case HostCall::kProcRaise:
    case HostCall::kNilLog:  // the nil module is bound to nil_call, never here
    case HostCall::kNilEnv:
    case HostCall::kNilHttpFetch:
    case HostCall::kNilDbQuery:
    case HostCall::kNilResultRead:
      set_errno(out, wasi_errno::kNosys);
      return HostStep::kOk;
  }
  set_errno(out, wasi_errno::kNosys);
  return HostStep::kOk;
}

// ---- the nil module ----------------------------------------------------------------------

HostCallStats& stats_for(HostState& ctx, std::string_view name, size_t* index = nullptr) {
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
int32_t hold_answer(HostState& ctx, size_t stats_index, Expected<std::string> answer) {
  ctx.held_stats = stats_index;
  ctx.held_pos = 0;
  if (answer.ok() && answer.value().size() > kNilMaxResultBytes) {
    answer = make_error(ErrorCode::kResponseTooLarge,
                        "the answer of " + std::to_string(answer.value().size()) +
                            " bytes exceeds the host interface's limit of " +
                            std::to_string(kNilMaxResultBytes) + " bytes");
  }
  if (answer.ok()) {
    ctx.held = std::move(answer).value();
    return static_cast<int32_t>(ctx.held.size());
  }
  const Error& e = answer.error();
  ctx.held = error_json(e.wire_code(), e.message);
  return nil_status_for(e.code);
}

std::string_view level_name(u32 level) {
  switch (level) {
    case 0:
      return "debug";
    case 1:
      return "info";
    case 2:
      return "warn";
    case 3:
      return "error";
    default:
      return "info";
  }
}

Error unavailable(std::string_view call) {
  return make_error(ErrorCode::kUnavailable,
                    "nil." + std::string(call) + " is not available in this invocation");
}

Error argument_too_large(std::string_view call, u64 len) {
  return make_error(ErrorCode::kInvalidRequest, "nil." + std::string(call) +
                                                    " was given an argument of " +
                                                    std::to_string(len) + " bytes; the limit is " +
                                                    std::to_string(kNilMaxArgumentBytes));
}

HostStep nil_call(HostCall call, HostState& ctx, const uint64_t* params, HostCallResult& out) {
  const GuestMemory& mem = out.mem;
  auto arg = [&](u32 ptr, u32 len) {
    return std::string_view(reinterpret_cast<const char*>(mem.at(ptr)), len);
  };
  auto set_i32 = [&](int32_t v) { out.value = static_cast<u32>(v); };
  auto started = Clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  };
  // After a service returns: past the deadline the guest does not run again.
  auto after_service = [&]() -> HostStep {
    if (Clock::now() >= ctx.deadline) {
      return stop(ctx, out, "timeout",
                  "the function ran longer than its timeout of " +
                      std::to_string(ctx.inv->limits.timeout_ms) + " ms");
    }
    return HostStep::kOk;
  };
  HostServices* host = ctx.inv->host;

  switch (call) {
    case HostCall::kNilLog: {
      u32 level = p32(params, 0), ptr = p32(params, 1), len = p32(params, 2);
      if (!mem.in_bounds(ptr, len)) return out_of_bounds(out, "nil.log", ptr, len);
      std::string line = "[" + std::string(level_name(level)) + "] ";
      // Never copy more than the log can still take (the rest is cut anyway).
      size_t room =
          ctx.inv->limits.log_bytes - std::min<size_t>(ctx.logs.size(), ctx.inv->limits.log_bytes);
      line.append(arg(ptr, static_cast<u32>(std::min<size_t>(len, room + 1))));
      line += '\n';
      append_log(ctx, line);
      HostCallStats& s = stats_for(ctx, "log");
      s.count++;
      s.bytes_in += len;
      s.ms += elapsed_ms();
      return HostStep::kOk;
    }
    case HostCall::kNilEnv: {
      u32 ptr = p32(params, 0), len = p32(params, 1);
      if (!mem.in_bounds(ptr, len)) return out_of_bounds(out, "nil.env", ptr, len);
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
          answer =
              make_error(ErrorCode::kNotFound, "no environment key " + std::string(arg(ptr, len)));
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
        return out_of_bounds(out, "nil.http_fetch", ptr, len);
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
        return out_of_bounds(out, "nil.db_query", sql_ptr, sql_len);
      }
      if (!mem.in_bounds(params_ptr, params_len)) {
        return out_of_bounds(out, "nil.db_query", params_ptr, params_len);
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
        return out_of_bounds(out, "nil.result_read", ptr, cap);
      }
      size_t n = std::min<size_t>(cap, ctx.held.size() - ctx.held_pos);
      mem.copy_in(ptr, ctx.held.data() + ctx.held_pos, n);
      ctx.held_pos += n;
      if (n && ctx.held_stats < ctx.host_calls.size())
        ctx.host_calls[ctx.held_stats].bytes_out += n;
      set_i32(static_cast<int32_t>(n));
      return HostStep::kOk;
    }
    default:
      break;
  }
  return trap(out, "internal error: not a nil host call");
}

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

HostState::HostState(const Invocation& invocation, Clock::time_point started_at)
    : inv(&invocation),
      started(started_at),
      deadline(started_at + std::chrono::milliseconds(invocation.limits.timeout_ms)),
      memory_cap_pages((uint64_t{invocation.limits.memory_mb} << 20) / kWasmPageSize),
      limit_bytes(uint64_t{invocation.limits.memory_mb} << 20) {}

HostStep call_host(HostCall call, HostState& state, const uint64_t* params, HostCallResult& out) {
  const HostImport* row = nullptr;
  for (const HostImport& r : host_interface()) {
    if (r.call == call) row = &r;
  }
  HostStep step = row != nullptr && row->module == kNilModule ? nil_call(call, state, params, out)
                                                              : wasi_call(call, state, params, out);
  // Every host call ends with a deadline check: the interpreter's fuel counts instructions, not
  // the time a host call takes, so without it a loop of large host calls (random_get, fd_write)
  // would run far past the timeout between two ticks. One clock read (vDSO) per call.
  if (step == HostStep::kOk && Clock::now() >= state.deadline) {
    return stop(state, out, "timeout", timeout_failure(state.inv->limits).message);
  }
  return step;
}

bool memory_fits(const HostState& state, uint64_t memory_bytes) {
  return memory_bytes <= state.limit_bytes && state.table_bytes <= state.limit_bytes - memory_bytes;
}

bool tables_fit(const HostState& state, uint64_t extra_table_bytes) {
  uint64_t used = state.memory_bytes + state.table_bytes;
  return used <= state.limit_bytes && extra_table_bytes <= state.limit_bytes - used;
}

Failure table_failure(uint64_t elements, uint64_t bytes, const Limits& limits) {
  return Failure{"memory_limit", "the module's tables of " + std::to_string(elements) +
                                     " elements (" + std::to_string(bytes) +
                                     " bytes, with its memory) exceed the limit of " +
                                     std::to_string(limits.memory_mb) + " MiB"};
}

Failure timeout_failure(const Limits& limits) {
  return Failure{"timeout", "the function ran longer than its timeout of " +
                                std::to_string(limits.timeout_ms) + " ms"};
}

Failure memory_grow_failure(uint64_t pages_wanted, const Limits& limits) {
  return Failure{"memory_limit", "memory.grow to " + std::to_string(pages_wanted * kWasmPageSize) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(limits.memory_mb) + " MiB"};
}

Failure initial_memory_failure(uint64_t initial_pages, const Limits& limits) {
  return Failure{"memory_limit",
                 "the module's initial memory of " + std::to_string(initial_pages * kWasmPageSize) +
                     " bytes exceeds the limit of " + std::to_string(limits.memory_mb) + " MiB"};
}

Result finish_result(HostState& state, std::optional<Failure> failure) {
  Result result;
  result.logs = std::move(state.logs);
  result.exit_code = state.exit_code;
  result.host_calls = std::move(state.host_calls);
  if (!failure) {
    std::string_view text = trim(state.output);
    if (text.empty()) text = "null";
    boost::system::error_code ec;
    boost::json::parse(text, ec);
    if (ec) {
      std::string shown(text.substr(0, 200));
      failure = Failure{"invalid_output", "stdout is not JSON (" + ec.message() + "): " + shown};
      result.output = std::string(text);  // the invoker redacts, then cuts the excerpt again
    } else {
      result.succeeded = true;
      result.output = std::string(text);
      return result;
    }
  }
  result.succeeded = false;
  result.failure = std::move(failure);
  return result;
}

}  // namespace nil::engine
