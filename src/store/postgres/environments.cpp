// PostgresStore: environments, and their ordered attachment to functions.
#include <set>

#include "common/util.h"
#include "store/access.h"
#include "store/cursor.h"
#include "store/errors.h"
#include "store/paging.h"
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {
namespace {

Expected<std::optional<std::string>> find_environment_id(Connection& c, std::string_view ref) {
  auto q =
      NIL_TRY(c.query("SELECT id FROM environments WHERE id = ?1 OR name = ?1 "
                      "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
  q.bind(1, ref);
  if (!NIL_TRY(q.step())) return std::optional<std::string>{};
  return std::optional<std::string>(q.text(0));
}

Expected<void> load_vars(Connection& c, Environment& e) {
  auto q =
      NIL_TRY(c.query("SELECT key, value, secret FROM environment_vars "
                      "WHERE environment_id = ?1 ORDER BY position"));
  q.bind(1, e.id);
  e.vars.clear();
  while (NIL_TRY(q.step())) e.vars.push_back(EnvironmentVar{q.text(0), q.text(1), q.int64(2) != 0});
  return {};
}

Expected<Environment> load_environment(Connection& c, std::string_view ref) {
  Environment e;
  {
    auto q = NIL_TRY(c.query("SELECT " NIL_ENVIRONMENT_COLUMNS " FROM environments "
                             "WHERE id = ?1 OR name = ?1 "
                             "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) return errors::environment_not_found(ref);
    e = read_environment(q);
  }
  NIL_TRY_VOID(load_vars(c, e));
  e.allowed = NIL_TRY(load_acl(c, AclKind::kEnvironment, e.id));
  return e;
}

Expected<void> write_vars(Connection& c, std::string_view environment_id,
                          const std::vector<EnvironmentVar>& vars) {
  std::set<std::string_view> keys;
  for (const auto& v : vars) {
    if (!keys.insert(v.key).second) return errors::duplicate_env_key(v.key);
  }
  {
    auto del = NIL_TRY(c.query("DELETE FROM environment_vars WHERE environment_id = ?1"));
    del.bind(1, environment_id);
    NIL_TRY_VOID(del.run());
  }
  auto q =
      NIL_TRY(c.query("INSERT INTO environment_vars (environment_id, position, key, value, "
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
  if (NIL_TRY(q.step())) return errors::name_taken("environment", name);
  return {};
}

}  // namespace

Expected<void> load_attached_names(Connection& c, Function& f) {
  auto q =
      NIL_TRY(c.query("SELECT e.name FROM function_environments fe "
                      "JOIN environments e ON e.id = fe.environment_id "
                      "WHERE fe.function_id = ?1 ORDER BY fe.position"));
  q.bind(1, f.id);
  f.access.environments.clear();
  while (NIL_TRY(q.step())) f.access.environments.push_back(q.text(0));
  return {};
}

Expected<void> attach_environments(Connection& c, std::string_view function_id,
                                   const std::vector<std::string>& refs) {
  auto ids = NIL_TRY(resolve_environment_refs(
      refs, [&](std::string_view ref) { return find_environment_id(c, ref); }));
  {
    auto del = NIL_TRY(c.query("DELETE FROM function_environments WHERE function_id = ?1"));
    del.bind(1, function_id);
    NIL_TRY_VOID(del.run());
  }
  auto q =
      NIL_TRY(c.query("INSERT INTO function_environments (function_id, position, "
                      "environment_id) VALUES (?1, ?2, ?3)"));
  int64_t position = 0;
  for (const auto& id : ids) {
    q.bind(1, function_id).bind(2, position++).bind(3, id);
    NIL_TRY_VOID(q.run());
    q.reset();
  }
  return {};
}

Expected<Environment> PostgresStore::create_environment(const NewEnvironment& ne) {
  return db_.write([&](Connection& c) -> Expected<Environment> {
    NIL_TRY_VOID(check_environment_name_free(c, ne.name));
    int64_t now = clock_.now_micros();
    std::string id = new_uuid();
    int64_t seq = NIL_TRY(next_counter(c, "environments_seq"));
    {
      auto q =
          NIL_TRY(c.query("INSERT INTO environments (id, seq, name, created_at, updated_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?4)"));
      q.bind(1, id).bind(2, seq).bind(3, ne.name).bind(4, now);
      NIL_TRY_VOID(q.run());
    }
    NIL_TRY_VOID(write_vars(c, id, ne.vars));
    NIL_TRY_VOID(write_acl_users(c, AclKind::kEnvironment, id, ne.allowed.users));
    NIL_TRY_VOID(write_acl_groups(c, AclKind::kEnvironment, id, ne.allowed.groups));
    return load_environment(c, id);
  });
}

Expected<Environment> PostgresStore::get_environment(std::string_view ref) {
  return db_.read([&](Connection& c) { return load_environment(c, ref); }, /*snapshot=*/true);
}

Expected<Page<Environment>> PostgresStore::list_environments(
    const PageRequest& page, const std::optional<AccessFilter>& filter) {
  int64_t after = NIL_TRY(cursor::decode_seq(page.cursor, cursor::kEnvironments));
  return db_.read(
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
        PageBuilder<Environment> out(page.limit);
        q.bind(1, after).bind(2, out.fetch_limit());
        if (filter) q.bind(3, filter->user_id);
        int64_t last_seq = 0;
        while (NIL_TRY(q.step())) {
          if (out.full()) {
            out.more_after(cursor::encode_seq(cursor::kEnvironments, last_seq));
            break;
          }
          out.add(read_environment(q, &last_seq));
        }
        for (auto& e : out.items()) {
          NIL_TRY_VOID(load_vars(c, e));
          e.allowed = NIL_TRY(load_acl(c, AclKind::kEnvironment, e.id));
        }
        return std::move(out).take();
      },
      /*snapshot=*/true);
}

Expected<Environment> PostgresStore::update_environment(std::string_view ref,
                                                        const EnvironmentUpdate& u) {
  return db_.write([&](Connection& c) -> Expected<Environment> {
    Environment e = NIL_TRY(load_environment(c, ref));
    if (u.name && *u.name != e.name) NIL_TRY_VOID(check_environment_name_free(c, *u.name));
    {
      auto q = NIL_TRY(c.query("UPDATE environments SET name = ?2, updated_at = ?3 WHERE id = ?1"));
      q.bind(1, e.id).bind(2, u.name.value_or(e.name)).bind(3, clock_.now_micros());
      NIL_TRY_VOID(q.run());
    }
    if (u.vars) NIL_TRY_VOID(write_vars(c, e.id, *u.vars));
    if (u.allowed_users) {
      NIL_TRY_VOID(write_acl_users(c, AclKind::kEnvironment, e.id, *u.allowed_users));
    }
    if (u.allowed_groups) {
      NIL_TRY_VOID(write_acl_groups(c, AclKind::kEnvironment, e.id, *u.allowed_groups));
    }
    return load_environment(c, e.id);
  });
}

Expected<void> PostgresStore::delete_environment(std::string_view ref) {
  return db_.write([&](Connection& c) -> Expected<void> {
    Environment e = NIL_TRY(load_environment(c, ref));
    {
      auto q =
          NIL_TRY(c.query("SELECT f.name FROM function_environments fe "
                          "JOIN functions f ON f.id = fe.function_id "
                          "WHERE fe.environment_id = ?1 ORDER BY f.seq LIMIT 10"));
      q.bind(1, e.id);
      std::string users;
      while (NIL_TRY(q.step())) users += (users.empty() ? "" : ", ") + q.text(0);
      if (!users.empty()) return errors::environment_in_use(e.name, users);
    }
    auto q = NIL_TRY(c.query("DELETE FROM environments WHERE id = ?1"));
    q.bind(1, e.id);
    return q.run();  // its vars go by ON DELETE CASCADE
  });
}

Expected<std::vector<Environment>> PostgresStore::function_environments(
    std::string_view function_id) {
  return db_.read(
      [&](Connection& c) -> Expected<std::vector<Environment>> {
        std::vector<Environment> out;
        {
          auto q =
              NIL_TRY(c.query("SELECT e.id, e.name, e.created_at, e.updated_at, e.seq "
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

}  // namespace nil::store::postgres
