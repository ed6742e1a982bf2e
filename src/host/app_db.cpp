#include "host/app_db.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <cstring>
#include <filesystem>

namespace nil::host {
namespace {

using Clock = std::chrono::steady_clock;

struct StmtCloser {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtCloser>;

Error invalid(ErrorCode code, std::string message) { return make_error(code, std::move(message)); }

// SQL functions a guest statement may call (lower case). An allow-list, because SQLite builds
// add functions that must never be reachable: fts3_tokenizer (reads and, with two arguments,
// plants a native pointer an FTS query later calls), load_extension, sqlite_compileoption_*,
// the FTS3 and R*Tree debugging functions, fts5 (a pointer interface). Operators that SQLite
// compiles as functions are here too: LIKE, GLOB, MATCH, ->, ->>, CURRENT_TIMESTAMP.
bool function_allowed(std::string_view name) {
  // clang-format off
  static constexpr std::string_view kAllowed[] = {
      // core scalar
      "abs", "changes", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex",
      "ifnull", "iif", "instr", "last_insert_rowid", "length", "like", "likelihood", "likely",
      "lower", "ltrim", "max", "min", "nullif", "octet_length", "printf", "quote", "random",
      "randomblob", "replace", "round", "rtrim", "sign", "soundex", "sqlite_version", "substr",
      "substring", "total_changes", "trim", "typeof", "unhex", "unicode", "unistr",
      "unistr_quote", "unlikely", "upper", "zeroblob",
      // date and time
      "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff",
      "current_date", "current_time", "current_timestamp",
      // aggregate and window
      "avg", "count", "group_concat", "string_agg", "sum", "total", "row_number", "rank",
      "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value",
      "last_value", "nth_value",
      // math
      "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos",
      "cosh", "degrees", "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow",
      "power", "radians", "sin", "sinh", "sqrt", "tan", "tanh", "trunc",
      // JSON operators (json_* and jsonb_* below)
      "json", "jsonb", "->", "->>",
      // FTS5 (MATCH and its auxiliary functions; creating an FTS5 table needs db:ddl)
      "match", "bm25", "highlight", "snippet",
  };
  // clang-format on
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.starts_with("json_") || lower.starts_with("jsonb_")) return true;
  return std::find(std::begin(kAllowed), std::end(kAllowed), lower) != std::end(kAllowed);
}

// PRAGMAs a function with the db:ddl grant may run: introspection and per-file settings of its
// own database. Not the rest: journal_mode, locking_mode, synchronous, cache_size, mmap_size,
// trusted_schema, hard_heap_limit/soft_heap_limit (process-wide: they would throttle the
// platform's own store), temp_store_directory, query_only… change how nild runs the connection
// or the process.
bool pragma_allowed(std::string_view name) {
  // clang-format off
  static constexpr std::string_view kAllowed[] = {
      "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
      "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check", "user_version",
      "application_id", "foreign_keys", "defer_foreign_keys", "recursive_triggers", "optimize",
      "page_count", "freelist_count", "data_version", "collation_list",
  };
  // clang-format on
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kAllowed), std::end(kAllowed), lower) != std::end(kAllowed);
}

// What the authorizer sees of one guest statement.
struct AuthContext {
  bool ddl = false;
  bool pragma_ran = false;  // an allowed PRAGMA: the connection is not fresh any more
  std::string denied;       // the first action refused, for the error message
  ErrorCode code = ErrorCode::kNotAuthorized;  // its error code
  bool ddl_would_help = false;
};

