#include "host/app_db.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <boost/json.hpp>
#include <filesystem>

namespace nil::host {
namespace {

using Clock = std::chrono::steady_clock;

struct StmtCloser {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtCloser>;

Error invalid(std::string code, std::string message) {
  return make_error(ErrorKind::kInvalidInput, std::move(code), std::move(message));
}

// What the authorizer sees of one guest statement.
struct AuthContext {
  bool ddl = false;
  std::string denied;  // the first action refused, for the error message
};

int authorize(void* user, int action, const char*, const char*, const char*, const char*) {
  auto* auth = static_cast<AuthContext*>(user);
  const char* what = nullptr;
  bool needs_ddl = false;
  switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      // Never, not even with db:ddl: ATTACH names a file on the server (the platform's store,
      // another tenant's data), which is outside the application database.
      what = action == SQLITE_ATTACH ? "ATTACH" : "DETACH";
      break;
    case SQLITE_PRAGMA: what = "PRAGMA"; needs_ddl = true; break;
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_VTABLE: what = "CREATE"; needs_ddl = true; break;
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_VIEW:
    case SQLITE_DROP_VTABLE: what = "DROP"; needs_ddl = true; break;
    case SQLITE_ALTER_TABLE: what = "ALTER TABLE"; needs_ddl = true; break;
    case SQLITE_REINDEX: what = "REINDEX"; needs_ddl = true; break;
    case SQLITE_ANALYZE: what = "ANALYZE"; needs_ddl = true; break;
    default: return SQLITE_OK;
  }
  if (needs_ddl && auth->ddl) return SQLITE_OK;
  if (auth->denied.empty()) auth->denied = what;
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
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<size_t>(n));
  return out;
}

Expected<void> bind_params(sqlite3_stmt* stmt, std::string_view params_json) {
  boost::system::error_code ec;
  boost::json::value params = boost::json::parse(params_json, ec);
  if (ec) return invalid("invalid_request", "params are not JSON: " + ec.message());
  if (!params.is_array()) return invalid("invalid_request", "params must be a JSON array");
  const boost::json::array& list = params.as_array();
  int expected = sqlite3_bind_parameter_count(stmt);
  if (static_cast<int>(list.size()) != expected) {
    return invalid("invalid_request", "the statement has " + std::to_string(expected) +
                                          " parameters; params has " +
                                          std::to_string(list.size()));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    int at = static_cast<int>(i) + 1;
    const boost::json::value& v = list[i];
    int rc = SQLITE_OK;
    switch (v.kind()) {
      case boost::json::kind::null: rc = sqlite3_bind_null(stmt, at); break;
      case boost::json::kind::bool_: rc = sqlite3_bind_int(stmt, at, v.get_bool() ? 1 : 0); break;
      case boost::json::kind::int64: rc = sqlite3_bind_int64(stmt, at, v.get_int64()); break;
      case boost::json::kind::uint64:
        rc = sqlite3_bind_double(stmt, at, static_cast<double>(v.get_uint64()));
        break;
      case boost::json::kind::double_: rc = sqlite3_bind_double(stmt, at, v.get_double()); break;
      case boost::json::kind::string: {
        const boost::json::string& s = v.get_string();
        rc = sqlite3_bind_text64(stmt, at, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
      }
      default:
        return invalid("invalid_request", "param " + std::to_string(at) +
                                              " is an array or object; only null, booleans, "
                                              "numbers and strings bind");
    }
    if (rc != SQLITE_OK) return invalid("invalid_request", sqlite3_errstr(rc));
  }
  return {};
}

// A column value as JSON and a rough count of its bytes in the answer.
boost::json::value column_value(sqlite3_stmt* stmt, int col, size_t* bytes) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER: *bytes += 20; return sqlite3_column_int64(stmt, col);
    case SQLITE_FLOAT: *bytes += 24; return sqlite3_column_double(stmt, col);
    case SQLITE_TEXT: {
      const char* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      int n = sqlite3_column_bytes(stmt, col);
      *bytes += static_cast<size_t>(n) + 2;
      return boost::json::string(text ? text : "", static_cast<size_t>(n));
    }
    case SQLITE_BLOB: {
      const auto* data = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, col));
      int n = sqlite3_column_bytes(stmt, col);
      boost::json::object o;
      o["base64"] = base64(data, static_cast<size_t>(n));
      *bytes += o["base64"].as_string().size() + 12;
      return o;
    }
    default: *bytes += 4; return nullptr;
  }
}

}  // namespace

