#include "store/store.h"

#include <string>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace nil::store {

std::string_view to_string(FunctionStatus s) {
  switch (s) {
    case FunctionStatus::kPending:
      return "PENDING";
    case FunctionStatus::kCompiling:
      return "COMPILING";
    case FunctionStatus::kReady:
      return "READY";
    case FunctionStatus::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

std::string_view to_string(CompileJobState s) {
  switch (s) {
    case CompileJobState::kPending:
      return "PENDING";
    case CompileJobState::kRunning:
      return "RUNNING";
  }
  return "UNKNOWN";
}

std::string_view to_string(ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::kSucceeded:
      return "SUCCEEDED";
    case ExecutionStatus::kFailed:
      return "FAILED";
    case ExecutionStatus::kQueued:
      return "QUEUED";
    case ExecutionStatus::kRunning:
      return "RUNNING";
  }
  return "UNKNOWN";
}

std::string_view to_string(Backoff b) { return b == Backoff::kFixed ? "fixed" : "exponential"; }

std::string_view to_string(Role r) { return r == Role::kAdmin ? "admin" : "dev"; }

std::optional<Role> parse_role(std::string_view s) {
  if (s == "admin") return Role::kAdmin;
  if (s == "dev") return Role::kDev;
  return std::nullopt;
}

Expected<std::unique_ptr<Store>> open_store(std::string_view url, const Clock& clock) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.starts_with(kSqlite)) {
    std::string path(url.substr(kSqlite.size()));
    if (path.empty()) {
      return make_error(ErrorCode::kInvalidStoreUrl,
                        "sqlite store URL needs a path: sqlite:/path/to/nil.db");
    }
    return sqlite::open_sqlite_store(path, {}, clock);
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return postgres::open_postgres_store(std::string(url), {}, clock);
  }
  return make_error(ErrorCode::kUnsupportedStore,
                    "unsupported store URL '" + std::string(url) +
                        "' (supported: sqlite:PATH, postgresql://user@host:port/db)");
}

std::string redact_store_url(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  size_t start = scheme + 3;
  size_t at = url.find('@', start);
  size_t slash = url.find('/', start);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) {
    return std::string(url);
  }
  size_t colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

}  // namespace nil::store