int authorize(void* user, int action, const char* arg1, const char* arg2, const char*,
              const char*) {
  auto* auth = static_cast<AuthContext*>(user);
  std::string what;
  ErrorCode code = ErrorCode::kNotAuthorized;
  bool needs_ddl = false;
  switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      // Never, not even with db:ddl: ATTACH names a file on the server (the platform's store,
      // another tenant's data), which is outside the application database.
      what = action == SQLITE_ATTACH ? "ATTACH" : "DETACH";
      break;
    case SQLITE_FUNCTION:
      if (arg2 != nullptr && function_allowed(arg2)) return SQLITE_OK;
      what = std::string("the SQL function ") + (arg2 ? arg2 : "?") + "()";
      break;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      // Each statement is its own transaction: an explicit one would hold the database's write
      // lock across host calls (up to the function's timeout) and block every other writer.
      what = std::string(action == SQLITE_SAVEPOINT ? "SAVEPOINT/RELEASE " : "") +
             (arg1 ? arg1 : "transaction control");
      code = ErrorCode::kTransactionNotAllowed;
      break;
    case SQLITE_PRAGMA:
      // Reading the page size is harmless, and the R*Tree module asks for it when it opens a
      // table, on behalf of any function that queries one.
      if (arg1 != nullptr && arg2 == nullptr && sqlite3_stricmp(arg1, "page_size") == 0) {
        return SQLITE_OK;
      }
      what = std::string("PRAGMA ") + (arg1 ? arg1 : "");
      if (arg1 == nullptr || !pragma_allowed(arg1)) break;  // not even with db:ddl
      needs_ddl = true;
      break;
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_VTABLE:
      what = "CREATE";
      needs_ddl = true;
      break;
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_VIEW:
    case SQLITE_DROP_VTABLE:
      what = "DROP";
      needs_ddl = true;
      break;
    case SQLITE_ALTER_TABLE:
      what = "ALTER TABLE";
      needs_ddl = true;
      break;
    case SQLITE_REINDEX:
      what = "REINDEX";
      needs_ddl = true;
      break;
    case SQLITE_ANALYZE:
      what = "ANALYZE";
      needs_ddl = true;
      break;
    default:
      return SQLITE_OK;
  }
  if (needs_ddl && auth->ddl) {
    if (action == SQLITE_PRAGMA) auth->pragma_ran = true;
    return SQLITE_OK;
  }
  if (auth->denied.empty()) {
    auth->denied = what;
    auth->code = code;
    auth->ddl_would_help = needs_ddl;
  }
  return SQLITE_DENY;
}

struct ProgressContext {
  Clock::time_point deadline;
  bool expired = false;
};

int progress(void* user) {
  auto* p = static_cast<ProgressContext*>(user);
  if (Clock::now() >= p->deadline) {
    p->expired = true;
    return 1;  // interrupts the statement: SQLITE_INTERRUPT
  }
  return 0;
}

// The tail after the first statement may hold only whitespace, semicolons and comments.
bool only_trivia(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == ';') {
      ++i;
    } else if (s.substr(i, 2) == "--") {
      size_t nl = s.find('\n', i);
      if (nl == std::string_view::npos) return true;
      i = nl + 1;
    } else if (s.substr(i, 2) == "/*") {
      size_t end = s.find("*/", i + 2);
      if (end == std::string_view::npos) return true;  // SQLite accepts an unterminated comment
      i = end + 2;
    } else {
      return false;
    }
  }
  return true;
}

