// nil.db_query behind the host interface (nil::host, private): the application database, an
// SQLite file (HostConfig::app_db) beside — never inside — the platform's own store.
//
// AppDb owns a small pool of connections (WAL mode). An AppDb::Lease is one connection held by
// one invocation for its lifetime (so BEGIN ... COMMIT across calls works); returning it rolls
// back an open transaction. Every statement runs with an authorizer (no ATTACH/DETACH ever; no
// PRAGMA or schema change without the db:ddl grant), a progress handler enforcing the statement
// timeout and the guest's deadline, bound parameters only, and row/byte caps on the answer.
//
// Thread safety: AppDb is thread-safe; a Lease belongs to one thread at a time.
#pragma once

#include <sqlite3.h>

#include <chrono>
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
    Lease(AppDb* owner, SqlitePtr db) : owner_(owner), db_(std::move(db)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    // Error codes: invalid_request, multiple_statements, not_authorized, sql_error, timeout.
    Expected<std::string> query(std::string_view sql, std::string_view params_json, bool ddl,
                                std::chrono::steady_clock::time_point deadline);

   private:
    AppDb* owner_;
    SqlitePtr db_;
  };

  Expected<std::unique_ptr<Lease>> lease();

 private:
  Expected<SqlitePtr> open();
  void give_back(SqlitePtr db);

  static constexpr size_t kMaxIdle = 4;
  const HostConfig cfg_;
  std::mutex mu_;
  std::vector<SqlitePtr> idle_;  // guarded by mu_
};

}  // namespace nil::host
