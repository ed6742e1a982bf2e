// PostgresStore: functions.
#include "common/util.h"
#include "store/columns.h"
#include "store/cursor.h"
#include "store/errors.h"
#include "store/paging.h"
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {

using columns::join_lines;
using columns::new_callback_secret;

namespace {
// max_concurrency and max_queue_ms at parameters `first` and `first + 1`.
void bind_admission_limits(Query& q, int first, const FunctionLimits& l) {
  q.bind(first, int64_t{l.max_concurrency});
  if (l.max_queue_ms) {
    q.bind(first + 1, int64_t{*l.max_queue_ms});
  } else {
    q.bind_null(first + 1);
  }
}
}  // namespace

// Resolves `ref` as an id first, then as a name (an id match wins should a name look like an id).
Expected<Function> load_function(Connection& c, std::string_view ref) {
  Function f;
  {
    auto q = NIL_TRY(c.query("SELECT " NIL_FUNCTION_COLUMNS " FROM functions "
                             "WHERE id = ?1 OR name = ?1 "
                             "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) return errors::function_not_found(ref);
    f = NIL_TRY(read_function(q));
  }
  NIL_TRY_VOID(load_attached_names(c, f));
  f.allowed = NIL_TRY(load_acl(c, AclKind::kFunction, f.id));
  return f;
}

Expected<Function> PostgresStore::create_function(const NewFunction& nf) {
  return db_.write([&](Connection& c) -> Expected<Function> {
    {
      auto q = NIL_TRY(c.query("SELECT 1 FROM functions WHERE name = ?1"));
      q.bind(1, nf.name);
      if (NIL_TRY(q.step())) return errors::name_taken("function", nf.name);
    }
    int64_t now = clock_.now_micros();
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
      auto q = NIL_TRY(c.query(
          "INSERT INTO functions (id, seq, name, language, status, source, timeout_ms, "
          "memory_mb, version, created_at, updated_at, http_allow, grants, public, owner_id, "
          "managers, retry, callback_secret, max_concurrency, max_queue_ms) "
          "VALUES (?1, ?2, ?3, ?4, 'PENDING', ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14, "
          "?15, ?16, ?17, ?18)"));
      q.bind(1, f.id).bind(2, seq).bind(3, f.name).bind(4, f.language).bind_blob(5, nf.source);
      q.bind(6, int64_t{f.limits.timeout_ms}).bind(7, int64_t{f.limits.memory_mb});
      q.bind(8, f.version).bind(9, now);
      q.bind(10, join_lines(nf.access.http_allow)).bind(11, join_lines(nf.access.grants));
      q.bind(12, int64_t{nf.is_public ? 1 : 0});
      q.bind(13, nf.owner_id).bind(14, join_lines(nf.managers));
      q.bind(15, columns::format_retry(nf.retry)).bind(16, new_callback_secret());
      bind_admission_limits(q, 17, f.limits);
      NIL_TRY_VOID(q.run());
    }
    NIL_TRY_VOID(attach_environments(c, f.id, nf.access.environments));
    NIL_TRY_VOID(write_acl_users(c, AclKind::kFunction, f.id, nf.allowed.users));
    NIL_TRY_VOID(write_acl_groups(c, AclKind::kFunction, f.id, nf.allowed.groups));
    NIL_TRY_VOID(enqueue_compile_job(c, f, now));
    return load_function(c, f.id);
  });
}

Expected<Function> PostgresStore::get_function(std::string_view ref) {
  return db_.read([&](Connection& c) { return load_function(c, ref); });
}

Expected<Page<Function>> PostgresStore::list_functions(const PageRequest& page,
                                                       const std::optional<AccessFilter>& filter) {
  int64_t after = NIL_TRY(cursor::decode_seq(page.cursor, cursor::kFunctions));
  return db_.read([&](Connection& c) -> Expected<Page<Function>> {
    // The filter is auth::can_access for a non-admin in SQL: both lists empty, or the user
    // listed, or one of the user's groups listed.
    auto q = NIL_TRY(
        c.query(filter ? "SELECT " NIL_FUNCTION_COLUMNS " FROM functions WHERE seq > ?1 AND ("
                         "(NOT EXISTS (SELECT 1 FROM function_allowed_users a WHERE a.function_id "
                         "= functions.id) "
                         " AND NOT EXISTS (SELECT 1 FROM function_allowed_groups g WHERE "
                         "g.function_id = functions.id)) "
                         "OR EXISTS (SELECT 1 FROM function_allowed_users a WHERE a.function_id = "
                         "functions.id "
                         "           AND a.user_id = ?3) "
                         "OR EXISTS (SELECT 1 FROM function_allowed_groups g JOIN group_members m "
                         "           ON m.group_id = g.group_id WHERE g.function_id = functions.id "
                         "           AND m.user_id = ?3)) ORDER BY seq LIMIT ?2"
                       : "SELECT " NIL_FUNCTION_COLUMNS
                         " FROM functions WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
    PageBuilder<Function> out(page.limit);
    q.bind(1, after).bind(2, out.fetch_limit());
    if (filter) q.bind(3, filter->user_id);
    int64_t last_seq = 0;
    while (NIL_TRY(q.step())) {
      if (out.full()) {
        out.more_after(cursor::encode_seq(cursor::kFunctions, last_seq));
        break;
      }
      out.add(NIL_TRY(read_function(q, &last_seq)));
    }
    for (auto& f : out.items()) {
      NIL_TRY_VOID(load_attached_names(c, f));
      f.allowed = NIL_TRY(load_acl(c, AclKind::kFunction, f.id));
    }
    return std::move(out).take();
  });
}

Expected<Function> PostgresStore::update_function(std::string_view ref, const FunctionUpdate& u) {
  return db_.write([&](Connection& c) -> Expected<Function> {
    Function f = NIL_TRY(load_function(c, ref));
    int64_t now = clock_.now_micros();
    FunctionLimits limits = u.limits.value_or(f.limits);
    // Access applies at execution time like limits: no recompile, no new version.
    bool access = u.environments || u.http_allow || u.grants || u.allowed_users ||
                  u.allowed_groups || u.is_public || u.managers || u.retry;
    if (u.callback_secret) {
      auto q = NIL_TRY(c.query("UPDATE functions SET callback_secret = ?2 WHERE id = ?1"));
      q.bind(1, f.id).bind(2, *u.callback_secret);
      NIL_TRY_VOID(q.run());
      access = true;
    }
    if (u.retry) {
      auto q = NIL_TRY(c.query("UPDATE functions SET retry = ?2 WHERE id = ?1"));
      q.bind(1, f.id).bind(2, columns::format_retry(*u.retry));
      NIL_TRY_VOID(q.run());
    }
    if (u.managers) {
      auto q = NIL_TRY(c.query("UPDATE functions SET managers = ?2 WHERE id = ?1"));
      q.bind(1, f.id).bind(2, join_lines(*u.managers));
      NIL_TRY_VOID(q.run());
    }
    if (u.environments) NIL_TRY_VOID(attach_environments(c, f.id, *u.environments));
    if (u.allowed_users) {
      NIL_TRY_VOID(write_acl_users(c, AclKind::kFunction, f.id, *u.allowed_users));
    }
    if (u.allowed_groups) {
      NIL_TRY_VOID(write_acl_groups(c, AclKind::kFunction, f.id, *u.allowed_groups));
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
                  "memory_mb = ?5, updated_at = ?6, max_concurrency = ?7, max_queue_ms = ?8 "
                  "WHERE id = ?1"));
      q.bind(1, f.id).bind(2, u.language);
      if (u.source) {
        q.bind_blob(3, *u.source);
      } else {
        q.bind_null(3);
      }
      q.bind(4, int64_t{limits.timeout_ms}).bind(5, int64_t{limits.memory_mb}).bind(6, now);
      bind_admission_limits(q, 7, limits);
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
          NIL_TRY(c.query("UPDATE functions SET timeout_ms = ?2, memory_mb = ?3, updated_at = ?4, "
                          "max_concurrency = ?5, max_queue_ms = ?6 WHERE id = ?1"));
      q.bind(1, f.id).bind(2, int64_t{limits.timeout_ms}).bind(3, int64_t{limits.memory_mb});
      q.bind(4, now);
      bind_admission_limits(q, 5, limits);
      NIL_TRY_VOID(q.run());
      return load_function(c, f.id);
    }
    return f;  // nothing to change
  });
}

Expected<void> PostgresStore::delete_function(std::string_view ref) {
  return db_.write([&](Connection& c) -> Expected<void> {
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

Expected<std::string> PostgresStore::get_function_wasm(std::string_view ref) {
  return db_.read([&](Connection& c) -> Expected<std::string> {
    auto q =
        NIL_TRY(c.query("SELECT status, wasm FROM functions WHERE id = ?1 OR name = ?1 "
                        "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) return errors::function_not_found(ref);
    std::string status = q.text(0);
    if (status != "READY" || q.is_null(1)) return errors::function_not_ready(ref, status);
    return q.text(1);
  });
}

Expected<std::string> PostgresStore::get_function_source(std::string_view ref) {
  return db_.read([&](Connection& c) -> Expected<std::string> {
    auto q =
        NIL_TRY(c.query("SELECT source FROM functions WHERE id = ?1 OR name = ?1 "
                        "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) return errors::function_not_found(ref);
    return q.text(0);
  });
}

}  // namespace nil::store::postgres
