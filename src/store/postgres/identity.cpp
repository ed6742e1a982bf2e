// PostgresStore: users, groups, API keys and sessions.
#include "common/util.h"
#include "store/columns.h"
#include "store/cursor.h"
#include "store/errors.h"
#include "store/paging.h"
#include "store/postgres/store_impl.h"

namespace nil::store::postgres {
namespace {

using columns::join_lines;

Expected<void> load_user_groups(Connection& c, User& u) {
  auto q =
      NIL_TRY(c.query("SELECT g.id, g.name FROM group_members m JOIN groups g "
                      "ON g.id = m.group_id WHERE m.user_id = ?1 ORDER BY g.seq"));
  q.bind(1, u.id);
  u.groups.clear();
  while (NIL_TRY(q.step())) u.groups.push_back(GroupRef{q.text(0), q.text(1)});
  return {};
}

Expected<User> load_user(Connection& c, std::string_view ref) {
  User u;
  {
    auto q =
        NIL_TRY(c.query("SELECT " NIL_USER_COLUMNS " FROM users WHERE id = ?1 OR username = ?1 "
                        "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) return errors::user_not_found(ref);
    u = NIL_TRY(read_user(q));
  }
  NIL_TRY_VOID(load_user_groups(c, u));
  return u;
}

Expected<void> load_members(Connection& c, Group& g) {
  auto q =
      NIL_TRY(c.query("SELECT u.id, u.username FROM group_members m JOIN users u "
                      "ON u.id = m.user_id WHERE m.group_id = ?1 ORDER BY u.seq"));
  q.bind(1, g.id);
  g.members.clear();
  while (NIL_TRY(q.step())) g.members.push_back(UserRef{q.text(0), q.text(1)});
  return {};
}

Expected<Group> load_group(Connection& c, std::string_view ref) {
  Group g;
  {
    auto q =
        NIL_TRY(c.query("SELECT id, name, created_at FROM groups WHERE id = ?1 OR name = ?1 "
                        "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
    q.bind(1, ref);
    if (!NIL_TRY(q.step())) return errors::group_not_found(ref);
    g.id = q.text(0);
    g.name = q.text(1);
    g.created_at = q.int64(2);
  }
  NIL_TRY_VOID(load_members(c, g));
  return g;
}

Expected<ApiKey> load_api_key(Connection& c, std::string_view id) {
  auto q = NIL_TRY(c.query("SELECT " NIL_API_KEY_COLUMNS " FROM api_keys k JOIN users u "
                           "ON u.id = k.user_id WHERE k.id = ?1"));
  q.bind(1, id);
  if (!NIL_TRY(q.step())) return errors::api_key_not_found(id);
  return read_api_key(q);
}

}  // namespace

Expected<std::optional<std::string>> find_user_id(Connection& c, std::string_view ref) {
  auto q =
      NIL_TRY(c.query("SELECT id FROM users WHERE id = ?1 OR username = ?1 "
                      "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
  q.bind(1, ref);
  if (!NIL_TRY(q.step())) return std::optional<std::string>{};
  return std::optional<std::string>(q.text(0));
}

Expected<std::optional<std::string>> find_group_id(Connection& c, std::string_view ref) {
  auto q =
      NIL_TRY(c.query("SELECT id FROM groups WHERE id = ?1 OR name = ?1 "
                      "ORDER BY CASE WHEN id = ?1 THEN 0 ELSE 1 END LIMIT 1"));
  q.bind(1, ref);
  if (!NIL_TRY(q.step())) return std::optional<std::string>{};
  return std::optional<std::string>(q.text(0));
}

// --- users ---

Expected<User> PostgresStore::create_user(const NewUser& nu) {
  return db_.write([&](Connection& c) -> Expected<User> {
    {
      auto q = NIL_TRY(c.query("SELECT 1 FROM users WHERE username = ?1"));
      q.bind(1, nu.username);
      if (NIL_TRY(q.step())) return errors::name_taken("user", nu.username);
    }
    int64_t now = clock_.now_micros();
    std::string id = new_uuid();
    int64_t seq = NIL_TRY(next_counter(c, "users_seq"));
    auto q =
        NIL_TRY(c.query("INSERT INTO users (id, seq, username, role, grants, password_hash, "
                        "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"));
    q.bind(1, id).bind(2, seq).bind(3, nu.username).bind(4, to_string(nu.role));
    q.bind(5, join_lines(nu.grants)).bind(6, nu.password_hash).bind(7, now);
    NIL_TRY_VOID(q.run());
    return load_user(c, id);
  });
}

Expected<User> PostgresStore::get_user(std::string_view ref) {
  return db_.read([&](Connection& c) { return load_user(c, ref); }, /*snapshot=*/true);
}

Expected<Page<User>> PostgresStore::list_users(const PageRequest& page) {
  int64_t after = NIL_TRY(cursor::decode_seq(page.cursor, cursor::kUsers));
  return db_.read(
      [&](Connection& c) -> Expected<Page<User>> {
        auto q = NIL_TRY(
            c.query("SELECT " NIL_USER_COLUMNS " FROM users WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
        PageBuilder<User> out(page.limit);
        q.bind(1, after).bind(2, out.fetch_limit());
        int64_t last_seq = 0;
        while (NIL_TRY(q.step())) {
          if (out.full()) {
            out.more_after(cursor::encode_seq(cursor::kUsers, last_seq));
            break;
          }
          out.add(NIL_TRY(read_user(q, &last_seq)));
        }
        for (auto& u : out.items()) NIL_TRY_VOID(load_user_groups(c, u));
        return std::move(out).take();
      },
      /*snapshot=*/true);
}

Expected<User> PostgresStore::update_user(std::string_view ref, const UserUpdate& u) {
  return db_.write([&](Connection& c) -> Expected<User> {
    User cur = NIL_TRY(load_user(c, ref));
    auto q =
        NIL_TRY(c.query("UPDATE users SET password_hash = ?2, role = ?3, grants = ?4, "
                        "updated_at = ?5 WHERE id = ?1"));
    q.bind(1, cur.id).bind(2, u.password_hash.value_or(cur.password_hash));
    q.bind(3, to_string(u.role.value_or(cur.role)));
    q.bind(4, join_lines(u.grants.value_or(cur.grants))).bind(5, clock_.now_micros());
    NIL_TRY_VOID(q.run());
    return load_user(c, cur.id);
  });
}

Expected<void> PostgresStore::delete_user(std::string_view ref) {
  return db_.write([&](Connection& c) -> Expected<void> {
    User u = NIL_TRY(load_user(c, ref));
    // Keys, sessions and memberships go by ON DELETE CASCADE; access lists keep the id.
    auto q = NIL_TRY(c.query("DELETE FROM users WHERE id = ?1"));
    q.bind(1, u.id);
    return q.run();
  });
}

Expected<int64_t> PostgresStore::count_users() {
  return db_.read([&](Connection& c) -> Expected<int64_t> {
    auto q = NIL_TRY(c.query("SELECT COUNT(*) FROM users"));
    NIL_TRY(q.step());
    return q.int64(0);
  });
}

// --- groups ---

Expected<Group> PostgresStore::create_group(std::string_view name) {
  return db_.write([&](Connection& c) -> Expected<Group> {
    {
      auto q = NIL_TRY(c.query("SELECT 1 FROM groups WHERE name = ?1"));
      q.bind(1, name);
      if (NIL_TRY(q.step())) return errors::name_taken("group", name);
    }
    std::string id = new_uuid();
    int64_t seq = NIL_TRY(next_counter(c, "groups_seq"));
    auto q =
        NIL_TRY(c.query("INSERT INTO groups (id, seq, name, created_at) VALUES (?1, ?2, ?3, ?4)"));
    q.bind(1, id).bind(2, seq).bind(3, name).bind(4, clock_.now_micros());
    NIL_TRY_VOID(q.run());
    return load_group(c, id);
  });
}

Expected<Group> PostgresStore::get_group(std::string_view ref) {
  return db_.read([&](Connection& c) { return load_group(c, ref); }, /*snapshot=*/true);
}

Expected<Page<Group>> PostgresStore::list_groups(const PageRequest& page) {
  int64_t after = NIL_TRY(cursor::decode_seq(page.cursor, cursor::kGroups));
  return db_.read(
      [&](Connection& c) -> Expected<Page<Group>> {
        auto q =
            NIL_TRY(c.query("SELECT id, name, created_at, seq FROM groups WHERE seq > ?1 "
                            "ORDER BY seq LIMIT ?2"));
        PageBuilder<Group> out(page.limit);
        q.bind(1, after).bind(2, out.fetch_limit());
        int64_t last_seq = 0;
        while (NIL_TRY(q.step())) {
          if (out.full()) {
            out.more_after(cursor::encode_seq(cursor::kGroups, last_seq));
            break;
          }
          Group g;
          g.id = q.text(0);
          g.name = q.text(1);
          g.created_at = q.int64(2);
          last_seq = q.int64(3);
          out.add(std::move(g));
        }
        for (auto& g : out.items()) NIL_TRY_VOID(load_members(c, g));
        return std::move(out).take();
      },
      /*snapshot=*/true);
}

Expected<void> PostgresStore::delete_group(std::string_view ref) {
  return db_.write([&](Connection& c) -> Expected<void> {
    Group g = NIL_TRY(load_group(c, ref));
    auto q = NIL_TRY(c.query("DELETE FROM groups WHERE id = ?1"));
    q.bind(1, g.id);
    return q.run();  // memberships by ON DELETE CASCADE; access lists keep the id
  });
}

Expected<void> PostgresStore::add_group_member(std::string_view group_ref,
                                               std::string_view user_ref) {
  return db_.write([&](Connection& c) -> Expected<void> {
    Group g = NIL_TRY(load_group(c, group_ref));
    auto uid = NIL_TRY(find_user_id(c, user_ref));
    if (!uid) return errors::user_not_found(user_ref);
    auto q =
        NIL_TRY(c.query("INSERT INTO group_members (group_id, user_id, added_at) "
                        "VALUES (?1, ?2, ?3) ON CONFLICT (group_id, user_id) DO NOTHING"));
    q.bind(1, g.id).bind(2, *uid).bind(3, clock_.now_micros());
    return q.run();
  });
}

Expected<void> PostgresStore::remove_group_member(std::string_view group_ref,
                                                  std::string_view user_ref) {
  return db_.write([&](Connection& c) -> Expected<void> {
    Group g = NIL_TRY(load_group(c, group_ref));
    auto uid = NIL_TRY(find_user_id(c, user_ref));
    if (!uid) return errors::user_not_found(user_ref);
    auto q = NIL_TRY(c.query("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2"));
    q.bind(1, g.id).bind(2, *uid);
    NIL_TRY_VOID(q.run());
    if (c.changes() == 0) return errors::not_a_member(user_ref, g.name);
    return {};
  });
}

// --- API keys ---

Expected<ApiKey> PostgresStore::create_api_key(const NewApiKey& k) {
  return db_.write([&](Connection& c) -> Expected<ApiKey> {
    auto uid = NIL_TRY(find_user_id(c, k.user_id));
    if (!uid) return errors::user_not_found(k.user_id);
    std::string id = new_uuid();
    int64_t seq = NIL_TRY(next_counter(c, "api_keys_seq"));
    auto q =
        NIL_TRY(c.query("INSERT INTO api_keys (id, seq, name, user_id, prefix, hash, "
                        "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    q.bind(1, id).bind(2, seq).bind(3, k.name).bind(4, *uid).bind(5, k.prefix);
    q.bind(6, k.hash_hex).bind(7, clock_.now_micros());
    if (k.expires_at) {
      q.bind(8, *k.expires_at);
    } else {
      q.bind_null(8);
    }
    NIL_TRY_VOID(q.run());
    return load_api_key(c, id);
  });
}

Expected<ApiKey> PostgresStore::get_api_key(std::string_view id) {
  return db_.read([&](Connection& c) { return load_api_key(c, id); });
}

Expected<std::vector<ApiKey>> PostgresStore::find_api_keys_by_prefix(std::string_view prefix) {
  return db_.read([&](Connection& c) -> Expected<std::vector<ApiKey>> {
    auto q = NIL_TRY(c.query("SELECT " NIL_API_KEY_COLUMNS " FROM api_keys k "
                             "JOIN users u ON u.id = k.user_id WHERE k.prefix = ?1"));
    q.bind(1, prefix);
    std::vector<ApiKey> out;
    while (NIL_TRY(q.step())) out.push_back(read_api_key(q));
    return out;
  });
}

Expected<Page<ApiKey>> PostgresStore::list_api_keys(const PageRequest& page,
                                                    const std::optional<std::string>& user_id) {
  // Newest first: the cursor is the last key's seq and the next page has smaller ones.
  int64_t before = NIL_TRY(cursor::decode_seq(page.cursor, cursor::kApiKeys));
  return db_.read([&](Connection& c) -> Expected<Page<ApiKey>> {
    auto q = NIL_TRY(
        c.query("SELECT " NIL_API_KEY_COLUMNS
                ", k.seq FROM api_keys k JOIN users u ON u.id = k.user_id "
                "WHERE (?1 = 0 OR k.seq < ?1) AND (CAST(?3 AS TEXT) IS NULL OR k.user_id = ?3) "
                "ORDER BY k.seq DESC LIMIT ?2"));
    PageBuilder<ApiKey> out(page.limit);
    q.bind(1, before).bind(2, out.fetch_limit()).bind(3, user_id);
    int64_t last_seq = 0;
    while (NIL_TRY(q.step())) {
      if (out.full()) {
        out.more_after(cursor::encode_seq(cursor::kApiKeys, last_seq));
        break;
      }
      out.add(read_api_key(q));
      last_seq = q.int64(10);
    }
    return std::move(out).take();
  });
}

Expected<void> PostgresStore::revoke_api_key(std::string_view id) {
  return db_.write([&](Connection& c) -> Expected<void> {
    NIL_TRY(load_api_key(c, id));
    auto q =
        NIL_TRY(c.query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1"));
    q.bind(1, id).bind(2, clock_.now_micros());
    return q.run();
  });
}

Expected<void> PostgresStore::touch_api_keys(
    std::span<const std::pair<std::string, int64_t>> uses) {
  if (uses.empty()) return {};
  return db_.write([&](Connection& c) -> Expected<void> {
    // Never moves last_used_at backwards (batches from several nodes may arrive out of order).
    // CASE rather than SQLite's two-argument MAX(), which other databases spell GREATEST().
    auto q =
        NIL_TRY(c.query("UPDATE api_keys SET last_used_at = CASE "
                        "WHEN last_used_at IS NULL OR last_used_at < ?2 THEN ?2 "
                        "ELSE last_used_at END WHERE id = ?1"));
    for (const auto& [id, at] : uses) {
      q.bind(1, id).bind(2, at);
      NIL_TRY_VOID(q.run());
      q.reset();
    }
    return {};
  });
}

// --- sessions ---

Expected<void> PostgresStore::create_session(const Session& s) {
  return db_.write([&](Connection& c) -> Expected<void> {
    auto q =
        NIL_TRY(c.query("INSERT INTO sessions (id, user_id, token_hash, csrf_hash, "
                        "created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    q.bind(1, s.id).bind(2, s.user_id).bind(3, s.token_hash_hex).bind(4, s.csrf_hash_hex);
    q.bind(5, s.created_at).bind(6, s.last_seen_at);
    return q.run();
  });
}

Expected<Session> PostgresStore::get_session_by_token_hash(std::string_view token_hash_hex) {
  return db_.read([&](Connection& c) -> Expected<Session> {
    auto q =
        NIL_TRY(c.query("SELECT id, user_id, token_hash, csrf_hash, created_at, "
                        "last_seen_at FROM sessions WHERE token_hash = ?1"));
    q.bind(1, token_hash_hex);
    if (!NIL_TRY(q.step())) return errors::session_not_found();
    return Session{q.text(0), q.text(1), q.text(2), q.text(3), q.int64(4), q.int64(5)};
  });
}

Expected<void> PostgresStore::touch_session(std::string_view id, int64_t last_seen_at) {
  return db_.write([&](Connection& c) -> Expected<void> {
    auto q = NIL_TRY(c.query("UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1"));
    q.bind(1, id).bind(2, last_seen_at);
    return q.run();
  });
}

Expected<void> PostgresStore::delete_session(std::string_view id) {
  return db_.write([&](Connection& c) -> Expected<void> {
    auto q = NIL_TRY(c.query("DELETE FROM sessions WHERE id = ?1"));
    q.bind(1, id);
    return q.run();
  });
}

Expected<int64_t> PostgresStore::delete_expired_sessions(int64_t created_before,
                                                         int64_t idle_before) {
  return db_.write([&](Connection& c) -> Expected<int64_t> {
    auto q = NIL_TRY(c.query("DELETE FROM sessions WHERE created_at < ?1 OR last_seen_at < ?2"));
    q.bind(1, created_before).bind(2, idle_before);
    NIL_TRY_VOID(q.run());
    return c.changes();
  });
}

}  // namespace nil::store::postgres
