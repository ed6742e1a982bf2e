// nil::ErrorCode — the stable codes of NIL's errors, generated from common/error_codes.inc.
//
// The .inc file is the one list: it gives each code its enumerator, its wire string, the HTTP
// status and title src/api/problem.cpp answers with, its scope (who sees it, where it is
// documented) and a one-line meaning. Code compares ErrorCode values, never wire strings;
// tests/common/error_codes_test.cpp checks the list against docs/errors.md and docs/abi.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>

namespace nil {

enum class ErrorScope : uint8_t {
  kHttp,      // an HTTP problem code (docs/errors.md, first table)
  kModule,    // a module validation code (docs/errors.md, "Module validation")
  kHost,      // a host-call result code a guest reads (docs/abi.md)
  kInternal,  // stays inside the server (docs/errors.md, "Codes inside the server")
};

enum class ErrorCode : uint16_t {
#define NIL_ERROR_CODE(name, wire, status, title, scope, meaning) name,
#include "common/error_codes.inc"
  // Not a code of this process: Error::foreign_code holds the wire string (the CLI carries the
  // codes a server answered it with, and its own). Never used by the server.
  kForeign,
};

struct ErrorCodeInfo {
  ErrorCode code;
  std::string_view wire;
  int http_status;
  std::string_view title;
  ErrorScope scope;
  std::string_view meaning;
};

inline constexpr ErrorCodeInfo kErrorCodes[] = {
#define NIL_ERROR_CODE(name, wire, status, title, scope, meaning) \
  {ErrorCode::name, wire, status, title, ErrorScope::k##scope, meaning},
#include "common/error_codes.inc"
};
inline constexpr size_t kErrorCodeCount = sizeof(kErrorCodes) / sizeof(kErrorCodes[0]);
static_assert(static_cast<size_t>(ErrorCode::kForeign) == kErrorCodeCount);

// The row of `code`; kForeign has none and gets internal_error's (a server never answers it).
constexpr const ErrorCodeInfo& info(ErrorCode code) {
  size_t i = static_cast<size_t>(code);
  if (i >= kErrorCodeCount) i = static_cast<size_t>(ErrorCode::kInternalError);
  return kErrorCodes[i];
}
constexpr std::string_view to_string(ErrorCode code) {
  return code == ErrorCode::kForeign ? "" : info(code).wire;
}
constexpr int http_status(ErrorCode code) { return info(code).http_status; }

// Prints the wire code (gtest failure messages, streams).
std::ostream& operator<<(std::ostream& os, ErrorCode code);

}  // namespace nil
