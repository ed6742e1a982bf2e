// RAII over libpq, private to the PostgreSQL backend.
//
// A Connection owns one PGconn and its prepared statements. It is NOT thread-safe: exactly one
// thread uses it at a time (Database hands connections out of a pool). The statements are written
// in the same dialect as the SQLite backend's ("?1" placeholders): query() rewrites "?N" into
// "$N" once, when it prepares the statement. Values are always bound parameters, never spliced
// into SQL text: strings in text format (their type inferred by the server from the statement),
// blobs in binary format as BYTEA. Results come back in text format; BYTEA columns are
// hex-decoded by text().
//
// Errors: a lost or refused connection (SQLSTATE class 08, admin shutdown 57P01..3, or a
// connection libpq reports bad) is Error{kStoreUnavailable}; every other failure is
// Error{kStorageError, "<what>: <server message>"}. The SQLSTATE of the last failure is kept so
// that Database can retry serialization failures and unique violations.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/expected.h"

namespace nil::store::postgres {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnHandle = std::unique_ptr<PGconn, ConnCloser>;
using ResultHandle = std::unique_ptr<PGresult, ResultClearer>;

class Connection;

// One execution of a statement. Bind with 1-based indexes, then step() (rows) or run(). The
// statement runs at the first step(); reset() keeps the bindings for a rebind-and-rerun.
class Query {
 public:
  // `prepared`: the name of a statement prepared on `conn`; empty: `sql` is sent unprepared.
  Query(Connection& conn, std::string prepared, std::string sql)
      : conn_(&conn), prepared_(std::move(prepared)), sql_(std::move(sql)) {}
  Query(Query&&) noexcept = default;
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query& operator=(Query&&) = delete;

  Query& bind(int i, std::string_view text);
  Query& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  Query& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Query& bind(int i, const std::optional<std::string>& text);
  // Same as bind: libpq copies nothing before the statement runs, so there is no copy to save.
  Query& bind_static(int i, std::string_view text) { return bind(i, text); }
  Query& bind_static(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Query& bind_static(int i, const std::optional<std::string>& text) { return bind(i, text); }
  Query& bind(int i, int64_t v);
  Query& bind(int i, double v);
  Query& bind_blob(int i, std::string_view bytes);
  Query& bind_null(int i);

  Expected<bool> step();
  Expected<void> run();
  void reset() {
    result_.reset();
    row_ = -1;
  }

  bool is_null(int col) const { return PQgetisnull(result_.get(), row_, col) != 0; }
  int64_t int64(int col) const;  // NULL → 0; a boolean reads 1/0
  double real(int col) const;
  std::string text(int col) const;  // BYTEA decoded; "" for NULL
  std::optional<std::string> opt_text(int col) const;
  // Rows changed by the statement (INSERT/UPDATE/DELETE), once it ran.
  int64_t changes() const;

 private:
  struct Param {
    std::string value;
    bool null = true;
    bool binary = false;
  };
  Param& slot(int i);

  Connection* conn_;
  std::string prepared_;
  std::string sql_;
  std::vector<Param> params_;
  ResultHandle result_;
  int row_ = -1;
};

class Connection {
 public:
  // `url`: a libpq connection URI (postgresql://user@host:port/db?...).
  static Expected<std::unique_ptr<Connection>> open(const std::string& url);

  // Runs a script of one or more statements without parameters (migrations, BEGIN/COMMIT).
  Expected<void> exec(const char* sql);
  // A Query over the prepared statement for `sql` (prepared on first use on this connection).
  Expected<Query> query(const char* sql);
  // A Query sent unprepared (statement text that varies, such as a multi-row INSERT).
  Query query_once(std::string sql);

  // The rows changed by the last statement run through a Query on this connection.
  int64_t changes() const { return changes_; }
  // SQLSTATE of the last failure ("" when it had none, e.g. a lost connection).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // The connection is gone (or was never made): Database reconnects it before reuse.
  bool broken() const;
  // Reconnects a broken connection; its prepared statements are gone with the old session.
  Expected<void> reconnect();

  // Internal to Query.
  Expected<ResultHandle> execute(const Query& q, const std::string& prepared,
                                 const std::string& sql, const std::vector<const char*>& values,
                                 const std::vector<int>& lengths, const std::vector<int>& formats);
  void set_changes(int64_t n) { changes_ = n; }

 private:
  explicit Connection(std::string url, ConnHandle conn)
      : url_(std::move(url)), conn_(std::move(conn)) {}
  Error failure(std::string_view what, const PGresult* r);
  Expected<ResultHandle> check(std::string_view what, PGresult* raw, ExecStatusType want);

  std::string url_;
  ConnHandle conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text → statement name
  int64_t changes_ = 0;
  std::string last_sqlstate_;
};

// "?N" placeholders → "$N" (the statements hold no '?' elsewhere: no literals, no JSON operators).
std::string to_dollar_params(std::string_view sql);

Error unavailable(std::string message);

}  // namespace nil::store::postgres
