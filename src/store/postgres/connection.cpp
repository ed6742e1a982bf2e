#include "store/postgres/connection.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace nil::store::postgres {
namespace {

constexpr Oid kByteaOid = 17;
constexpr Oid kBoolOid = 16;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A BYTEA in text output format: "\x" followed by hex digits (bytea_output = hex, set at connect).
std::string decode_bytea(const char* p, int n) {
  if (n >= 2 && p[0] == '\\' && p[1] == 'x') {
    std::string out;
    out.reserve(static_cast<size_t>(n - 2) / 2);
    for (int i = 2; i + 1 < n; i += 2) {
      out += static_cast<char>((hex_value(p[i]) << 4) | hex_value(p[i + 1]));
    }
    return out;
  }
  return std::string(p, static_cast<size_t>(n));
}

// Connection-level failures: the server is gone, refuses connections, or is shutting down.
bool is_unavailable_state(std::string_view sqlstate) {
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

}  // namespace

Error unavailable(std::string message) {
  return make_error(ErrorCode::kStoreUnavailable, "PostgreSQL unavailable: " + std::move(message));
}

std::string to_dollar_params(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] == '?' && i + 1 < sql.size() &&
        std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      out += '$';
    } else {
      out += sql[i];
    }
  }
  return out;
}

// --- Query --------------------------------------------------------------------------------------

Query::Param& Query::slot(int i) {
  if (params_.size() < static_cast<size_t>(i)) params_.resize(static_cast<size_t>(i));
  return params_[static_cast<size_t>(i - 1)];
}

Query& Query::bind(int i, std::string_view text) {
  Param& p = slot(i);
  p.value.assign(text.data(), text.size());
  p.null = false;
  p.binary = false;
  return *this;
}

Query& Query::bind(int i, const std::optional<std::string>& text) {
  return text ? bind(i, std::string_view(*text)) : bind_null(i);
}

Query& Query::bind(int i, int64_t v) { return bind(i, std::string_view(std::to_string(v))); }

Query& Query::bind(int i, double v) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  return bind(i, std::string_view(buf, static_cast<size_t>(n)));
}

Query& Query::bind_blob(int i, std::string_view bytes) {
  Param& p = slot(i);
  p.value.assign(bytes.data(), bytes.size());
  p.null = false;
  p.binary = true;
  return *this;
}

Query& Query::bind_null(int i) {
  Param& p = slot(i);
  p.value.clear();
  p.null = true;
  p.binary = false;
  return *this;
}

Expected<bool> Query::step() {
  if (!result_) {
    std::vector<const char*> values(params_.size());
    std::vector<int> lengths(params_.size());
    std::vector<int> formats(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      values[i] = params_[i].null ? nullptr : params_[i].value.c_str();
      lengths[i] = static_cast<int>(params_[i].value.size());
      formats[i] = params_[i].binary ? 1 : 0;
    }
    result_ = NIL_TRY(conn_->execute(*this, prepared_, sql_, values, lengths, formats));
    conn_->set_changes(changes());
    row_ = 0;
  } else {
    ++row_;
  }
  return row_ < PQntuples(result_.get());
}

Expected<void> Query::run() {
  NIL_TRY(step());
  return {};
}