Expected<SqlitePtr> AppDb::open() {
  std::error_code ec;
  if (cfg_.app_db.has_parent_path()) std::filesystem::create_directories(cfg_.app_db.parent_path(), ec);
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(cfg_.app_db.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  SqlitePtr db(raw);
  if (rc != SQLITE_OK) {
    return make_error(ErrorKind::kUnavailable, "unavailable",
                      "the application database cannot be opened: " +
                          std::string(raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_exec(db.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr, nullptr,
               nullptr);
  // Belt and braces next to the authorizer: no attached databases, no schema corruption
  // through writable_schema, no extensions.
  sqlite3_limit(db.get(), SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  return db;
}

Expected<std::unique_ptr<AppDb::Lease>> AppDb::lease() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      SqlitePtr db = std::move(idle_.back());
      idle_.pop_back();
      return std::make_unique<Lease>(this, std::move(db));
    }
  }
  SqlitePtr db = NIL_TRY(open());
  return std::make_unique<Lease>(this, std::move(db));
}

void AppDb::give_back(SqlitePtr db) {
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(db));
}

AppDb::Lease::~Lease() {
  if (!db_) return;
  // A transaction the invocation left open dies with it.
  if (!sqlite3_get_autocommit(db_.get())) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  if (sqlite3_get_autocommit(db_.get())) owner_->give_back(std::move(db_));
}

Expected<std::string> AppDb::Lease::query(std::string_view sql, std::string_view params_json,
                                          bool ddl, Clock::time_point deadline) {
  sqlite3* db = db_.get();
  const HostConfig& cfg = owner_->cfg_;
  auto stmt_deadline = std::min(deadline, Clock::now() + std::chrono::milliseconds(cfg.db_timeout_ms));
  auto remaining_ms = std::chrono::duration_cast<std::chrono::milliseconds>(stmt_deadline - Clock::now()).count();
  if (remaining_ms <= 0) return invalid("timeout", "no time left for the statement");

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
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  StmtPtr stmt(raw);
  // Errors of prepare and step alike (ATTACH, for one, is refused only when it runs).
  auto failure = [&](int code) -> Error {
    if (prog.expired || code == SQLITE_INTERRUPT) {
      return invalid("timeout", "the statement ran longer than " + std::to_string(remaining_ms) +
                                    " ms and was stopped");
    }
    if (code == SQLITE_AUTH || !auth.denied.empty()) {
      std::string what = auth.denied.empty() ? "this statement" : auth.denied;
      return invalid("not_authorized",
                     what + " is not allowed" +
                         (what == "ATTACH" || what == "DETACH"
                              ? std::string()
                              : std::string(" without the db:ddl grant")));
    }
    return invalid("sql_error", sqlite3_errmsg(db));
  };
  if (rc != SQLITE_OK) return failure(rc);
  if (!stmt) return invalid("invalid_request", "the SQL holds no statement");
  size_t used = static_cast<size_t>(tail - sql.data());
  if (!only_trivia(sql.substr(used))) {
    return invalid("multiple_statements",
                   "db_query runs exactly one statement; more follows at offset " +
                       std::to_string(used));
  }
  NIL_TRY_VOID(bind_params(stmt.get(), params_json));

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
    boost::json::array row;
    size_t row_bytes = 2;
    for (int i = 0; i < ncol; ++i) row.push_back(column_value(stmt.get(), i, &row_bytes));
    if (bytes + row_bytes > cfg.db_max_bytes) {
      truncated = true;
      break;
    }
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
