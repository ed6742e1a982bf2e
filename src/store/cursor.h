// List cursors, shared by every backend.
//
// A cursor is opaque to clients: base64url of a versioned, typed text naming the last item of
// the previous page, so a cursor for one list is rejected by another (invalid_cursor) and the
// format can change without old cursors being misread.
//   seq lists:   "<kind><seq>"            kind "f1:" functions, "v1:" environments, "u1:" users,
//                                          "g1:" groups, "k1:" API keys
//   executions:  "e1:<started_at>:<id>"   (a keyset: newest first by started_at, then id)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace nil::store::cursor {

inline constexpr std::string_view kFunctions = "f1:";
inline constexpr std::string_view kEnvironments = "v1:";
inline constexpr std::string_view kUsers = "u1:";
inline constexpr std::string_view kGroups = "g1:";
inline constexpr std::string_view kApiKeys = "k1:";

std::string encode_seq(std::string_view kind, int64_t seq);
// No cursor → 0 (start of the list). Anything not produced by encode_seq(kind, seq >= 0) →
// invalid_cursor.
Expected<int64_t> decode_seq(const std::optional<std::string>& cursor, std::string_view kind);

// The ordering key of an execution in a listing.
struct ExecutionKey {
  int64_t started_at = 0;
  std::string id;
  bool operator==(const ExecutionKey&) const = default;
};

std::string encode_execution(const ExecutionKey& key);
// No cursor → nullopt (start of the list); a malformed one → invalid_cursor.
Expected<std::optional<ExecutionKey>> decode_execution(const std::optional<std::string>& cursor);

}  // namespace nil::store::cursor
