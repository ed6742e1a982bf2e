#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <set>
#include <type_traits>
#include <vector>

#include "common/util.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"

namespace nil::store::sqlite {
namespace {

constexpr uint32_t kMaxPageLimit = 200;
constexpr int64_t kMaxQueueStatsJobs = 100;

uint32_t clamp_limit(uint32_t limit) { return std::clamp<uint32_t>(limit, 1, kMaxPageLimit); }

Error function_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "function_not_found",
                    "no function with id or name '" + std::string(ref) + "'");
}

Error environment_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "environment_not_found",
                    "no environment with id or name '" + std::string(ref) + "'");
}

Error corrupt(std::string_view what, std::string_view value) {
  return make_error(ErrorKind::kInternal, "storage_error",
                    std::string("unexpected ") + std::string(what) + " '" + std::string(value) +
                        "' in the database");
}

Error invalid_cursor() {
  return make_error(ErrorKind::kInvalidInput, "invalid_cursor",
                    "the cursor is not one this server produced");
}

Expected<FunctionStatus> parse_function_status(const std::string& s) {
  if (s == "PENDING") return FunctionStatus::kPending;
  if (s == "COMPILING") return FunctionStatus::kCompiling;
  if (s == "READY") return FunctionStatus::kReady;
  if (s == "FAILED") return FunctionStatus::kFailed;
  return corrupt("function status", s);
}

Expected<CompileJobState> parse_job_state(const std::string& s) {
  if (s == "PENDING") return CompileJobState::kPending;
  if (s == "RUNNING") return CompileJobState::kRunning;
  return corrupt("compile job state", s);
}

Expected<ExecutionStatus> parse_execution_status(const std::string& s) {
  if (s == "SUCCEEDED") return ExecutionStatus::kSucceeded;
  if (s == "FAILED") return ExecutionStatus::kFailed;
  return corrupt("execution status", s);
}

bool parse_int64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Cursors are opaque to clients: base64url of a versioned, typed text, so a cursor for one list
// is rejected by another and the format can change without breaking old clients silently.
//   functions:  "f1:<seq>"            (the last item's seq; the next page has seq > it)
//   executions: "e1:<started_at>:<id>" (the last item's key; the next page sorts after it)
//   environments: "v1:<seq>"
std::string seq_cursor(std::string_view prefix, int64_t seq) {
  return base64url_encode(std::string(prefix) + std::to_string(seq));
}
std::string function_cursor(int64_t seq) { return seq_cursor("f1:", seq); }

Expected<int64_t> parse_seq_cursor(const std::optional<std::string>& cursor,
                                   std::string_view prefix) {
  if (!cursor) return int64_t{0};
  auto raw = base64url_decode(*cursor);
  if (!raw || !raw->starts_with(prefix)) return invalid_cursor();
  int64_t seq = 0;
  if (!parse_int64(std::string_view(*raw).substr(prefix.size()), seq) || seq < 0) {
    return invalid_cursor();
  }
  return seq;
}

Expected<int64_t> parse_function_cursor(const std::optional<std::string>& cursor) {
  return parse_seq_cursor(cursor, "f1:");
}

// functions.http_allow / grants: newline-separated tokens, '' for none.
std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += '\n';
    out += i;
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

struct ExecutionKey {
  int64_t started_at = 0;
  std::string id;
};

std::string execution_cursor(const Execution& e) {
  return base64url_encode("e1:" + std::to_string(e.started_at) + ":" + e.id);
}

Expected<std::optional<ExecutionKey>> parse_execution_cursor(
    const std::optional<std::string>& cursor) {
  if (!cursor) return std::optional<ExecutionKey>{};
  auto raw = base64url_decode(*cursor);
  if (!raw || !raw->starts_with("e1:")) return invalid_cursor();
  std::string_view rest = std::string_view(*raw).substr(3);
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return invalid_cursor();
  ExecutionKey key;
  if (!parse_int64(rest.substr(0, colon), key.started_at)) return invalid_cursor();
  key.id = std::string(rest.substr(colon + 1));
  if (key.id.empty()) return invalid_cursor();
  return std::optional<ExecutionKey>(std::move(key));
}

// --- row mapping -------------------------------------------------------------------------------

#define NIL_FUNCTION_COLUMNS                                                                 \
  "id, name, language, status, compile_error, wasm_sha256, timeout_ms, memory_mb, version, " \
  "created_at, updated_at, seq, http_allow, grants, public, owner_id, managers"

// Reads NIL_FUNCTION_COLUMNS from the current row; `seq` receives the ordering key.
Expected<Function> read_function(const Query& q, int64_t* seq = nullptr) {
  Function f;
  f.id = q.text(0);
  f.name = q.text(1);
  f.language = q.text(2);
  f.status = NIL_TRY(parse_function_status(q.text(3)));
  f.compile_error = q.opt_text(4);
  f.wasm_sha256 = q.opt_text(5);
  f.limits.timeout_ms = static_cast<uint32_t>(q.int64(6));
  f.limits.memory_mb = static_cast<uint32_t>(q.int64(7));
  f.version = q.int64(8);
  f.created_at = q.int64(9);
  f.updated_at = q.int64(10);
  if (seq != nullptr) *seq = q.int64(11);
  f.access.http_allow = split_lines(q.text(12));
  f.access.grants = split_lines(q.text(13));
  f.is_public = q.int64(14) != 0;
  f.owner_id = q.opt_text(15);
  f.managers = split_lines(q.text(16));
  return f;
}

#define NIL_EXECUTION_COLUMNS                                                              \
  "id, function_id, status, input, output, error_type, error_message, logs, duration_ms, " \
  "started_at, finished_at, \"trigger\", host_calls, user_id"

Expected<Execution> read_execution(const Query& q) {
  Execution e;
  e.id = q.text(0);
  e.function_id = q.text(1);
  e.status = NIL_TRY(parse_execution_status(q.text(2)));
  e.input = q.text(3);
  e.output = q.opt_text(4);
  if (!q.is_null(5)) e.error = ExecutionError{q.text(5), q.text(6)};
  e.logs = q.text(7);
  e.duration_ms = q.real(8);
  e.started_at = q.int64(9);
  e.finished_at = q.int64(10);
  e.trigger = q.text(11);
  e.host_calls = q.opt_text(12);
  e.user_id = q.opt_text(13);
  return e;
}

#define NIL_JOB_COLUMNS                                                                \
  "j.id, j.function_id, f.name, j.function_version, j.language, j.state, j.attempts, " \
  "j.claimed_by, j.enqueued_at, j.claimed_at, j.lease_until"

Expected<CompileJob> read_job(const Query& q) {
  CompileJob j;
  j.id = q.text(0);
  j.function_id = q.text(1);
  j.function_name = q.text(2);
  j.function_version = q.int64(3);
  j.language = q.text(4);
  j.state = NIL_TRY(parse_job_state(q.text(5)));
  j.attempts = static_cast<int>(q.int64(6));
  j.claimed_by = q.text(7);
  j.enqueued_at = q.int64(8);
  j.claimed_at = q.int64(9);    // NULL reads as 0
  j.lease_until = q.int64(10);  // NULL reads as 0
  return j;
}

// --- statements shared by several operations ---------------------------------------------------

// The names of the environments attached to a function, in order.
Expected<void> load_attached_names(Connection& c, Function& f) {
  auto q = NIL_TRY(c.query("SELECT e.name FROM function_environments fe "
                           "JOIN environments e ON e.id = fe.environment_id "
                           "WHERE fe.function_id = ?1 ORDER BY fe.position"));
  q.bind(1, f.id);
  f.access.environments.clear();
  while (NIL_TRY(q.step())) f.access.environments.push_back(q.text(0));
  return {};
}

// --- access lists ------------------------------------------------------------------------------

// The two tables of one resource kind's access lists.
struct AclTables {
  const char* select_users;   // ?1 = resource id → user_id rows
  const char* select_groups;  // ?1 = resource id → group_id rows
  const char* delete_users;
  const char* delete_groups;
  const char* insert_user;   // ?1 resource id, ?2 user id
  const char* insert_group;  // ?1 resource id, ?2 group id
};

