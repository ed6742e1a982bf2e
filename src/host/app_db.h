// nil.db_query behind the host interface (nil::host, private): the application database, SQLite
// files beside — never inside — the platform's own store. By default each function has its own
// file (HostConfig::app_db_dir/<function id>.db, created on first use); AppDbScope::kShared puts
// every function in the one file HostConfig::app_db.
//
// AppDb owns small pools of connections (WAL mode), one pool per database file, so a connection
// never moves between functions' files. An AppDb::Lease is one connection held by one invocation
// for its lifetime. Every statement runs in autocommit: explicit transaction control (BEGIN,
// COMMIT, SAVEPOINT…) is refused, so no invocation holds the write lock past one statement.
// Every statement runs with an authorizer (no ATTACH/DETACH ever; SQL functions from an
// allow-list only; PRAGMA from an allow-list and schema changes only with the db:ddl grant), a
// progress handler enforcing the statement timeout and the guest's deadline, bound parameters
// only, SQLite limits (SQLITE_LIMIT_LENGTH = the answer cap, so no value larger than an answer
// is ever built) and row/byte caps on the answer. A connection goes back to its pool only when
// it is as it was opened: one that ran a PRAGMA or holds a TEMP object is closed instead.
//
// Thread safety: AppDb is thread-safe; a Lease belongs to one thread at a time.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "host/host.h"

namespace nil::host {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteCloser>;

class AppDb {
 public:
  explicit AppDb(HostConfig cfg) : cfg_(std::move(cfg)) {}

  class Lease {
   public:
    Lease(AppDb* owner, std::string file, SqlitePtr db)
        : owner_(owner), file_(std::move(file)), db_(std::move(db)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    // Error codes: invalid_request, multiple_statements, not_authorized,
    // transaction_not_allowed, too_large, sql_error, timeout.
    Expected<std::string> query(std::string_view sql, std::string_view params_json, bool ddl,
                                std::chrono::steady_clock::time_point deadline);

   private:
    AppDb* owner_;
    std::string file_;  // the pool this connection returns to
    SqlitePtr db_;
    bool dirty_ = false;  // a PRAGMA ran: connection state differs from a fresh one
  };

  // A connection to the database of `function_id` (or the shared one). Error codes: unavailable.
  Expected<std::unique_ptr<Lease>> lease(std::string_view function_id);

  // The file a function's nil.db_query reaches; an error for an id unfit for a file name.
  Expected<std::filesystem::path> file_for(std::string_view function_id) const;

 private:
  Expected<SqlitePtr> open(const std::filesystem::path& file);
  void give_back(const std::string& file, SqlitePtr db);

  static constexpr size_t kMaxIdlePerFile = 4;
  static constexpr size_t kMaxIdleTotal = 64;
  const HostConfig cfg_;
  std::mutex mu_;
  std::map<std::string, std::vector<SqlitePtr>> idle_;  // by file; guarded by mu_
  size_t idle_total_ = 0;                               // guarded by mu_
};

}  // namespace nil::host
