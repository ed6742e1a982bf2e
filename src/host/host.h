// nil::host — the host services functions reach the world through (issue 4): env, http_fetch,
// db_query. The engine calls them through engine::HostServices; this component implements them.
//
// HostRuntime is shared by the whole server (the application database, HTTP client settings);
// for_invocation() makes the per-invocation HostServices that sees only what the function was
// granted: its environments' keys, its HTTP allow-list, its database grants.
//
// Thread safety: HostRuntime is thread-safe; a HostServices object belongs to one invocation.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/expected.h"
#include "engine/engine.h"

namespace nil::host {

// Which application database a function's nil.db_query reaches (docs/abi.md, db_query).
enum class AppDbScope {
  kFunction,  // each function its own SQLite file, <app_db_dir>/<function id>.db (the default)
  kShared,    // every function the one file app_db: functions read each other's tables
};

struct HostConfig {
  AppDbScope app_db_scope = AppDbScope::kFunction;
  std::filesystem::path app_db;  // the shared application database (kShared), never the platform's
  std::filesystem::path app_db_dir;  // per-function files (kFunction), created on first use
  bool http_allow_private = false;   // loopback/link-local/private targets allowed at all
  uint32_t http_timeout_ms = 5'000;  // default per fetch (never past the guest's deadline)
  uint64_t http_max_response_bytes = 1 << 20;
  int http_max_redirects = 3;
  uint32_t db_timeout_ms = 2'000;  // per statement
  uint32_t db_max_rows = 1'000;
  uint64_t db_max_bytes = 1 << 20;
};

// What one function may do.
struct FunctionGrants {
  std::string function_id;              // names its application database (AppDbScope::kFunction)
  std::vector<std::string> http_allow;  // hosts ("api.example.com", "127.0.0.1:8081"); empty: none
  bool db_ddl = false;                  // the "db:ddl" grant: schema changes, allow-listed PRAGMAs
};

class HostRuntime {
 public:
  explicit HostRuntime(HostConfig cfg);
  ~HostRuntime();
  std::unique_ptr<engine::HostServices> for_invocation(
      const FunctionGrants& grants, std::vector<std::pair<std::string, std::string>> env);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nil::host