constexpr AclTables kFunctionAcl{
    "SELECT user_id FROM function_allowed_users WHERE function_id = ?1 ORDER BY rowid",
    "SELECT group_id FROM function_allowed_groups WHERE function_id = ?1 ORDER BY rowid",
    "DELETE FROM function_allowed_users WHERE function_id = ?1",
    "DELETE FROM function_allowed_groups WHERE function_id = ?1",
    "INSERT OR IGNORE INTO function_allowed_users (function_id, user_id) VALUES (?1, ?2)",
    "INSERT OR IGNORE INTO function_allowed_groups (function_id, group_id) VALUES (?1, ?2)"};

constexpr AclTables kEnvironmentAcl{
    "SELECT user_id FROM environment_allowed_users WHERE environment_id = ?1 ORDER BY rowid",
    "SELECT group_id FROM environment_allowed_groups WHERE environment_id = ?1 ORDER BY rowid",
    "DELETE FROM environment_allowed_users WHERE environment_id = ?1",
    "DELETE FROM environment_allowed_groups WHERE environment_id = ?1",
    "INSERT OR IGNORE INTO environment_allowed_users (environment_id, user_id) VALUES (?1, ?2)",
    "INSERT OR IGNORE INTO environment_allowed_groups (environment_id, group_id) VALUES (?1, ?2)"};

Expected<AccessList> load_acl(Connection& c, const AclTables& t, std::string_view id) {
  AccessList a;
  {
    auto q = NIL_TRY(c.query(t.select_users));
    q.bind(1, id);
    while (NIL_TRY(q.step())) a.users.push_back(q.text(0));
  }
  auto q = NIL_TRY(c.query(t.select_groups));
  q.bind(1, id);
  while (NIL_TRY(q.step())) a.groups.push_back(q.text(0));
  return a;
}

