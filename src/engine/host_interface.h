// The host interface: every import a guest module may name, with its exact signature.
//
// This table is the single source of truth: validate_module() rejects any import that is not
// here (or has another signature), and each sandbox tier binds its host functions from it by
// HostCall id. Adding a host call (e.g. the coming `nil.*` module: log, env, http_fetch,
// db_query) means adding a row here and a case in each tier. Deliberately free of wabt types so
// that C++17 and C++20 translation units can both include it.
//
// Signatures use one letter per wasm value type: i = i32, I = i64, f = f32, F = f64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nil::engine {

inline constexpr std::string_view kWasiModule = "wasi_snapshot_preview1";

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
inline constexpr uint16_t kBadf = 8;      // not an open descriptor: only 0, 1, 2 exist
inline constexpr uint16_t kFault = 21;
inline constexpr uint16_t kInval = 28;
inline constexpr uint16_t kIo = 29;
inline constexpr uint16_t kNosys = 52;    // the host interface does not offer this call
inline constexpr uint16_t kNotsup = 58;
inline constexpr uint16_t kSpipe = 70;    // seek/tell on stdin/stdout/stderr
}  // namespace wasi_errno

}  // namespace nil::engine
