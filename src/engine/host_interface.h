// The host interface: every import a guest module may name, with its exact signature.
//
// This table is the single source of truth: validate_module() rejects any import that is not
// here (or has another signature), and each sandbox tier binds its host functions from it by
// HostCall id. Adding a host call means adding a row here and a case in each tier. Deliberately
// free of wabt types so that C++17 and C++20 translation units can both include it.
//
// Two import modules: `wasi_snapshot_preview1` (the WASI subset) and `nil` (NIL's own host
// interface v1: log, env, http_fetch, db_query, result_read; docs/abi.md).
//
// Signatures use one letter per wasm value type: i = i32, I = i64, f = f32, F = f64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error_code.h"

namespace nil::engine {

inline constexpr std::string_view kWasiModule = "wasi_snapshot_preview1";
inline constexpr std::string_view kNilModule = "nil";

enum class HostCall : uint8_t {
  kArgsGet,
  kArgsSizesGet,
  kEnvironGet,
  kEnvironSizesGet,
  kClockResGet,
  kClockTimeGet,
  kFdAdvise,
  kFdAllocate,
  kFdClose,
  kFdDatasync,
  kFdFdstatGet,
  kFdFdstatSetFlags,
  kFdFdstatSetRights,
  kFdFilestatGet,
  kFdFilestatSetSize,
  kFdFilestatSetTimes,
  kFdPread,
  kFdPrestatGet,
  kFdPrestatDirName,
  kFdPwrite,
  kFdRead,
  kFdReaddir,
  kFdRenumber,
  kFdSeek,
  kFdSync,
  kFdTell,
  kFdWrite,
  kPathCreateDirectory,
  kPathFilestatGet,
  kPathFilestatSetTimes,
  kPathLink,
  kPathOpen,
  kPathReadlink,
  kPathRemoveDirectory,
  kPathRename,
  kPathSymlink,
  kPathUnlinkFile,
  kPollOneoff,
  kProcExit,
  kProcRaise,
  kRandomGet,
  kSchedYield,
  kSockAccept,
  kSockRecv,
  kSockSend,
  kSockShutdown,
  // nil (host interface v1)
  kNilLog,
  kNilEnv,
  kNilHttpFetch,
  kNilDbQuery,
  kNilResultRead,
};

struct HostImport {
  std::string_view module;
  std::string_view name;
  std::string_view params;   // e.g. "iiii"
  std::string_view results;  // "" or "i"
  HostCall call;
};

// All rows of the host interface, in a stable order (a range; std::span is C++20 and this header
// is also compiled as C++17).
struct HostTable {
  const HostImport* first;
  size_t count;
  const HostImport* begin() const { return first; }
  const HostImport* end() const { return first + count; }
};
HostTable host_interface();

// The row for module.name, or nullptr if the host interface has no such import.
const HostImport* find_host_import(std::string_view module, std::string_view name);

// "(i32, i64) -> i32" for the letters above.
std::string format_signature(std::string_view params, std::string_view results);

// WASI errno values the host answers with (wasi_snapshot_preview1 `errno`).
namespace wasi_errno {
inline constexpr uint16_t kSuccess = 0;
inline constexpr uint16_t kBadf = 8;  // not an open descriptor: only 0, 1, 2 exist
inline constexpr uint16_t kFault = 21;
inline constexpr uint16_t kInval = 28;
inline constexpr uint16_t kIo = 29;
inline constexpr uint16_t kNosys = 52;  // the host interface does not offer this call
inline constexpr uint16_t kNotsup = 58;
inline constexpr uint16_t kSpipe = 70;  // seek/tell on stdin/stdout/stderr
}  // namespace wasi_errno

// What `nil.env`, `nil.http_fetch` and `nil.db_query` return when they fail: a negative number
// (the error JSON {"error":{"code","message"}} is then readable with nil.result_read). The
// number names the family; the JSON's code is the precise, stable snake_case code.
namespace nil_status {
inline constexpr int32_t kNotFound = -1;        // not_found (env: no such key)
inline constexpr int32_t kUnavailable = -2;     // unavailable (no host services here)
inline constexpr int32_t kInvalidRequest = -3;  // invalid_request, multiple_statements
inline constexpr int32_t kForbidden = -4;  // host_not_allowed, address_not_allowed, not_authorized,
                                           // transaction_not_allowed
inline constexpr int32_t kTimeout = -5;    // timeout
inline constexpr int32_t kTooLarge = -6;   // response_too_large, too_large
inline constexpr int32_t kSqlError = -7;   // sql_error
inline constexpr int32_t kFailed = -8;     // anything else (fetch_failed, too_many_redirects, ...)
}  // namespace nil_status

// The status number for a host service's error code (above); unknown codes are kFailed.
int32_t nil_status_for(ErrorCode error_code);

// Limits of the `nil` module, enforced by every tier.
inline constexpr uint32_t kNilMaxArgumentBytes = 8u
                                                 << 20;  // one argument (key, request, sql, params)
inline constexpr uint32_t kNilMaxResultBytes = 16u
                                               << 20;  // a result the host holds for result_read

}  // namespace nil::engine