// A user id for an id or a username; unknown → `code` (400 on writes of access lists).
Expected<std::optional<std::string>> find_user_id(Connection& c, std::string_view ref) {
  auto q = NIL_TRY(c.query("SELECT id FROM users WHERE id = ?1 OR username = ?1 "
                           "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
  q.bind(1, ref);
  if (!NIL_TRY(q.step())) return std::optional<std::string>{};
  return std::optional<std::string>(q.text(0));
}

Expected<std::optional<std::string>> find_group_id(Connection& c, std::string_view ref) {
  auto q = NIL_TRY(c.query("SELECT id FROM groups WHERE id = ?1 OR name = ?1 "
                           "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
  q.bind(1, ref);
  if (!NIL_TRY(q.step())) return std::optional<std::string>{};
  return std::optional<std::string>(q.text(0));
}

Expected<void> write_acl_users(Connection& c, const AclTables& t, std::string_view id,
                               const std::vector<std::string>& refs) {
  std::vector<std::string> ids;
  for (const auto& ref : refs) {
    auto uid = NIL_TRY(find_user_id(c, ref));
    if (!uid) {
      return make_error(ErrorKind::kInvalidInput, "unknown_user",
                        "no user with id or username '" + ref + "'");
    }
    ids.push_back(std::move(*uid));
  }
  {
    auto del = NIL_TRY(c.query(t.delete_users));
    del.bind(1, id);
    NIL_TRY_VOID(del.run());
  }
  auto q = NIL_TRY(c.query(t.insert_user));
  for (const auto& uid : ids) {
    q.bind(1, id).bind(2, uid);
    NIL_TRY_VOID(q.run());
    q.reset();
  }
  return {};
}

Expected<void> write_acl_groups(Connection& c, const AclTables& t, std::string_view id,
                                const std::vector<std::string>& refs) {
  std::vector<std::string> ids;
  for (const auto& ref : refs) {
    auto gid = NIL_TRY(find_group_id(c, ref));
    if (!gid) {
      return make_error(ErrorKind::kInvalidInput, "unknown_group",
                        "no group with id or name '" + ref + "'");
    }
    ids.push_back(std::move(*gid));
  }
  {
    auto del = NIL_TRY(c.query(t.delete_groups));
    del.bind(1, id);
    NIL_TRY_VOID(del.run());
  }
  auto q = NIL_TRY(c.query(t.insert_group));
  for (const auto& gid : ids) {
    q.bind(1, id).bind(2, gid);
    NIL_TRY_VOID(q.run());
    q.reset();
  }
  return {};
}

// Resolves `ref` as an id first, then as a name (an id match wins should a name look like an id).
Expected<Function> load_function(Connection& c, std::string_view ref) {
  Function f;
  {
    auto q = NIL_TRY(c.query("SELECT " NIL_FUNCTION_COLUMNS " FROM functions "
                             "WHERE id = ?1 OR name = ?1 "
                             "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) return function_not_found(ref);
    f = NIL_TRY(read_function(q));
  }
  NIL_TRY_VOID(load_attached_names(c, f));
  f.allowed = NIL_TRY(load_acl(c, kFunctionAcl, f.id));
  return f;
}

// --- environments ------------------------------------------------------------------------------

Expected<std::optional<std::string>> find_environment_id(Connection& c, std::string_view ref) {
  auto q = NIL_TRY(c.query("SELECT id FROM environments WHERE id = ?1 OR name = ?1 "
                           "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
  q.bind(1, ref);
  if (!NIL_TRY(q.step())) return std::optional<std::string>{};
  return std::optional<std::string>(q.text(0));
}

Expected<void> load_vars(Connection& c, Environment& e) {
  auto q = NIL_TRY(c.query("SELECT key, value, secret FROM environment_vars "
                           "WHERE environment_id = ?1 ORDER BY position"));
  q.bind(1, e.id);
  e.vars.clear();
  while (NIL_TRY(q.step())) e.vars.push_back(EnvironmentVar{q.text(0), q.text(1), q.int64(2) != 0});
  return {};
}

#define NIL_ENVIRONMENT_COLUMNS "id, name, created_at, updated_at, seq"

Environment read_environment(const Query& q, int64_t* seq = nullptr) {
  Environment e;
  e.id = q.text(0);
  e.name = q.text(1);
  e.created_at = q.int64(2);
  e.updated_at = q.int64(3);
  if (seq != nullptr) *seq = q.int64(4);
  return e;
}

Expected<Environment> load_environment(Connection& c, std::string_view ref) {
  Environment e;
  {
    auto q = NIL_TRY(c.query("SELECT " NIL_ENVIRONMENT_COLUMNS " FROM environments "
                             "WHERE id = ?1 OR name = ?1 "
                             "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) return environment_not_found(ref);
    e = read_environment(q);
  }
  NIL_TRY_VOID(load_vars(c, e));
  e.allowed = NIL_TRY(load_acl(c, kEnvironmentAcl, e.id));
  return e;
}

Expected<void> write_vars(Connection& c, std::string_view environment_id,
                          const std::vector<EnvironmentVar>& vars) {
  std::set<std::string_view> keys;
  for (const auto& v : vars) {
    if (!keys.insert(v.key).second) {
      return make_error(ErrorKind::kInvalidInput, "duplicate_env_key",
                        "key '" + v.key + "' appears twice");
    }
  }
  {
    auto del = NIL_TRY(c.query("DELETE FROM environment_vars WHERE environment_id = ?1"));
    del.bind(1, environment_id);
    NIL_TRY_VOID(del.run());
  }
  auto q = NIL_TRY(c.query("INSERT INTO environment_vars (environment_id, position, key, value, "
                           "secret) VALUES (?1, ?2, ?3, ?4, ?5)"));
  int64_t position = 0;
  for (const auto& v : vars) {
    q.bind(1, environment_id).bind(2, position++).bind(3, v.key).bind(4, v.value);
    q.bind(5, int64_t{v.secret ? 1 : 0});
    NIL_TRY_VOID(q.run());
    q.reset();
  }
  return {};
}

Expected<void> check_environment_name_free(Connection& c, std::string_view name) {
  auto q = NIL_TRY(c.query("SELECT 1 FROM environments WHERE name = ?1"));
  q.bind(1, name);
  if (NIL_TRY(q.step())) {
    return make_error(ErrorKind::kConflict, "name_taken",
                      "an environment named '" + std::string(name) + "' already exists");
  }
  return {};
}

// Replaces a function's attachment list; every ref must name an existing environment.
Expected<void> attach_environments(Connection& c, std::string_view function_id,
                                   const std::vector<std::string>& refs) {
  std::vector<std::string> ids;
  for (const auto& ref : refs) {
    auto id = NIL_TRY(find_environment_id(c, ref));
    if (!id) {
      return make_error(ErrorKind::kInvalidInput, "unknown_environment",
                        "no environment with id or name '" + ref + "'");
    }
    ids.push_back(std::move(*id));
  }
  {
    auto del = NIL_TRY(c.query("DELETE FROM function_environments WHERE function_id = ?1"));
    del.bind(1, function_id);
    NIL_TRY_VOID(del.run());
  }
  auto q = NIL_TRY(c.query("INSERT INTO function_environments (function_id, position, "
                           "environment_id) VALUES (?1, ?2, ?3)"));
  int64_t position = 0;
  for (const auto& id : ids) {
    q.bind(1, function_id).bind(2, position++).bind(3, id);
    NIL_TRY_VOID(q.run());
    q.reset();
  }
  return {};
}

Expected<int64_t> next_counter(Connection& c, const char* name) {
  auto q =
      NIL_TRY(c.query("UPDATE counters SET value = value + 1 WHERE name = ?1 RETURNING value"));
  q.bind(1, name);
  if (!NIL_TRY(q.step())) {
    return make_error(ErrorKind::kInternal, "storage_error",
                      std::string("missing counter ") + name);
  }
  int64_t v = q.int64(0);
  NIL_TRY_VOID(q.run());
  return v;
}

Expected<void> enqueue_compile_job(Connection& c, const Function& f, int64_t now) {
  int64_t seq = NIL_TRY(next_counter(c, "compile_jobs_seq"));
  auto q = NIL_TRY(
      c.query("INSERT INTO compile_jobs (id, seq, function_id, function_version, language, state, "
              "attempts, enqueued_at) VALUES (?1, ?2, ?3, ?4, ?5, 'PENDING', 0, ?6)"));
  q.bind(1, new_uuid()).bind(2, seq).bind(3, f.id).bind(4, f.version).bind(5, f.language);
  q.bind(6, now);
  return q.run();
}

// --- users, groups, keys -----------------------------------------------------------------------

Error user_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "user_not_found",
                    "no user with id or username '" + std::string(ref) + "'");
}

#define NIL_USER_COLUMNS "id, username, role, grants, password_hash, created_at, updated_at, seq"

Expected<User> read_user(const Query& q, int64_t* seq = nullptr) {
  User u;
  u.id = q.text(0);
  u.username = q.text(1);
  auto role = parse_role(q.text(2));
  if (!role) return corrupt("user role", q.text(2));
  u.role = *role;
  u.grants = split_lines(q.text(3));
  u.password_hash = q.text(4);
  u.created_at = q.int64(5);
  u.updated_at = q.int64(6);
  if (seq != nullptr) *seq = q.int64(7);
  return u;
}

Expected<void> load_user_groups(Connection& c, User& u) {
  auto q = NIL_TRY(c.query("SELECT g.id, g.name FROM group_members m JOIN groups g "
                           "ON g.id = m.group_id WHERE m.user_id = ?1 ORDER BY g.seq"));
  q.bind(1, u.id);
  u.groups.clear();
  while (NIL_TRY(q.step())) u.groups.push_back(GroupRef{q.text(0), q.text(1)});
  return {};
}

Expected<User> load_user(Connection& c, std::string_view ref) {
  User u;
  {
    auto q = NIL_TRY(c.query("SELECT " NIL_USER_COLUMNS " FROM users WHERE id = ?1 OR username = ?1 "
                             "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) return user_not_found(ref);
    u = NIL_TRY(read_user(q));
  }
  NIL_TRY_VOID(load_user_groups(c, u));
  return u;
}

Expected<void> load_members(Connection& c, Group& g) {
  auto q = NIL_TRY(c.query("SELECT u.id, u.username FROM group_members m JOIN users u "
                           "ON u.id = m.user_id WHERE m.group_id = ?1 ORDER BY u.seq"));
  q.bind(1, g.id);
  g.members.clear();
  while (NIL_TRY(q.step())) g.members.push_back(UserRef{q.text(0), q.text(1)});
  return {};
}

Expected<Group> load_group(Connection& c, std::string_view ref) {
  Group g;
  {
    auto q = NIL_TRY(c.query("SELECT id, name, created_at FROM groups WHERE id = ?1 OR name = ?1 "
                             "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) {
      return make_error(ErrorKind::kNotFound, "group_not_found",
                        "no group with id or name '" + std::string(ref) + "'");
    }
    g.id = q.text(0);
    g.name = q.text(1);
    g.created_at = q.int64(2);
  }
  NIL_TRY_VOID(load_members(c, g));
  return g;
}

#define NIL_API_KEY_COLUMNS                                                                 \
  "k.id, k.name, k.user_id, u.username, k.prefix, k.hash, k.created_at, k.expires_at, " \
  "k.last_used_at, k.revoked_at"

ApiKey read_api_key(const Query& q) {
  ApiKey k;
  k.id = q.text(0);
  k.name = q.text(1);
  k.user_id = q.text(2);
  k.username = q.text(3);
  k.prefix = q.text(4);
  k.hash_hex = q.text(5);
  k.created_at = q.int64(6);
  if (!q.is_null(7)) k.expires_at = q.int64(7);
  if (!q.is_null(8)) k.last_used_at = q.int64(8);
  k.revoked = !q.is_null(9);
  return k;
}

Expected<ApiKey> load_api_key(Connection& c, std::string_view id) {
  auto q = NIL_TRY(c.query("SELECT " NIL_API_KEY_COLUMNS " FROM api_keys k JOIN users u "
                           "ON u.id = k.user_id WHERE k.id = ?1"));
  q.bind(1, id);
  if (!NIL_TRY(q.step())) {
    return make_error(ErrorKind::kNotFound, "api_key_not_found",
                      "no API key with id '" + std::string(id) + "'");
  }
  return read_api_key(q);
}

// --- connection pool ---------------------------------------------------------------------------

// Reader connections, handed out one per thread at a time. A reader is never used for writes
// (PRAGMA query_only) so a read can never take the write lock.
class ReaderPool {
 public:
  class Lease {
   public:
    Lease(ReaderPool& pool, Connection* c) : pool_(&pool), conn_(c) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_->release(conn_); }
    Connection& operator*() const { return *conn_; }

   private:
    ReaderPool* pool_;
    Connection* conn_;
  };

  void add(std::unique_ptr<Connection> c) {
    free_.push_back(c.get());
    all_.push_back(std::move(c));
  }
  bool empty() const { return all_.empty(); }

  Lease acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    Connection* c = free_.back();
    free_.pop_back();
    return Lease(*this, c);
  }

 private:
  void release(Connection* c) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(c);
    }
    cv_.notify_one();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Connection*> free_;
  std::vector<std::unique_ptr<Connection>> all_;
};

// --- the store ---------------------------------------------------------------------------------

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<Connection> writer) : writer_(std::move(writer)) {}

  static Expected<std::unique_ptr<Store>> open(const std::string& path, const SqliteOptions& o) {
    Connection::Options copts;
    copts.busy_timeout_ms = o.busy_timeout_ms;
    auto writer = NIL_TRY(Connection::open(path, copts));
    bool in_memory = path == ":memory:" || path.empty();
    {
      // journal_mode is persistent in the file; it answers the mode actually in effect.
      auto q = NIL_TRY(writer->query("PRAGMA journal_mode = WAL"));
      NIL_TRY(q.step());
      std::string mode = q.text(0);
      if (!in_memory && mode != "wal") {
        return make_error(ErrorKind::kInternal, "storage_error",
                          "could not enable WAL on " + path + " (journal_mode=" + mode + ")");
      }
    }
    NIL_TRY_VOID(writer->exec("PRAGMA synchronous = NORMAL"));
    // The default 2 MiB page cache thrashes once the executions' random-UUID primary key index
    // outgrows it; 16 MiB keeps a large batch's index pages in memory.
    NIL_TRY_VOID(writer->exec("PRAGMA cache_size = -16384"));
    NIL_TRY_VOID(apply_migrations(*writer));

    auto store = std::make_unique<SqliteStore>(std::move(writer));
    if (!in_memory) {
      copts.read_only = true;
      for (int i = 0; i < o.readers; ++i) {
        store->readers_.add(NIL_TRY(Connection::open(path, copts)));
      }
    }
    return std::unique_ptr<Store>(std::move(store));
  }

  // --- functions ---

  Expected<Function> create_function(const NewFunction& nf) override {
    return write([&](Connection& c) -> Expected<Function> {
      {
        auto q = NIL_TRY(c.query("SELECT 1 FROM functions WHERE name = ?1"));
        q.bind(1, nf.name);
        if (NIL_TRY(q.step())) {
          return make_error(ErrorKind::kConflict, "name_taken",
                            "a function named '" + nf.name + "' already exists");
        }
      }
      int64_t now = now_micros();
      Function f;
      f.id = new_uuid();
      f.name = nf.name;
      f.language = nf.language;
      f.status = FunctionStatus::kPending;
      f.limits = nf.limits;
      f.version = 1;
      f.created_at = now;
      f.updated_at = now;
      int64_t seq = NIL_TRY(next_counter(c, "functions_seq"));
      {
        auto q = NIL_TRY(
            c.query("INSERT INTO functions (id, seq, name, language, status, source, timeout_ms, "
                    "memory_mb, version, created_at, updated_at, http_allow, grants, public, owner_id, managers) "
                    "VALUES (?1, ?2, ?3, ?4, 'PENDING', ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14)"));
        q.bind(1, f.id).bind(2, seq).bind(3, f.name).bind(4, f.language).bind_blob(5, nf.source);
        q.bind(6, int64_t{f.limits.timeout_ms}).bind(7, int64_t{f.limits.memory_mb});
        q.bind(8, f.version).bind(9, now);
        q.bind(10, join_lines(nf.access.http_allow)).bind(11, join_lines(nf.access.grants));
        q.bind(12, int64_t{nf.is_public ? 1 : 0});
        q.bind(13, nf.owner_id).bind(14, join_lines(nf.managers));
        NIL_TRY_VOID(q.run());
      }
      NIL_TRY_VOID(attach_environments(c, f.id, nf.access.environments));
      NIL_TRY_VOID(write_acl_users(c, kFunctionAcl, f.id, nf.allowed.users));
      NIL_TRY_VOID(write_acl_groups(c, kFunctionAcl, f.id, nf.allowed.groups));
      NIL_TRY_VOID(enqueue_compile_job(c, f, now));
      return load_function(c, f.id);
    });
  }

  Expected<Function> get_function(std::string_view ref) override {
    return read([&](Connection& c) { return load_function(c, ref); });
  }

  Expected<Page<Function>> list_functions(const PageRequest& page,
                                          const std::optional<AccessFilter>& filter) override {
    int64_t after = NIL_TRY(parse_function_cursor(page.cursor));
    uint32_t limit = clamp_limit(page.limit);
    return read([&](Connection& c) -> Expected<Page<Function>> {
      // The filter is auth::can_access for a non-admin in SQL: both lists empty, or the user
      // listed, or one of the user's groups listed.
      auto q = NIL_TRY(c.query(
          filter ? "SELECT " NIL_FUNCTION_COLUMNS " FROM functions WHERE seq > ?1 AND ("
                   "(NOT EXISTS (SELECT 1 FROM function_allowed_users a WHERE a.function_id = functions.id) "
                   " AND NOT EXISTS (SELECT 1 FROM function_allowed_groups g WHERE g.function_id = functions.id)) "
                   "OR EXISTS (SELECT 1 FROM function_allowed_users a WHERE a.function_id = functions.id "
                   "           AND a.user_id = ?3) "
                   "OR EXISTS (SELECT 1 FROM function_allowed_groups g JOIN group_members m "
                   "           ON m.group_id = g.group_id WHERE g.function_id = functions.id "
                   "           AND m.user_id = ?3)) ORDER BY seq LIMIT ?2"
                 : "SELECT " NIL_FUNCTION_COLUMNS " FROM functions WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
      q.bind(1, after).bind(2, int64_t{limit} + 1);  // one extra row tells whether more follow
      if (filter) q.bind(3, filter->user_id);
      Page<Function> out;
      int64_t last_seq = 0;
      while (NIL_TRY(q.step())) {
        if (out.items.size() == limit) {
          out.next_cursor = function_cursor(last_seq);
          break;
        }
        out.items.push_back(NIL_TRY(read_function(q, &last_seq)));
      }
      for (auto& f : out.items) {
        NIL_TRY_VOID(load_attached_names(c, f));
        f.allowed = NIL_TRY(load_acl(c, kFunctionAcl, f.id));
      }
      return out;
    });
  }

  Expected<Function> update_function(std::string_view ref, const FunctionUpdate& u) override {
    return write([&](Connection& c) -> Expected<Function> {
      Function f = NIL_TRY(load_function(c, ref));
      int64_t now = now_micros();
      FunctionLimits limits = u.limits.value_or(f.limits);
      // Access applies at execution time like limits: no recompile, no new version.
      bool access = u.environments || u.http_allow || u.grants || u.allowed_users ||
                    u.allowed_groups || u.is_public || u.managers;
      if (u.managers) {
        auto q = NIL_TRY(c.query("UPDATE functions SET managers = ?2 WHERE id = ?1"));
        q.bind(1, f.id).bind(2, join_lines(*u.managers));
        NIL_TRY_VOID(q.run());
      }
      if (u.environments) NIL_TRY_VOID(attach_environments(c, f.id, *u.environments));
      if (u.allowed_users) NIL_TRY_VOID(write_acl_users(c, kFunctionAcl, f.id, *u.allowed_users));
      if (u.allowed_groups) {
        NIL_TRY_VOID(write_acl_groups(c, kFunctionAcl, f.id, *u.allowed_groups));
      }
      if (u.is_public) {
        auto q = NIL_TRY(c.query("UPDATE functions SET public = ?2 WHERE id = ?1"));
        q.bind(1, f.id).bind(2, int64_t{*u.is_public ? 1 : 0});
        NIL_TRY_VOID(q.run());
      }
      if (u.http_allow || u.grants) {
        auto q = NIL_TRY(c.query("UPDATE functions SET http_allow = ?2, grants = ?3 WHERE id = ?1"));
        q.bind(1, f.id).bind(2, join_lines(u.http_allow.value_or(f.access.http_allow)));
        q.bind(3, join_lines(u.grants.value_or(f.access.grants)));
        NIL_TRY_VOID(q.run());
      }
      if (u.source || u.language) {
        // A new version: not executable until it compiles. Older jobs are dropped (a worker
        // still compiling one will find its result ignored: the version no longer matches).
        auto q = NIL_TRY(
            c.query("UPDATE functions SET language = COALESCE(?2, language), "
                    "source = COALESCE(?3, source), status = 'PENDING', compile_error = NULL, "
                    "wasm = NULL, wasm_sha256 = NULL, version = version + 1, timeout_ms = ?4, "
                    "memory_mb = ?5, updated_at = ?6 WHERE id = ?1"));
        q.bind(1, f.id).bind(2, u.language);
        if (u.source) {
          q.bind_blob(3, *u.source);
        } else {
          q.bind_null(3);
        }
        q.bind(4, int64_t{limits.timeout_ms}).bind(5, int64_t{limits.memory_mb}).bind(6, now);
        NIL_TRY_VOID(q.run());
        auto del = NIL_TRY(c.query("DELETE FROM compile_jobs WHERE function_id = ?1"));
        del.bind(1, f.id);
        NIL_TRY_VOID(del.run());
        Function updated = NIL_TRY(load_function(c, f.id));
        NIL_TRY_VOID(enqueue_compile_job(c, updated, now));
        return updated;
      }
      if (u.limits || access) {
        // Limits apply at execution time: no recompile, no new version (bumping it would make
        // an in-flight compile of the unchanged source be discarded).
        auto q =
            NIL_TRY(c.query("UPDATE functions SET timeout_ms = ?2, memory_mb = ?3, updated_at = ?4 "
                            "WHERE id = ?1"));
        q.bind(1, f.id).bind(2, int64_t{limits.timeout_ms}).bind(3, int64_t{limits.memory_mb});
        q.bind(4, now);
        NIL_TRY_VOID(q.run());
        return load_function(c, f.id);
      }
      return f;  // nothing to change
    });
  }

  Expected<void> delete_function(std::string_view ref) override {
    return write([&](Connection& c) -> Expected<void> {
      Function f = NIL_TRY(load_function(c, ref));
      // Explicit rather than relying on ON DELETE CASCADE: the intent is visible here.
      auto jobs = NIL_TRY(c.query("DELETE FROM compile_jobs WHERE function_id = ?1"));
      jobs.bind(1, f.id);
      NIL_TRY_VOID(jobs.run());
      auto q = NIL_TRY(c.query("DELETE FROM functions WHERE id = ?1"));
      q.bind(1, f.id);
      return q.run();
    });
  }

  Expected<std::string> get_function_wasm(std::string_view ref) override {
    return read([&](Connection& c) -> Expected<std::string> {
      auto q =
          NIL_TRY(c.query("SELECT status, wasm FROM functions WHERE id = ?1 OR name = ?1 "
                          "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
      q.bind(1, ref);
      if (!NIL_TRY(q.step())) return function_not_found(ref);
      std::string status = q.text(0);
      if (status != "READY" || q.is_null(1)) {
        return make_error(ErrorKind::kConflict, "function_not_ready",
                          "function '" + std::string(ref) + "' is " + status + ", not READY");
      }
      return q.text(1);
    });
  }

  Expected<std::string> get_function_source(std::string_view ref) override {
    return read([&](Connection& c) -> Expected<std::string> {
      auto q =
          NIL_TRY(c.query("SELECT source FROM functions WHERE id = ?1 OR name = ?1 "
                          "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
      q.bind(1, ref);
      if (!NIL_TRY(q.step())) return function_not_found(ref);
      return q.text(0);
    });
  }

  // --- compile queue ---

  Expected<std::optional<CompileJob>> claim_compile_job(std::string_view worker,
                                                        int64_t lease_micros) override {
    return write([&](Connection& c) -> Expected<std::optional<CompileJob>> {
      int64_t now = now_micros();
      CompileJob job;
      {
        auto q = NIL_TRY(
            c.query("SELECT " NIL_JOB_COLUMNS ", f.source FROM compile_jobs j "
                    "JOIN functions f ON f.id = j.function_id "
                    "WHERE j.state = 'PENDING' OR (j.state = 'RUNNING' AND j.lease_until < ?1) "
                    "ORDER BY j.enqueued_at, j.seq LIMIT 1"));
        q.bind(1, now);
        if (!NIL_TRY(q.step())) return std::optional<CompileJob>{};
        job = NIL_TRY(read_job(q));
        job.source = q.text(11);
      }
      job.state = CompileJobState::kRunning;
      job.attempts += 1;
      job.claimed_by = std::string(worker);
      job.claimed_at = now;
      job.lease_until = now + lease_micros;
      {
        auto q =
            NIL_TRY(c.query("UPDATE compile_jobs SET state = 'RUNNING', attempts = attempts + 1, "
                            "claimed_by = ?2, claimed_at = ?3, lease_until = ?4 WHERE id = ?1"));
        q.bind(1, job.id).bind(2, job.claimed_by).bind(3, now).bind(4, job.lease_until);
        NIL_TRY_VOID(q.run());
      }
      {
        auto q = NIL_TRY(
            c.query("UPDATE functions SET status = 'COMPILING' WHERE id = ?1 AND version = ?2"));
        q.bind(1, job.function_id).bind(2, job.function_version);
        NIL_TRY_VOID(q.run());
      }
      return std::optional<CompileJob>(std::move(job));
    });
  }

  Expected<void> complete_compile_job(const CompileJob& job, const CompileOutcome& o) override {
    return write([&](Connection& c) -> Expected<void> {
      {
        auto q = NIL_TRY(c.query("DELETE FROM compile_jobs WHERE id = ?1"));
        q.bind(1, job.id);
        NIL_TRY_VOID(q.run());
      }
      auto q = NIL_TRY(c.query(
          "UPDATE functions SET status = ?3, wasm = ?4, wasm_sha256 = ?5, compile_error = ?6, "
          "updated_at = ?7 WHERE id = ?1 AND version = ?2"));
      q.bind(1, job.function_id).bind(2, job.function_version);
      if (o.ok) {
        q.bind(3, "READY").bind_blob(4, o.wasm);
        q.bind(5, o.wasm_sha256.empty() ? sha256_hex(o.wasm) : o.wasm_sha256);
        q.bind_null(6);
      } else {
        q.bind(3, "FAILED").bind_null(4).bind_null(5).bind(6, o.error);
      }
      q.bind(7, now_micros());
      return q.run();  // 0 rows when a newer version (or a delete) superseded this job
    });
  }

  Expected<int64_t> requeue_abandoned_compile_jobs() override {
    return write([&](Connection& c) -> Expected<int64_t> {
      {
        auto q = NIL_TRY(
            c.query("UPDATE functions SET status = 'PENDING' WHERE status = 'COMPILING' AND id IN "
                    "(SELECT function_id FROM compile_jobs WHERE state = 'RUNNING')"));
        NIL_TRY_VOID(q.run());
      }
      auto q = NIL_TRY(c.query(
          "UPDATE compile_jobs SET state = 'PENDING', claimed_by = NULL, claimed_at = NULL, "
          "lease_until = NULL WHERE state = 'RUNNING'"));
      NIL_TRY_VOID(q.run());
      return c.changes();
    });
  }

  Expected<QueueStats> compile_queue_stats() override {
    return read(
        [&](Connection& c) -> Expected<QueueStats> {
          QueueStats s;
          s.name = "compile";
          {
            auto q = NIL_TRY(
                c.query("SELECT "
                        "COALESCE(SUM(CASE WHEN state = 'PENDING' THEN 1 ELSE 0 END), 0), "
                        "COALESCE(SUM(CASE WHEN state = 'RUNNING' THEN 1 ELSE 0 END), 0), "
                        "COALESCE(MIN(CASE WHEN state = 'PENDING' THEN enqueued_at END), 0) "
                        "FROM compile_jobs"));
            NIL_TRY(q.step());
            s.pending = q.int64(0);
            s.running = q.int64(1);
            s.oldest_pending_at = q.int64(2);
          }
          auto q = NIL_TRY(c.query("SELECT " NIL_JOB_COLUMNS " FROM compile_jobs j "
                                   "JOIN functions f ON f.id = j.function_id "
                                   "ORDER BY j.enqueued_at, j.seq LIMIT ?1"));
          q.bind(1, kMaxQueueStatsJobs);
          while (NIL_TRY(q.step())) s.jobs.push_back(NIL_TRY(read_job(q)));
          return s;
        },
        /*snapshot=*/true);
  }

  // --- executions ---

  Expected<void> insert_executions(std::span<const Execution> batch) override {
    if (batch.empty()) return {};
    return write([&](Connection& c) -> Expected<void> {
      // ON CONFLICT DO NOTHING: a batch retried after an unclear commit is harmless.
      auto q = NIL_TRY(c.query("INSERT INTO executions (" NIL_EXECUTION_COLUMNS
                               ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
                               "ON CONFLICT (id) DO NOTHING"));
      // bind_static: the rows live in `batch` until after the last step (and every parameter is
      // rebound for each row), so SQLite need not copy each column.
      for (const Execution& e : batch) {
        q.bind_static(1, e.id).bind_static(2, e.function_id).bind_static(3, to_string(e.status));
        q.bind_static(4, e.input).bind_static(5, e.output);
        if (e.error) {
          q.bind_static(6, e.error->type).bind_static(7, e.error->message);
        } else {
          q.bind_null(6).bind_null(7);
        }
        q.bind_static(8, e.logs).bind(9, e.duration_ms).bind(10, e.started_at).bind(11, e.finished_at);
        q.bind_static(12, e.trigger).bind_static(13, e.host_calls).bind(14, e.user_id);
        NIL_TRY_VOID(q.run());
        q.reset();  // the same prepared statement, rebound for the next row
      }
      return {};
    });
  }

  Expected<Execution> get_execution(std::string_view id) override {
    return read([&](Connection& c) -> Expected<Execution> {
      auto q = NIL_TRY(c.query("SELECT " NIL_EXECUTION_COLUMNS " FROM executions WHERE id = ?1"));
      q.bind(1, id);
      if (!NIL_TRY(q.step())) {
        return make_error(ErrorKind::kNotFound, "execution_not_found",
                          "no execution with id '" + std::string(id) + "'");
      }
      return read_execution(q);
    });
  }

  Expected<Page<Execution>> list_executions(std::string_view function_id,
                                            const PageRequest& page) override {
    auto after = NIL_TRY(parse_execution_cursor(page.cursor));
    uint32_t limit = clamp_limit(page.limit);
    return read([&](Connection& c) -> Expected<Page<Execution>> {
      // Two statements rather than one with a nullable key keeps each plan on the index.
      auto q = NIL_TRY(
          c.query(after ? "SELECT " NIL_EXECUTION_COLUMNS " FROM executions WHERE function_id = ?1 "
                          "AND (started_at < ?2 OR (started_at = ?2 AND id < ?3)) "
                          "ORDER BY started_at DESC, id DESC LIMIT ?4"
                        : "SELECT " NIL_EXECUTION_COLUMNS " FROM executions WHERE function_id = ?1 "
                          "ORDER BY started_at DESC, id DESC LIMIT ?4"));
      q.bind(1, function_id).bind(4, int64_t{limit} + 1);
      if (after) q.bind(2, after->started_at).bind(3, after->id);
      Page<Execution> out;
      while (NIL_TRY(q.step())) {
        if (out.items.size() == limit) {
          out.next_cursor = execution_cursor(out.items.back());
          break;
        }
        out.items.push_back(NIL_TRY(read_execution(q)));
      }
      return out;
    });
  }

  // --- environments ---

  Expected<Environment> create_environment(const NewEnvironment& ne) override {
    return write([&](Connection& c) -> Expected<Environment> {
      NIL_TRY_VOID(check_environment_name_free(c, ne.name));
      int64_t now = now_micros();
      std::string id = new_uuid();
      int64_t seq = NIL_TRY(next_counter(c, "environments_seq"));
      {
        auto q = NIL_TRY(c.query("INSERT INTO environments (id, seq, name, created_at, updated_at) "
                                 "VALUES (?1, ?2, ?3, ?4, ?4)"));
        q.bind(1, id).bind(2, seq).bind(3, ne.name).bind(4, now);
        NIL_TRY_VOID(q.run());
      }
      NIL_TRY_VOID(write_vars(c, id, ne.vars));
      NIL_TRY_VOID(write_acl_users(c, kEnvironmentAcl, id, ne.allowed.users));
      NIL_TRY_VOID(write_acl_groups(c, kEnvironmentAcl, id, ne.allowed.groups));
      return load_environment(c, id);
    });
  }

  Expected<Environment> get_environment(std::string_view ref) override {
    return read([&](Connection& c) { return load_environment(c, ref); }, /*snapshot=*/true);
  }

  Expected<Page<Environment>> list_environments(const PageRequest& page,
                                                const std::optional<AccessFilter>& filter) override {
    int64_t after = NIL_TRY(parse_seq_cursor(page.cursor, "v1:"));
    uint32_t limit = clamp_limit(page.limit);
    return read(
        [&](Connection& c) -> Expected<Page<Environment>> {
          auto q = NIL_TRY(c.query(
              filter ? "SELECT " NIL_ENVIRONMENT_COLUMNS " FROM environments WHERE seq > ?1 AND ("
                       "(NOT EXISTS (SELECT 1 FROM environment_allowed_users a "
                       "             WHERE a.environment_id = environments.id) "
                       " AND NOT EXISTS (SELECT 1 FROM environment_allowed_groups g "
                       "                 WHERE g.environment_id = environments.id)) "
                       "OR EXISTS (SELECT 1 FROM environment_allowed_users a "
                       "           WHERE a.environment_id = environments.id AND a.user_id = ?3) "
                       "OR EXISTS (SELECT 1 FROM environment_allowed_groups g JOIN group_members m "
                       "           ON m.group_id = g.group_id "
                       "           WHERE g.environment_id = environments.id AND m.user_id = ?3)) "
                       "ORDER BY seq LIMIT ?2"
                     : "SELECT " NIL_ENVIRONMENT_COLUMNS
                       " FROM environments WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
          q.bind(1, after).bind(2, int64_t{limit} + 1);
          if (filter) q.bind(3, filter->user_id);
          Page<Environment> out;
          int64_t last_seq = 0;
          while (NIL_TRY(q.step())) {
            if (out.items.size() == limit) {
              out.next_cursor = seq_cursor("v1:", last_seq);
              break;
            }
            out.items.push_back(read_environment(q, &last_seq));
          }
          for (auto& e : out.items) {
            NIL_TRY_VOID(load_vars(c, e));
            e.allowed = NIL_TRY(load_acl(c, kEnvironmentAcl, e.id));
          }
          return out;
        },
        /*snapshot=*/true);
  }

  Expected<Environment> update_environment(std::string_view ref,
                                           const EnvironmentUpdate& u) override {
    return write([&](Connection& c) -> Expected<Environment> {
      Environment e = NIL_TRY(load_environment(c, ref));
      if (u.name && *u.name != e.name) NIL_TRY_VOID(check_environment_name_free(c, *u.name));
      {
        auto q = NIL_TRY(c.query("UPDATE environments SET name = ?2, updated_at = ?3 WHERE id = ?1"));
        q.bind(1, e.id).bind(2, u.name.value_or(e.name)).bind(3, now_micros());
        NIL_TRY_VOID(q.run());
      }
      if (u.vars) NIL_TRY_VOID(write_vars(c, e.id, *u.vars));
      if (u.allowed_users) NIL_TRY_VOID(write_acl_users(c, kEnvironmentAcl, e.id, *u.allowed_users));
      if (u.allowed_groups) {
        NIL_TRY_VOID(write_acl_groups(c, kEnvironmentAcl, e.id, *u.allowed_groups));
      }
      return load_environment(c, e.id);
    });
  }

  Expected<void> delete_environment(std::string_view ref) override {
    return write([&](Connection& c) -> Expected<void> {
      Environment e = NIL_TRY(load_environment(c, ref));
      {
        auto q = NIL_TRY(c.query("SELECT f.name FROM function_environments fe "
                                 "JOIN functions f ON f.id = fe.function_id "
                                 "WHERE fe.environment_id = ?1 ORDER BY f.seq LIMIT 10"));
        q.bind(1, e.id);
        std::string users;
        while (NIL_TRY(q.step())) users += (users.empty() ? "" : ", ") + q.text(0);
        if (!users.empty()) {
          return make_error(ErrorKind::kConflict, "environment_in_use",
                            "environment '" + e.name + "' is attached to functions: " + users);
        }
      }
      auto q = NIL_TRY(c.query("DELETE FROM environments WHERE id = ?1"));
      q.bind(1, e.id);
      return q.run();  // its vars go by ON DELETE CASCADE
    });
  }

  Expected<std::vector<Environment>> function_environments(std::string_view function_id) override {
    return read(
        [&](Connection& c) -> Expected<std::vector<Environment>> {
          std::vector<Environment> out;
          {
            auto q = NIL_TRY(c.query("SELECT e.id, e.name, e.created_at, e.updated_at, e.seq "
                                     "FROM function_environments fe "
                                     "JOIN environments e ON e.id = fe.environment_id "
                                     "WHERE fe.function_id = ?1 ORDER BY fe.position"));
            q.bind(1, function_id);
            while (NIL_TRY(q.step())) out.push_back(read_environment(q));
          }
          for (auto& e : out) NIL_TRY_VOID(load_vars(c, e));
          return out;
        },
        /*snapshot=*/true);
  }

  // --- users ---

  Expected<User> create_user(const NewUser& nu) override {
    return write([&](Connection& c) -> Expected<User> {
      {
        auto q = NIL_TRY(c.query("SELECT 1 FROM users WHERE username = ?1"));
        q.bind(1, nu.username);
        if (NIL_TRY(q.step())) {
          return make_error(ErrorKind::kConflict, "name_taken",
                            "a user named '" + nu.username + "' already exists");
        }
      }
      int64_t now = now_micros();
      std::string id = new_uuid();
      int64_t seq = NIL_TRY(next_counter(c, "users_seq"));
      auto q = NIL_TRY(c.query("INSERT INTO users (id, seq, username, role, grants, password_hash, "
                               "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"));
      q.bind(1, id).bind(2, seq).bind(3, nu.username).bind(4, to_string(nu.role));
      q.bind(5, join_lines(nu.grants)).bind(6, nu.password_hash).bind(7, now);
      NIL_TRY_VOID(q.run());
      return load_user(c, id);
    });
  }

  Expected<User> get_user(std::string_view ref) override {
    return read([&](Connection& c) { return load_user(c, ref); }, /*snapshot=*/true);
  }

  Expected<Page<User>> list_users(const PageRequest& page) override {
    int64_t after = NIL_TRY(parse_seq_cursor(page.cursor, "u1:"));
    uint32_t limit = clamp_limit(page.limit);
    return read(
        [&](Connection& c) -> Expected<Page<User>> {
          auto q = NIL_TRY(c.query("SELECT " NIL_USER_COLUMNS
                                   " FROM users WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
          q.bind(1, after).bind(2, int64_t{limit} + 1);
          Page<User> out;
          int64_t last_seq = 0;
          while (NIL_TRY(q.step())) {
            if (out.items.size() == limit) {
              out.next_cursor = seq_cursor("u1:", last_seq);
              break;
            }
            out.items.push_back(NIL_TRY(read_user(q, &last_seq)));
          }
          for (auto& u : out.items) NIL_TRY_VOID(load_user_groups(c, u));
          return out;
        },
        /*snapshot=*/true);
  }

  Expected<User> update_user(std::string_view ref, const UserUpdate& u) override {
    return write([&](Connection& c) -> Expected<User> {
      User cur = NIL_TRY(load_user(c, ref));
      auto q = NIL_TRY(c.query("UPDATE users SET password_hash = ?2, role = ?3, grants = ?4, "
                               "updated_at = ?5 WHERE id = ?1"));
      q.bind(1, cur.id).bind(2, u.password_hash.value_or(cur.password_hash));
      q.bind(3, to_string(u.role.value_or(cur.role)));
      q.bind(4, join_lines(u.grants.value_or(cur.grants))).bind(5, now_micros());
      NIL_TRY_VOID(q.run());
      return load_user(c, cur.id);
    });
  }

  Expected<void> delete_user(std::string_view ref) override {
    return write([&](Connection& c) -> Expected<void> {
      User u = NIL_TRY(load_user(c, ref));
      // Keys, sessions and memberships go by ON DELETE CASCADE; access lists keep the id.
      auto q = NIL_TRY(c.query("DELETE FROM users WHERE id = ?1"));
      q.bind(1, u.id);
      return q.run();
    });
  }

  Expected<int64_t> count_users() override {
    return read([&](Connection& c) -> Expected<int64_t> {
      auto q = NIL_TRY(c.query("SELECT COUNT(*) FROM users"));
      NIL_TRY(q.step());
      return q.int64(0);
    });
  }

  // --- groups ---

  Expected<Group> create_group(std::string_view name) override {
    return write([&](Connection& c) -> Expected<Group> {
      {
        auto q = NIL_TRY(c.query("SELECT 1 FROM groups WHERE name = ?1"));
        q.bind(1, name);
        if (NIL_TRY(q.step())) {
          return make_error(ErrorKind::kConflict, "name_taken",
                            "a group named '" + std::string(name) + "' already exists");
        }
      }
      std::string id = new_uuid();
      int64_t seq = NIL_TRY(next_counter(c, "groups_seq"));
      auto q = NIL_TRY(
          c.query("INSERT INTO groups (id, seq, name, created_at) VALUES (?1, ?2, ?3, ?4)"));
      q.bind(1, id).bind(2, seq).bind(3, name).bind(4, now_micros());
      NIL_TRY_VOID(q.run());
      return load_group(c, id);
    });
  }

  Expected<Group> get_group(std::string_view ref) override {
    return read([&](Connection& c) { return load_group(c, ref); }, /*snapshot=*/true);
  }

  Expected<Page<Group>> list_groups(const PageRequest& page) override {
    int64_t after = NIL_TRY(parse_seq_cursor(page.cursor, "g1:"));
    uint32_t limit = clamp_limit(page.limit);
    return read(
        [&](Connection& c) -> Expected<Page<Group>> {
          auto q = NIL_TRY(c.query("SELECT id, name, created_at, seq FROM groups WHERE seq > ?1 "
                                   "ORDER BY seq LIMIT ?2"));
          q.bind(1, after).bind(2, int64_t{limit} + 1);
          Page<Group> out;
          int64_t last_seq = 0;
          while (NIL_TRY(q.step())) {
            if (out.items.size() == limit) {
              out.next_cursor = seq_cursor("g1:", last_seq);
              break;
            }
            Group g;
            g.id = q.text(0);
            g.name = q.text(1);
            g.created_at = q.int64(2);
            last_seq = q.int64(3);
            out.items.push_back(std::move(g));
          }
          for (auto& g : out.items) NIL_TRY_VOID(load_members(c, g));
          return out;
        },
        /*snapshot=*/true);
  }

  Expected<void> delete_group(std::string_view ref) override {
    return write([&](Connection& c) -> Expected<void> {
      Group g = NIL_TRY(load_group(c, ref));
      auto q = NIL_TRY(c.query("DELETE FROM groups WHERE id = ?1"));
      q.bind(1, g.id);
      return q.run();  // memberships by ON DELETE CASCADE; access lists keep the id
    });
  }

  Expected<void> add_group_member(std::string_view group_ref, std::string_view user_ref) override {
    return write([&](Connection& c) -> Expected<void> {
      Group g = NIL_TRY(load_group(c, group_ref));
      auto uid = NIL_TRY(find_user_id(c, user_ref));
      if (!uid) return user_not_found(user_ref);
      auto q = NIL_TRY(c.query("INSERT OR IGNORE INTO group_members (group_id, user_id, added_at) "
                               "VALUES (?1, ?2, ?3)"));
      q.bind(1, g.id).bind(2, *uid).bind(3, now_micros());
      return q.run();
    });
  }

  Expected<void> remove_group_member(std::string_view group_ref,
                                     std::string_view user_ref) override {
    return write([&](Connection& c) -> Expected<void> {
      Group g = NIL_TRY(load_group(c, group_ref));
      auto uid = NIL_TRY(find_user_id(c, user_ref));
      if (!uid) return user_not_found(user_ref);
      auto q = NIL_TRY(c.query("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2"));
      q.bind(1, g.id).bind(2, *uid);
      NIL_TRY_VOID(q.run());
      if (c.changes() == 0) {
        return make_error(ErrorKind::kNotFound, "not_a_member",
                          "user '" + std::string(user_ref) + "' is not a member of group '" +
                              g.name + "'");
      }
      return {};
    });
  }

  // --- API keys ---

  Expected<ApiKey> create_api_key(const NewApiKey& k) override {
    return write([&](Connection& c) -> Expected<ApiKey> {
      auto uid = NIL_TRY(find_user_id(c, k.user_id));
      if (!uid) return user_not_found(k.user_id);
      std::string id = new_uuid();
      int64_t seq = NIL_TRY(next_counter(c, "api_keys_seq"));
      auto q = NIL_TRY(c.query("INSERT INTO api_keys (id, seq, name, user_id, prefix, hash, "
                               "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
      q.bind(1, id).bind(2, seq).bind(3, k.name).bind(4, *uid).bind(5, k.prefix);
      q.bind(6, k.hash_hex).bind(7, now_micros());
      if (k.expires_at) {
        q.bind(8, *k.expires_at);
      } else {
        q.bind_null(8);
      }
      NIL_TRY_VOID(q.run());
      return load_api_key(c, id);
    });
  }

  Expected<ApiKey> get_api_key(std::string_view id) override {
    return read([&](Connection& c) { return load_api_key(c, id); });
  }

  Expected<std::vector<ApiKey>> find_api_keys_by_prefix(std::string_view prefix) override {
    return read([&](Connection& c) -> Expected<std::vector<ApiKey>> {
      auto q = NIL_TRY(c.query("SELECT " NIL_API_KEY_COLUMNS " FROM api_keys k "
                               "JOIN users u ON u.id = k.user_id WHERE k.prefix = ?1"));
      q.bind(1, prefix);
      std::vector<ApiKey> out;
      while (NIL_TRY(q.step())) out.push_back(read_api_key(q));
      return out;
    });
  }

  Expected<Page<ApiKey>> list_api_keys(const PageRequest& page,
                                       const std::optional<std::string>& user_id) override {
    int64_t before = NIL_TRY(parse_seq_cursor(page.cursor, "k1:"));
    uint32_t limit = clamp_limit(page.limit);
    return read([&](Connection& c) -> Expected<Page<ApiKey>> {
      auto q = NIL_TRY(c.query(
          "SELECT " NIL_API_KEY_COLUMNS ", k.seq FROM api_keys k JOIN users u ON u.id = k.user_id "
          "WHERE (?1 = 0 OR k.seq < ?1) AND (?3 IS NULL OR k.user_id = ?3) "
          "ORDER BY k.seq DESC LIMIT ?2"));
      q.bind(1, before).bind(2, int64_t{limit} + 1).bind(3, user_id);
      Page<ApiKey> out;
      int64_t last_seq = 0;
      while (NIL_TRY(q.step())) {
        if (out.items.size() == limit) {
          out.next_cursor = seq_cursor("k1:", last_seq);
          break;
        }
        out.items.push_back(read_api_key(q));
        last_seq = q.int64(10);
      }
      return out;
    });
  }

  Expected<void> revoke_api_key(std::string_view id) override {
    return write([&](Connection& c) -> Expected<void> {
      NIL_TRY(load_api_key(c, id));
      auto q = NIL_TRY(c.query(
          "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1"));
      q.bind(1, id).bind(2, now_micros());
      return q.run();
    });
  }

  Expected<void> touch_api_keys(std::span<const std::pair<std::string, int64_t>> uses) override {
    if (uses.empty()) return {};
    return write([&](Connection& c) -> Expected<void> {
      auto q = NIL_TRY(c.query("UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?2) "
                               "WHERE id = ?1"));
      for (const auto& [id, at] : uses) {
        q.bind(1, id).bind(2, at);
        NIL_TRY_VOID(q.run());
        q.reset();
      }
      return {};
    });
  }

  // --- sessions ---

  Expected<void> create_session(const Session& s) override {
    return write([&](Connection& c) -> Expected<void> {
      auto q = NIL_TRY(c.query("INSERT INTO sessions (id, user_id, token_hash, csrf_hash, "
                               "created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
      q.bind(1, s.id).bind(2, s.user_id).bind(3, s.token_hash_hex).bind(4, s.csrf_hash_hex);
      q.bind(5, s.created_at).bind(6, s.last_seen_at);
      return q.run();
    });
  }

  Expected<Session> get_session_by_token_hash(std::string_view token_hash_hex) override {
    return read([&](Connection& c) -> Expected<Session> {
      auto q = NIL_TRY(c.query("SELECT id, user_id, token_hash, csrf_hash, created_at, "
                               "last_seen_at FROM sessions WHERE token_hash = ?1"));
      q.bind(1, token_hash_hex);
      if (!NIL_TRY(q.step())) {
        return make_error(ErrorKind::kNotFound, "session_not_found", "no such session");
      }
      return Session{q.text(0), q.text(1), q.text(2), q.text(3), q.int64(4), q.int64(5)};
    });
  }

  Expected<void> touch_session(std::string_view id, int64_t last_seen_at) override {
    return write([&](Connection& c) -> Expected<void> {
      auto q = NIL_TRY(c.query("UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1"));
      q.bind(1, id).bind(2, last_seen_at);
      return q.run();
    });
  }

  Expected<void> delete_session(std::string_view id) override {
    return write([&](Connection& c) -> Expected<void> {
      auto q = NIL_TRY(c.query("DELETE FROM sessions WHERE id = ?1"));
      q.bind(1, id);
      return q.run();
    });
  }

  Expected<int64_t> delete_expired_sessions(int64_t created_before, int64_t idle_before) override {
    return write([&](Connection& c) -> Expected<int64_t> {
      auto q = NIL_TRY(
          c.query("DELETE FROM sessions WHERE created_at < ?1 OR last_seen_at < ?2"));
      q.bind(1, created_before).bind(2, idle_before);
      NIL_TRY_VOID(q.run());
      return c.changes();
    });
  }

  Expected<void> ping() override {
    return read([&](Connection& c) -> Expected<void> {
      auto q = NIL_TRY(c.query("SELECT 1"));
      NIL_TRY(q.step());
      return {};
    });
  }

 private:
  // Runs f(writer) inside BEGIN IMMEDIATE ... COMMIT under the writer mutex; rolls back when f
  // fails or COMMIT does. f must return an Expected.
  template <typename F>
  auto write(F&& f) -> std::invoke_result_t<F&, Connection&> {
    std::lock_guard lock(writer_mu_);
    Connection& c = *writer_;
    NIL_TRY_VOID(run_cached(c, "BEGIN IMMEDIATE"));
    auto result = f(c);
    if (!result.ok()) {
      (void)run_cached(c, "ROLLBACK");
      return result;
    }
    if (auto r = run_cached(c, "COMMIT"); !r.ok()) {
      (void)run_cached(c, "ROLLBACK");  // COMMIT can fail with the transaction still open
      return std::move(r).error();
    }
    return result;
  }

  // Runs f(reader). With snapshot, f's statements share one read transaction (several queries
  // that must agree with each other); otherwise each statement is its own.
  template <typename F>
  auto read(F&& f, bool snapshot = false) -> std::invoke_result_t<F&, Connection&> {
    if (readers_.empty()) {
      std::lock_guard lock(writer_mu_);
      return in_read_txn(*writer_, f, snapshot);
    }
    auto lease = readers_.acquire();
    return in_read_txn(*lease, f, snapshot);
  }

  template <typename F>
  static auto in_read_txn(Connection& c, F& f, bool snapshot)
      -> std::invoke_result_t<F&, Connection&> {
    if (!snapshot) return f(c);
    NIL_TRY_VOID(run_cached(c, "BEGIN"));
    auto result = f(c);
    (void)run_cached(c, "COMMIT");  // a read transaction has nothing to lose
    return result;
  }

  static Expected<void> run_cached(Connection& c, const char* sql) {
    auto q = NIL_TRY(c.query(sql));
    return q.run();
  }

  std::mutex writer_mu_;
  std::unique_ptr<Connection> writer_;
  ReaderPool readers_;
};

#undef NIL_FUNCTION_COLUMNS
#undef NIL_EXECUTION_COLUMNS
#undef NIL_JOB_COLUMNS
#undef NIL_ENVIRONMENT_COLUMNS
#undef NIL_USER_COLUMNS
#undef NIL_API_KEY_COLUMNS

}  // namespace

Expected<std::unique_ptr<Store>> open_sqlite_store(const std::string& path,
                                                   const SqliteOptions& options) {
  return SqliteStore::open(path, options);
}

}  // namespace nil::store::sqlite
