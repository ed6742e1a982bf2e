// The CLI's failures and its exit codes (docs/cli.md): 0 ok, 1 error (server error, unreachable,
// authentication, local I/O), 2 usage (the command line is wrong: unknown command or option, bad
// --data JSON, a named file that does not exist), 3 the function failed (compile or execution).
#pragma once

#include <string>
#include <string_view>

#include "common/expected.h"

namespace nil::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFunctionFailed = 3;

inline Error usage_error(std::string msg) { return make_foreign_error("usage", std::move(msg)); }
inline Error failure(std::string msg) { return make_foreign_error("error", std::move(msg)); }
// The function failed; `msg` may be empty when the details were printed already.
inline Error function_failed(std::string msg) {
  return make_foreign_error("function_failed", std::move(msg));
}

// A route this server does not have (an older nild answers 404 route_not_found): says which
// feature and route are missing instead of "no route for …". Other errors pass through.
inline Error not_on_this_server(const Error& e, std::string_view what, std::string_view route) {
  if (e.wire_code() != "route_not_found") return e;
  return failure(std::string(what) + " are not available on this server (it has no " +
                 std::string(route) + ")");
}

inline int exit_code_for(const Error& e) {
  if (e.wire_code() == "usage") return kExitUsage;
  if (e.wire_code() == "function_failed") return kExitFunctionFailed;
  return kExitError;
}

}  // namespace nil::cli