std::string base64(const unsigned char* data, size_t len) {
  std::string out(4 * ((len + 2) / 3), '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<size_t>(n));
  return out;
}

Expected<void> bind_params(sqlite3_stmt* stmt, std::string_view params_json) {
  boost::system::error_code ec;
  boost::json::value params = boost::json::parse(params_json, ec);
  if (ec) return invalid(ErrorCode::kInvalidRequest, "params are not JSON: " + ec.message());
  if (!params.is_array()) return invalid(ErrorCode::kInvalidRequest, "params must be a JSON array");
  const boost::json::array& list = params.as_array();
  int expected = sqlite3_bind_parameter_count(stmt);
  if (static_cast<int>(list.size()) != expected) {
    return invalid(ErrorCode::kInvalidRequest, "the statement has " + std::to_string(expected) +
                                                   " parameters; params has " +
                                                   std::to_string(list.size()));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    int at = static_cast<int>(i) + 1;
    const boost::json::value& v = list[i];
    int rc = SQLITE_OK;
    switch (v.kind()) {
      case boost::json::kind::null:
        rc = sqlite3_bind_null(stmt, at);
        break;
      case boost::json::kind::bool_:
        rc = sqlite3_bind_int(stmt, at, v.get_bool() ? 1 : 0);
        break;
      case boost::json::kind::int64:
        rc = sqlite3_bind_int64(stmt, at, v.get_int64());
        break;
      case boost::json::kind::uint64:
        rc = sqlite3_bind_double(stmt, at, static_cast<double>(v.get_uint64()));
        break;
      case boost::json::kind::double_:
        rc = sqlite3_bind_double(stmt, at, v.get_double());
        break;
      case boost::json::kind::string: {
        const boost::json::string& s = v.get_string();
        rc = sqlite3_bind_text64(stmt, at, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
      }
      default:
        return invalid(ErrorCode::kInvalidRequest,
                       "param " + std::to_string(at) +
                           " is an array or object; only null, booleans, "
                           "numbers and strings bind");
    }
    if (rc != SQLITE_OK) return invalid(ErrorCode::kInvalidRequest, sqlite3_errstr(rc));
  }
  return {};
}

// About how many bytes a column adds to the answer, read before the value is converted (the
// value itself is at most SQLITE_LIMIT_LENGTH, the answer cap).
size_t column_size(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
      return 20;
    case SQLITE_FLOAT:
      return 24;
    case SQLITE_TEXT:
      return static_cast<size_t>(sqlite3_column_bytes(stmt, col)) + 2;
    case SQLITE_BLOB:
      return 4 * ((static_cast<size_t>(sqlite3_column_bytes(stmt, col)) + 2) / 3) + 14;
    default:
      return 4;
  }
}

// A column value as JSON.
boost::json::value column_value(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
      return sqlite3_column_int64(stmt, col);
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, col);
    case SQLITE_TEXT: {
      const char* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      int n = sqlite3_column_bytes(stmt, col);
      return boost::json::string(text ? text : "", static_cast<size_t>(n));
    }
    case SQLITE_BLOB: {
      const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, col));
      int n = sqlite3_column_bytes(stmt, col);
      boost::json::object o;
      o["base64"] = base64(data, static_cast<size_t>(n));
      return o;
    }
    default:
      return nullptr;
  }
}

// Only the modules a guest has a use for stay registered; the rest of what Debian's SQLite
// builds in goes: fts3/fts4 (and fts3tokenize, fts4aux: the FTS3 tokenizer interface), dbstat
// (page-level layout, free pages), sqlite_stmt.
constexpr std::array<const char*, 6> kKeptModules = {"json_each", "json_tree", "fts5",
                                                     "rtree",     "rtree_i32", nullptr};

bool valid_function_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

}  // namespace

Expected<std::filesystem::path> AppDb::file_for(std::string_view function_id) const {
  if (cfg_.app_db_scope == AppDbScope::kShared) return cfg_.app_db;
  if (!valid_function_id(function_id)) {
    return make_error(ErrorCode::kUnavailable,
                      "the invocation names no function, so it has no application database");
  }
  return cfg_.app_db_dir / (std::string(function_id) + ".db");
}