int64_t Query::changes() const {
  if (!result_) return 0;
  const char* n = PQcmdTuples(result_.get());
  return n[0] == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

int64_t Query::int64(int col) const {
  if (is_null(col)) return 0;
  const char* v = PQgetvalue(result_.get(), row_, col);
  if (PQftype(result_.get(), col) == kBoolOid) return v[0] == 't' ? 1 : 0;
  return std::strtoll(v, nullptr, 10);
}

double Query::real(int col) const {
  if (is_null(col)) return 0;
  return std::strtod(PQgetvalue(result_.get(), row_, col), nullptr);
}

std::string Query::text(int col) const {
  if (is_null(col)) return {};
  const char* v = PQgetvalue(result_.get(), row_, col);
  int n = PQgetlength(result_.get(), row_, col);
  if (PQftype(result_.get(), col) == kByteaOid) return decode_bytea(v, n);
  return std::string(v, static_cast<size_t>(n));
}

std::optional<std::string> Query::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

// --- Connection --------------------------------------------------------------------------------

Expected<std::unique_ptr<Connection>> Connection::open(const std::string& url) {
  // Earlier keywords are overridden by the URL's own (expand_dbname): a URL may set its own.
  // Without them, a node whose database host is unreachable answers store_unavailable after
  // 3 s instead of hanging on the TCP connect, and a connection to a host that vanished without
  // closing it (a partition, a dead machine) is found dead by keepalives within ~11 s.
  const char* keys[] = {"connect_timeout",     "application_name", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "dbname",     nullptr};
  const char* values[] = {"3", "nild", "1", "5", "2", "3", url.c_str(), nullptr};
  ConnHandle conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!conn) return unavailable("out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return unavailable(msg);
  }
  std::unique_ptr<Connection> c(new Connection(url, std::move(conn)));
  // Times are BIGINT microseconds and blobs are decoded from hex: pin the settings that shape
  // text output so that a server or role default cannot change what we read.
  NIL_TRY_VOID(
      c->exec("SET bytea_output = 'hex'; SET extra_float_digits = 1; "
              "SET client_encoding = 'UTF8'"));
  return c;
}

bool Connection::broken() const { return !conn_ || PQstatus(conn_.get()) != CONNECTION_OK; }

Expected<void> Connection::reconnect() {
  prepared_.clear();
  auto fresh = NIL_TRY(open(url_));
  conn_ = std::move(fresh->conn_);
  return {};
}

Error Connection::failure(std::string_view what, const PGresult* r) {
  last_sqlstate_.clear();
  std::string msg;
  if (r != nullptr) {
    if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) last_sqlstate_ = s;
    if (const char* m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) msg = m;
  }
  if (msg.empty() && conn_) msg = PQerrorMessage(conn_.get());
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string text(what);
  if (text.size() > 120) text = text.substr(0, 117) + "...";
  if (broken() || is_unavailable_state(last_sqlstate_)) return unavailable(text + ": " + msg);
  return make_error(ErrorCode::kStorageError, text + ": " + msg);
}

Expected<ResultHandle> Connection::check(std::string_view what, PGresult* raw,
                                         ExecStatusType want) {
  ResultHandle r(raw);
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  (void)want;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    last_sqlstate_.clear();
    return r;
  }
  return failure(what, r.get());
}

Expected<void> Connection::exec(const char* sql) {
  if (broken()) return unavailable("connection lost");
  NIL_TRY(check(sql, PQexec(conn_.get(), sql), PGRES_COMMAND_OK));
  return {};
}

Expected<Query> Connection::query(const char* sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    if (broken()) return unavailable("connection lost");
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    std::string text = to_dollar_params(sql);
    NIL_TRY(check(std::string("prepare ") + sql,
                  PQprepare(conn_.get(), name.c_str(), text.c_str(), 0, nullptr),
                  PGRES_COMMAND_OK));
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  return Query(*this, it->second, sql);
}

Query Connection::query_once(std::string sql) { return Query(*this, "", std::move(sql)); }

Expected<ResultHandle> Connection::execute(const Query& /*q*/, const std::string& prepared,
                                           const std::string& sql,
                                           const std::vector<const char*>& values,
                                           const std::vector<int>& lengths,
                                           const std::vector<int>& formats) {
  if (broken()) return unavailable("connection lost");
  int n = static_cast<int>(values.size());
  PGresult* r = nullptr;
  if (prepared.empty()) {
    std::string text = to_dollar_params(sql);
    // Binary parameters are BYTEA; text ones are typed by the server (0 = infer).
    std::vector<Oid> types(values.size(), 0);
    for (size_t i = 0; i < values.size(); ++i) {
      if (formats[i] == 1) types[i] = kByteaOid;
    }
    r = PQexecParams(conn_.get(), text.c_str(), n, types.data(), values.data(), lengths.data(),
                     formats.data(), 0);
  } else {
    r = PQexecPrepared(conn_.get(), prepared.c_str(), n, values.data(), lengths.data(),
                       formats.data(), 0);
  }
  return check(sql, r, PGRES_TUPLES_OK);
}

}  // namespace nil::store::postgres
