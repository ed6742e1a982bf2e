#include "store/sqlite/connection.h"

#include <climits>

namespace nil::store::sqlite {

// --- Query --------------------------------------------------------------------------------------

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Query& Query::check_bind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::bind(int i, std::string_view text) {
  if (text.size() > static_cast<size_t>(INT_MAX)) return check_bind(SQLITE_TOOBIG);
  // SQLITE_TRANSIENT: the caller's buffer may die before the statement runs.
  return check_bind(
      sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
}

Query& Query::bind_static(int i, std::string_view text) {
  if (text.size() > static_cast<size_t>(INT_MAX)) return check_bind(SQLITE_TOOBIG);
  // A null data pointer would bind NULL; an empty string_view may have one.
  const char* data = text.data() != nullptr ? text.data() : "";
  return check_bind(
      sqlite3_bind_text(stmt_, i, data, static_cast<int>(text.size()), SQLITE_STATIC));
}

Query& Query::bind_static(int i, const std::optional<std::string>& text) {
  return text ? bind_static(i, std::string_view(*text)) : bind_null(i);
}

Query& Query::bind(int i, const std::optional<std::string>& text) {
  return text ? bind(i, std::string_view(*text)) : bind_null(i);
}

Query& Query::bind(int i, int64_t v) { return check_bind(sqlite3_bind_int64(stmt_, i, v)); }

Query& Query::bind(int i, double v) { return check_bind(sqlite3_bind_double(stmt_, i, v)); }

Query& Query::bind_blob(int i, std::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return check_bind(SQLITE_TOOBIG);
  // A zero-length blob must stay a blob, not NULL: sqlite3_bind_blob with a null pointer binds
  // NULL, so give it a valid address.
  const char* data = bytes.data() != nullptr ? bytes.data() : "";
  return check_bind(
      sqlite3_bind_blob(stmt_, i, data, static_cast<int>(bytes.size()), SQLITE_TRANSIENT));
}

Query& Query::bind_null(int i) { return check_bind(sqlite3_bind_null(stmt_, i)); }

Expected<bool> Query::step() {
  if (bind_rc_ != SQLITE_OK) return conn_->error("bind", bind_rc_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->error(sqlite3_sql(stmt_), rc);
}

Expected<void> Query::run() {
  while (true) {
    bool row = NIL_TRY(step());
    if (!row) return {};
  }
}

std::string Query::text(int col) const {
  // Ask for the bytes first, then the length (the documented safe order).
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

std::optional<std::string> Query::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

// --- Connection --------------------------------------------------------------------------------

Error Connection::error(std::string_view what, int rc) const {
  std::string msg(what);
  msg += ": ";
  // sqlite3_errmsg describes the most recent failure on this connection; when the code we hold
  // came from elsewhere (a bind), the generic text for that code is the honest message.
  if (db_ && sqlite3_extended_errcode(db_.get()) == rc) {
    msg += sqlite3_errmsg(db_.get());
  } else {
    msg += sqlite3_errstr(rc);
  }
  return make_error(ErrorCode::kStorageError, std::move(msg));
}

Expected<std::unique_ptr<Connection>> Connection::open(const std::string& path, const Options& o) {
  sqlite3* raw = nullptr;
  // NOMUTEX: SQLite's own per-connection mutex is redundant, the store serializes each
  // connection itself.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);  // sqlite3_open_v2 may allocate a handle even when it fails
  if (rc != SQLITE_OK) {
    std::string msg = "open " + path + ": ";
    msg += raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return make_error(ErrorCode::kStorageError, std::move(msg));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  std::unique_ptr<Connection> conn(new Connection(std::move(db)));
  sqlite3_busy_timeout(conn->raw(), o.busy_timeout_ms);
  NIL_TRY_VOID(conn->exec("PRAGMA foreign_keys = ON"));
  if (o.read_only) NIL_TRY_VOID(conn->exec("PRAGMA query_only = ON"));
  return conn;
}

Expected<void> Connection::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return {};
  std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  std::string what(sql);
  if (what.size() > 80) what = what.substr(0, 77) + "...";
  return make_error(ErrorCode::kStorageError, what + ": " + msg);
}

Expected<Query> Connection::query(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StmtHandle stmt(raw);
    if (rc != SQLITE_OK) return error(std::string("prepare ") + sql, rc);
    it = cache_.emplace(sql, std::move(stmt)).first;
  }
  return Query(*this, it->second.get());
}

}  // namespace nil::store::sqlite
