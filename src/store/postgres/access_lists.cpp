// The access lists of functions and environments (who may see and execute them): join tables
// ordered by `position` (migration 6; rowid ordering before). Names are resolved to ids by
// store/access.h before anything is written.
#include "store/access.h"
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {
namespace {

// The statements of one resource kind's two tables.
struct AclTables {
  const char* select_users;   // ?1 = resource id → user_id rows, in written order
  const char* select_groups;  // ?1 = resource id → group_id rows, in written order
  const char* delete_users;
  const char* delete_groups;
  const char* insert_user;   // ?1 resource id, ?2 position, ?3 user id
  const char* insert_group;  // ?1 resource id, ?2 position, ?3 group id
};

constexpr AclTables kFunctionAcl{
    "SELECT user_id FROM function_allowed_users WHERE function_id = ?1 ORDER BY position",
    "SELECT group_id FROM function_allowed_groups WHERE function_id = ?1 ORDER BY position",
    "DELETE FROM function_allowed_users WHERE function_id = ?1",
    "DELETE FROM function_allowed_groups WHERE function_id = ?1",
    "INSERT INTO function_allowed_users (function_id, position, user_id) VALUES (?1, ?2, ?3) "
    "ON CONFLICT DO NOTHING",
    "INSERT INTO function_allowed_groups (function_id, position, group_id) VALUES (?1, ?2, ?3) "
    "ON CONFLICT DO NOTHING"};

constexpr AclTables kEnvironmentAcl{
    "SELECT user_id FROM environment_allowed_users WHERE environment_id = ?1 ORDER BY position",
    "SELECT group_id FROM environment_allowed_groups WHERE environment_id = ?1 ORDER BY position",
    "DELETE FROM environment_allowed_users WHERE environment_id = ?1",
    "DELETE FROM environment_allowed_groups WHERE environment_id = ?1",
    "INSERT INTO environment_allowed_users (environment_id, position, user_id) "
    "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    "INSERT INTO environment_allowed_groups (environment_id, position, group_id) "
    "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"};

const AclTables& tables(AclKind kind) {
  return kind == AclKind::kFunction ? kFunctionAcl : kEnvironmentAcl;
}

Expected<void> replace(Connection& c, const char* del_sql, const char* ins_sql, std::string_view id,
                       const std::vector<std::string>& ids) {
  {
    auto del = NIL_TRY(c.query(del_sql));
    del.bind(1, id);
    NIL_TRY_VOID(del.run());
  }
  auto q = NIL_TRY(c.query(ins_sql));
  int64_t position = 0;
  for (const auto& member : ids) {
    q.bind(1, id).bind(2, position++).bind(3, member);
    NIL_TRY_VOID(q.run());
    q.reset();
  }
  return {};
}

}  // namespace

Expected<AccessList> load_acl(Connection& c, AclKind kind, std::string_view id) {
  const AclTables& t = tables(kind);
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

Expected<void> write_acl_users(Connection& c, AclKind kind, std::string_view id,
                               const std::vector<std::string>& refs) {
  auto ids =
      NIL_TRY(resolve_user_refs(refs, [&](std::string_view ref) { return find_user_id(c, ref); }));
  return replace(c, tables(kind).delete_users, tables(kind).insert_user, id, ids);
}

Expected<void> write_acl_groups(Connection& c, AclKind kind, std::string_view id,
                                const std::vector<std::string>& refs) {
  auto ids = NIL_TRY(
      resolve_group_refs(refs, [&](std::string_view ref) { return find_group_id(c, ref); }));
  return replace(c, tables(kind).delete_groups, tables(kind).insert_group, id, ids);
}

}  // namespace nil::store::postgres