Expected<SqlitePtr> AppDb::open(const std::filesystem::path& file) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(file.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  SqlitePtr db(raw);
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::kUnavailable,
                      "the application database cannot be opened: " +
                          std::string(raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_exec(db.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr, nullptr,
               nullptr);
  // Belt and braces next to the authorizer: no attached databases, no schema corruption
  // through writable_schema or shadow tables, no extensions, no functions with side effects
  // called from a schema, no FTS3 tokenizer pointers, no modules beyond kKeptModules.
  sqlite3_limit(db.get(), SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, nullptr);
  std::array<const char*, kKeptModules.size()> keep = kKeptModules;  // the API wants non-const
  sqlite3_drop_modules(db.get(), keep.data());
  // Memory: no string or blob (nor a row, nor the SQL) longer than an answer may be; Debian's
  // defaults are 1 GB each, so one randomblob() could take gigabytes before any cap applied.
  int length = static_cast<int>(std::clamp<uint64_t>(cfg_.db_max_bytes, 1024, 1'000'000'000));
  sqlite3_limit(db.get(), SQLITE_LIMIT_LENGTH, length);
  sqlite3_limit(db.get(), SQLITE_LIMIT_SQL_LENGTH, std::min(length, 1 << 20));
  sqlite3_limit(db.get(), SQLITE_LIMIT_VDBE_OP, 1'000'000);  // view/trigger expansion bombs
  sqlite3_limit(db.get(), SQLITE_LIMIT_TRIGGER_DEPTH, 100);
  sqlite3_limit(db.get(), SQLITE_LIMIT_VARIABLE_NUMBER, 32'766);
  sqlite3_limit(db.get(), SQLITE_LIMIT_WORKER_THREADS, 0);
  return db;
}

Expected<std::unique_ptr<AppDb::Lease>> AppDb::lease(std::string_view function_id) {
  std::filesystem::path file = NIL_TRY(file_for(function_id));
  std::string key = file.string();
  {
    std::lock_guard lock(mu_);
    if (auto it = idle_.find(key); it != idle_.end() && !it->second.empty()) {
      SqlitePtr db = std::move(it->second.back());
      it->second.pop_back();
      if (it->second.empty()) idle_.erase(it);
      --idle_total_;
      return std::make_unique<Lease>(this, std::move(key), std::move(db));
    }
  }
  SqlitePtr db = NIL_TRY(open(file));
  return std::make_unique<Lease>(this, std::move(key), std::move(db));
}

void AppDb::give_back(const std::string& file, SqlitePtr db) {
  std::lock_guard lock(mu_);
  if (idle_total_ >= kMaxIdleTotal) return;  // closed
  auto& pool = idle_[file];
  if (pool.size() >= kMaxIdlePerFile) return;
  pool.push_back(std::move(db));
  ++idle_total_;
}

namespace {

// Whether the connection holds TEMP tables, views, indexes or triggers (TEMP triggers fire on
// main-database writes: one left in a pooled connection would run in the next invocation).
bool has_temp_objects(sqlite3* db) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM temp.sqlite_schema LIMIT 1", -1, &raw, nullptr) !=
      SQLITE_OK) {
    return true;  // cannot tell: do not reuse
  }
  StmtPtr stmt(raw);
  return sqlite3_step(stmt.get()) != SQLITE_DONE;
}

}  // namespace

AppDb::Lease::~Lease() {
  if (!db_) return;
  // Statements run in autocommit, so nothing should be open; should one be, it dies here.
  if (!sqlite3_get_autocommit(db_.get())) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  // Back to the pool only as fresh as a new connection: the next invocation must not inherit
  // a PRAGMA's setting, a TEMP object or this one's last rowid.
  if (!sqlite3_get_autocommit(db_.get()) || dirty_ || has_temp_objects(db_.get())) return;
  sqlite3_set_last_insert_rowid(db_.get(), 0);
  owner_->give_back(file_, std::move(db_));
}

Expected<std::string> AppDb::Lease::query(std::string_view sql, std::string_view params_json,
                                          bool ddl, Clock::time_point deadline) {
  sqlite3* db = db_.get();
  const HostConfig& cfg = owner_->cfg_;
  auto stmt_deadline =
      std::min(deadline, Clock::now() + std::chrono::milliseconds(cfg.db_timeout_ms));
  auto remaining_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(stmt_deadline - Clock::now()).count();
  if (remaining_ms <= 0) return invalid(ErrorCode::kTimeout, "no time left for the statement");

  AuthContext auth;
  auth.ddl = ddl;
  ProgressContext prog;
  prog.deadline = stmt_deadline;
  sqlite3_set_authorizer(db, authorize, &auth);
  sqlite3_progress_handler(db, 1000, progress, &prog);
  sqlite3_busy_timeout(db, static_cast<int>(remaining_ms));
  // Whatever happens below, the handlers pointing at this frame are removed.
  struct Reset {
    sqlite3* db;
    ~Reset() {
      sqlite3_set_authorizer(db, nullptr, nullptr);
      sqlite3_progress_handler(db, 0, nullptr, nullptr);
    }
  } reset{db};

  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  if (sql.size() > static_cast<size_t>(sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, -1))) {
    return invalid(ErrorCode::kTooLarge,
                   "the statement is longer than " +
                       std::to_string(sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, -1)) + " bytes");
  }
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  StmtPtr stmt(raw);
  // Errors of prepare and step alike (ATTACH, for one, is refused only when it runs).
  auto failure = [&](int code) -> Error {
    if (auth.pragma_ran) dirty_ = true;
    if (prog.expired || code == SQLITE_INTERRUPT) {
      return invalid(ErrorCode::kTimeout, "the statement ran longer than " +
                                              std::to_string(remaining_ms) + " ms and was stopped");
    }
    if (code == SQLITE_AUTH || !auth.denied.empty()) {
      if (auth.denied.empty())
        return invalid(ErrorCode::kNotAuthorized, "this statement is not allowed");
      if (auth.code == ErrorCode::kTransactionNotAllowed) {
        return invalid(auth.code, auth.denied +
                                      " is not allowed: each db_query statement is its own "
                                      "transaction (write several rows in one statement)");
      }
      return invalid(auth.code, auth.denied + " is not allowed" +
                                    (auth.ddl_would_help ? " without the db:ddl grant" : ""));
    }
    if ((code & 0xff) == SQLITE_TOOBIG) {
      return invalid(ErrorCode::kTooLarge,
                     std::string(sqlite3_errmsg(db)) +
                         ": no value, row or statement "
                         "may be larger than " +
                         std::to_string(sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1)) +
                         " bytes (the answer cap)");
    }
    return invalid(ErrorCode::kSqlError, sqlite3_errmsg(db));
  };
  if (rc != SQLITE_OK) return failure(rc);
  if (!stmt) return invalid(ErrorCode::kInvalidRequest, "the SQL holds no statement");
  size_t used = static_cast<size_t>(tail - sql.data());
  if (!only_trivia(sql.substr(used))) {
    return invalid(
        ErrorCode::kMultipleStatements,
        "db_query runs exactly one statement; more follows at offset " + std::to_string(used));
  }
  if (auth.pragma_ran) dirty_ = true;
  if (auto bound = bind_params(stmt.get(), params_json); !bound.ok()) {
    if (sqlite3_errcode(db) == SQLITE_TOOBIG ||
        bound.error().message == sqlite3_errstr(SQLITE_TOOBIG)) {
      return invalid(ErrorCode::kTooLarge,
                     "a parameter is larger than " +
                         std::to_string(sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1)) +
                         " bytes (the answer cap)");
    }
    return bound.error();
  }

  boost::json::object answer;
  boost::json::array columns;
  int ncol = sqlite3_column_count(stmt.get());
  size_t bytes = 64;
  for (int i = 0; i < ncol; ++i) {
    const char* name = sqlite3_column_name(stmt.get(), i);
    columns.emplace_back(name ? name : "");
    bytes += (name ? std::strlen(name) : 0) + 3;
  }
  boost::json::array rows;
  bool truncated = false;
  for (;;) {
    rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return failure(rc);
    if (rows.size() >= cfg.db_max_rows) {
      truncated = true;
      break;
    }
    // Sized column by column before anything is converted: reading stops at the cap.
    size_t row_bytes = 2;
    for (int i = 0; i < ncol && bytes + row_bytes <= cfg.db_max_bytes; ++i) {
      row_bytes += column_size(stmt.get(), i) + 1;
    }
    if (bytes + row_bytes > cfg.db_max_bytes) {
      truncated = true;
      break;
    }
    boost::json::array row;
    for (int i = 0; i < ncol; ++i) row.push_back(column_value(stmt.get(), i));
    bytes += row_bytes;
    rows.push_back(std::move(row));
  }
  answer["columns"] = std::move(columns);
  answer["rows"] = std::move(rows);
  answer["rowsAffected"] = sqlite3_stmt_readonly(stmt.get()) ? 0 : sqlite3_changes64(db);
  answer["truncated"] = truncated;
  return boost::json::serialize(answer);
}

}  // namespace nil::host
