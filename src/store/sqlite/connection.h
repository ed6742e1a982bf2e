// RAII over the SQLite C API, private to the SQLite backend.
//
// A Connection owns one sqlite3* and a cache of prepared statements keyed by SQL text. A
// Connection is NOT thread-safe: exactly one thread uses it at a time (SqliteStore hands out
// connections under a mutex). A Query borrows a cached statement and resets it (and clears its
// bindings) when it goes out of scope, so a finished read never pins a WAL snapshot.
//
// Every SQLite failure becomes Error{ErrorCode::kStorageError, "<what>: <sqlite3_errmsg>"}.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/expected.h"

namespace nil::store::sqlite {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

class Connection;

// One execution of a cached statement. Bind with 1-based indexes, then step() (rows) or run().
// Bind errors are remembered and reported by the next step()/run().
class Query {
 public:
  Query(Connection& conn, sqlite3_stmt* stmt) : conn_(&conn), stmt_(stmt) {}
  Query(Query&& o) noexcept : conn_(o.conn_), stmt_(o.stmt_), bind_rc_(o.bind_rc_) {
    o.stmt_ = nullptr;
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query& operator=(Query&&) = delete;
  ~Query();

  Query& bind(int i, std::string_view text);  // TEXT
  Query& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  Query& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Query& bind(int i, const std::optional<std::string>& text);  // TEXT or NULL
  // TEXT without a copy (SQLITE_STATIC): only when the bytes outlive every step of this binding
  // (a batch insert binding the rows of a span it is given). A copy per column was ~700
  // instructions, a sixth of the executions insert.
  Query& bind_static(int i, std::string_view text);
  Query& bind_static(int i, const std::string& text) {
    return bind_static(i, std::string_view(text));
  }
  Query& bind_static(int i, const std::optional<std::string>& text);
  Query& bind(int i, int64_t v);
  Query& bind(int i, double v);
  Query& bind_blob(int i, std::string_view bytes);
  Query& bind_null(int i);

  // true: a row is available; false: done.
  Expected<bool> step();
  // Steps to completion, ignoring any rows.
  Expected<void> run();
  // Makes the statement runnable again (to rebind and rerun it within one Query).
  void reset() { sqlite3_reset(stmt_); }

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const;  // TEXT or BLOB bytes; "" for NULL
  std::optional<std::string> opt_text(int col) const;

 private:
  Query& check_bind(int rc);

  Connection* conn_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

class Connection {
 public:
  struct Options {
    bool read_only = false;  // PRAGMA query_only: a reader can never write by mistake
    int busy_timeout_ms = 5000;
  };

  static Expected<std::unique_ptr<Connection>> open(const std::string& path, const Options& o);

  // Runs a script of one or more statements (migrations, BEGIN/COMMIT, pragmas).
  Expected<void> exec(const char* sql);
  // A Query over the cached statement for `sql` (prepared on first use).
  Expected<Query> query(const char* sql);

  int64_t changes() const { return sqlite3_changes64(db_.get()); }
  Error error(std::string_view what) const { return error(what, last_code()); }
  Error error(std::string_view what, int rc) const;
  int last_code() const { return sqlite3_extended_errcode(db_.get()); }
  sqlite3* raw() const { return db_.get(); }

 private:
  explicit Connection(DbHandle db) : db_(std::move(db)) {}

  DbHandle db_;
  // Keyed by the SQL text's address would be faster, but text keys keep it obviously correct.
  std::unordered_map<std::string, StmtHandle> cache_;
};

}  // namespace nil::store::sqlite
