#include "engine/host_interface.h"

#include <array>

namespace nil::engine {
namespace {

// wasi_snapshot_preview1 with wasm32 types (pointers and sizes are i32; filesize, timestamp,
// rights and offsets are i64). Signatures follow witx of the preview1 snapshot exactly.
constexpr std::array kTable = {
    HostImport{kWasiModule, "args_get", "ii", "i", HostCall::kArgsGet},
    HostImport{kWasiModule, "args_sizes_get", "ii", "i", HostCall::kArgsSizesGet},
    HostImport{kWasiModule, "environ_get", "ii", "i", HostCall::kEnvironGet},
    HostImport{kWasiModule, "environ_sizes_get", "ii", "i", HostCall::kEnvironSizesGet},
    HostImport{kWasiModule, "clock_res_get", "ii", "i", HostCall::kClockResGet},
    HostImport{kWasiModule, "clock_time_get", "iIi", "i", HostCall::kClockTimeGet},
    HostImport{kWasiModule, "fd_advise", "iIIi", "i", HostCall::kFdAdvise},
    HostImport{kWasiModule, "fd_allocate", "iII", "i", HostCall::kFdAllocate},
    HostImport{kWasiModule, "fd_close", "i", "i", HostCall::kFdClose},
    HostImport{kWasiModule, "fd_datasync", "i", "i", HostCall::kFdDatasync},
    HostImport{kWasiModule, "fd_fdstat_get", "ii", "i", HostCall::kFdFdstatGet},
    HostImport{kWasiModule, "fd_fdstat_set_flags", "ii", "i", HostCall::kFdFdstatSetFlags},
    HostImport{kWasiModule, "fd_fdstat_set_rights", "iII", "i", HostCall::kFdFdstatSetRights},
    HostImport{kWasiModule, "fd_filestat_get", "ii", "i", HostCall::kFdFilestatGet},
    HostImport{kWasiModule, "fd_filestat_set_size", "iI", "i", HostCall::kFdFilestatSetSize},
    HostImport{kWasiModule, "fd_filestat_set_times", "iIIi", "i", HostCall::kFdFilestatSetTimes},
    HostImport{kWasiModule, "fd_pread", "iiiIi", "i", HostCall::kFdPread},
    HostImport{kWasiModule, "fd_prestat_get", "ii", "i", HostCall::kFdPrestatGet},
    HostImport{kWasiModule, "fd_prestat_dir_name", "iii", "i", HostCall::kFdPrestatDirName},
    HostImport{kWasiModule, "fd_pwrite", "iiiIi", "i", HostCall::kFdPwrite},
    HostImport{kWasiModule, "fd_read", "iiii", "i", HostCall::kFdRead},
    HostImport{kWasiModule, "fd_readdir", "iiiIi", "i", HostCall::kFdReaddir},
    HostImport{kWasiModule, "fd_renumber", "ii", "i", HostCall::kFdRenumber},
    HostImport{kWasiModule, "fd_seek", "iIii", "i", HostCall::kFdSeek},
    HostImport{kWasiModule, "fd_sync", "i", "i", HostCall::kFdSync},
    HostImport{kWasiModule, "fd_tell", "ii", "i", HostCall::kFdTell},
    HostImport{kWasiModule, "fd_write", "iiii", "i", HostCall::kFdWrite},
    HostImport{kWasiModule, "path_create_directory", "iii", "i", HostCall::kPathCreateDirectory},
    HostImport{kWasiModule, "path_filestat_get", "iiiii", "i", HostCall::kPathFilestatGet},
    HostImport{kWasiModule, "path_filestat_set_times", "iiiiIIi", "i",
               HostCall::kPathFilestatSetTimes},
    HostImport{kWasiModule, "path_link", "iiiiiii", "i", HostCall::kPathLink},
    HostImport{kWasiModule, "path_open", "iiiiiIIii", "i", HostCall::kPathOpen},
    HostImport{kWasiModule, "path_readlink", "iiiiii", "i", HostCall::kPathReadlink},
    HostImport{kWasiModule, "path_remove_directory", "iii", "i", HostCall::kPathRemoveDirectory},
    HostImport{kWasiModule, "path_rename", "iiiiii", "i", HostCall::kPathRename},
    HostImport{kWasiModule, "path_symlink", "iiiii", "i", HostCall::kPathSymlink},
    HostImport{kWasiModule, "path_unlink_file", "iii", "i", HostCall::kPathUnlinkFile},
    HostImport{kWasiModule, "poll_oneoff", "iiii", "i", HostCall::kPollOneoff},
    HostImport{kWasiModule, "proc_exit", "i", "", HostCall::kProcExit},
    HostImport{kWasiModule, "proc_raise", "i", "i", HostCall::kProcRaise},
    HostImport{kWasiModule, "random_get", "ii", "i", HostCall::kRandomGet},
    HostImport{kWasiModule, "sched_yield", "", "i", HostCall::kSchedYield},
    HostImport{kWasiModule, "sock_accept", "iii", "i", HostCall::kSockAccept},
    HostImport{kWasiModule, "sock_recv", "iiiiii", "i", HostCall::kSockRecv},
    HostImport{kWasiModule, "sock_send", "iiiii", "i", HostCall::kSockSend},
    HostImport{kWasiModule, "sock_shutdown", "ii", "i", HostCall::kSockShutdown},
    // nil: pointers and lengths are i32 (docs/abi.md, "The host interface: nil").
    HostImport{kNilModule, "log", "iii", "", HostCall::kNilLog},
    HostImport{kNilModule, "env", "ii", "i", HostCall::kNilEnv},
    HostImport{kNilModule, "http_fetch", "ii", "i", HostCall::kNilHttpFetch},
    HostImport{kNilModule, "db_query", "iiii", "i", HostCall::kNilDbQuery},
    HostImport{kNilModule, "result_read", "ii", "i", HostCall::kNilResultRead},
};

std::string_view type_name(char c) {
  switch (c) {
    case 'i':
      return "i32";
    case 'I':
      return "i64";
    case 'f':
      return "f32";
    case 'F':
      return "f64";
    default:
      return "?";
  }
}

std::string format_types(std::string_view letters) {
  std::string out = "(";
  for (size_t i = 0; i < letters.size(); ++i) {
    if (i) out += ", ";
    out += type_name(letters[i]);
  }
  return out + ")";
}

}  // namespace

HostTable host_interface() { return HostTable{kTable.data(), kTable.size()}; }

const HostImport* find_host_import(std::string_view module, std::string_view name) {
  for (const HostImport& row : kTable) {
    if (row.module == module && row.name == name) return &row;
  }
  return nullptr;
}

std::string format_signature(std::string_view params, std::string_view results) {
  return format_types(params) + " -> " + format_types(results);
}

int32_t nil_status_for(ErrorCode code) {
  if (code == ErrorCode::kNotFound) return nil_status::kNotFound;
  if (code == ErrorCode::kUnavailable) return nil_status::kUnavailable;
  if (code == ErrorCode::kInvalidRequest || code == ErrorCode::kMultipleStatements) {
    return nil_status::kInvalidRequest;
  }
  if (code == ErrorCode::kHostNotAllowed || code == ErrorCode::kAddressNotAllowed ||
      code == ErrorCode::kNotAuthorized || code == ErrorCode::kTransactionNotAllowed) {
    return nil_status::kForbidden;
  }
  if (code == ErrorCode::kTimeout) return nil_status::kTimeout;
  if (code == ErrorCode::kResponseTooLarge || code == ErrorCode::kTooLarge)
    return nil_status::kTooLarge;
  if (code == ErrorCode::kSqlError) return nil_status::kSqlError;
  return nil_status::kFailed;
}

}  // namespace nil::engine
