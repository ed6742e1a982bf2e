// The storage specification of users, groups, API keys, sessions and access lists (issue 5),
// run against each backend in store_backends().
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/util.h"
#include "store/store.h"
#include "store_fixture.h"

namespace nil::store::testing {
namespace {

class AuthStoreTest : public StoreTest {};

NewUser user(std::string name, Role role = Role::kDev) {
  return NewUser{std::move(name), "hash", role, {}};
}

NewFunction fn(std::string name, AccessList allowed = {}, bool is_public = false) {
  NewFunction f;
  f.name = std::move(name);
  f.language = "wat";
  f.source = "(module)";
  f.allowed = std::move(allowed);
  f.is_public = is_public;
  return f;
}

std::vector<std::string> names(const Page<Function>& p) {
  std::vector<std::string> out;
  for (const auto& f : p.items) out.push_back(f.name);
  return out;
}

TEST_P(AuthStoreTest, UsersRoundTripByIdAndUsername) {
  EXPECT_EQ(*store().count_users(), 0);
  NewUser nu = user("alice", Role::kAdmin);
  nu.grants = {"deploy"};
  ASSERT_OK_AND_ASSIGN(u, store().create_user(nu));
  EXPECT_TRUE(is_uuid(u.id));
  EXPECT_EQ(u.role, Role::kAdmin);
  EXPECT_EQ(u.grants, std::vector<std::string>{"deploy"});
  EXPECT_EQ(store().get_user("alice")->id, u.id);
  EXPECT_EQ(store().get_user(u.id)->username, "alice");
  expect_error(store().create_user(user("alice")), ErrorCode::kNameTaken);
  expect_error(store().get_user("bob"), ErrorCode::kUserNotFound);
  ASSERT_OK_AND_ASSIGN(up, store().update_user("alice", UserUpdate{"hash2", Role::kDev,
                                                                   std::vector<std::string>{}}));
  EXPECT_EQ(up.role, Role::kDev);
  EXPECT_TRUE(up.grants.empty());
  EXPECT_EQ(up.password_hash, "hash2");
  reopen();
  EXPECT_EQ(*store().count_users(), 1);
  EXPECT_EQ(store().get_user("alice")->password_hash, "hash2");
}

TEST_P(AuthStoreTest, GroupsAndMembership) {
  ASSERT_OK_AND_ASSIGN(a, store().create_user(user("a")));
  ASSERT_OK_AND_ASSIGN(b, store().create_user(user("b")));
  ASSERT_OK_AND_ASSIGN(g, store().create_group("ops"));
  expect_error(store().create_group("ops"), ErrorCode::kNameTaken);
  ASSERT_TRUE(store().add_group_member("ops", "a").ok());
  ASSERT_TRUE(store().add_group_member(g.id, b.id).ok());
  ASSERT_TRUE(store().add_group_member("ops", "a").ok());  // idempotent
  ASSERT_OK_AND_ASSIGN(g2, store().get_group("ops"));
  ASSERT_EQ(g2.members.size(), 2u);
  EXPECT_EQ(g2.members[0].username, "a");
  ASSERT_EQ(store().get_user("a")->groups.size(), 1u);
  EXPECT_EQ(store().get_user("a")->groups[0].name, "ops");
  expect_error(store().add_group_member("ops", "nobody"), ErrorCode::kUserNotFound);
  expect_error(store().add_group_member("nogroup", "a"), ErrorCode::kGroupNotFound);
  ASSERT_TRUE(store().remove_group_member("ops", "a").ok());
  expect_error(store().remove_group_member("ops", "a"), ErrorCode::kNotAMember);
  ASSERT_TRUE(store().delete_user(b.id).ok());
  EXPECT_TRUE(store().get_group("ops")->members.empty());
  ASSERT_TRUE(store().delete_group("ops").ok());
  expect_error(store().get_group(g.id), ErrorCode::kGroupNotFound);
  EXPECT_TRUE(store().get_user("a")->groups.empty());
  (void)a;
}

TEST_P(AuthStoreTest, ApiKeysByPrefixRevokeTouchAndCascade) {
  ASSERT_OK_AND_ASSIGN(u, store().create_user(user("k")));
  ASSERT_OK_AND_ASSIGN(k1, store().create_api_key(NewApiKey{"ci", "k", "nil_AAAAAAAA",
                                                            std::string(64, 'a'), std::nullopt}));
  ASSERT_OK_AND_ASSIGN(k2, store().create_api_key(
                               NewApiKey{"ci2", u.id, "nil_AAAAAAAA", std::string(64, 'b'), 123}));
  EXPECT_EQ(k1.user_id, u.id);
  EXPECT_EQ(k1.username, "k");
  EXPECT_FALSE(k1.revoked);
  EXPECT_EQ(k2.expires_at, std::optional<int64_t>(123));
  ASSERT_OK_AND_ASSIGN(same, store().find_api_keys_by_prefix("nil_AAAAAAAA"));
  EXPECT_EQ(same.size(), 2u);
  EXPECT_TRUE(store().find_api_keys_by_prefix("nil_BBBBBBBB")->empty());
  ASSERT_OK_AND_ASSIGN(page, store().list_api_keys(PageRequest{1, std::nullopt}, u.id));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].id, k2.id);  // newest first
  ASSERT_TRUE(page.next_cursor.has_value());
  ASSERT_OK_AND_ASSIGN(page2, store().list_api_keys(PageRequest{1, page.next_cursor}, u.id));
  ASSERT_EQ(page2.items.size(), 1u);
  EXPECT_EQ(page2.items[0].id, k1.id);
  std::vector<std::pair<std::string, int64_t>> uses = {{k1.id, 1000}, {"unknown", 5}};
  ASSERT_TRUE(store().touch_api_keys(uses).ok());
  EXPECT_EQ(store().get_api_key(k1.id)->last_used_at, std::optional<int64_t>(1000));
  ASSERT_TRUE(store().revoke_api_key(k1.id).ok());
  EXPECT_TRUE(store().get_api_key(k1.id)->revoked);
  expect_error(store().revoke_api_key("nope"), ErrorCode::kApiKeyNotFound);
  expect_error(store().create_api_key(NewApiKey{"x", "nobody", "nil_CCCCCCCC", "h", std::nullopt}),
               ErrorCode::kUserNotFound);
  ASSERT_TRUE(store().delete_user("k").ok());
  expect_error(store().get_api_key(k2.id), ErrorCode::kApiKeyNotFound);
}

TEST_P(AuthStoreTest, SessionsLookupTouchExpireAndCascade) {
  ASSERT_OK_AND_ASSIGN(u, store().create_user(user("s")));
  Session s{new_uuid(), u.id, std::string(64, '1'), std::string(64, '2'), 100, 100};
  ASSERT_TRUE(store().create_session(s).ok());
  ASSERT_OK_AND_ASSIGN(got, store().get_session_by_token_hash(std::string(64, '1')));
  EXPECT_EQ(got.user_id, u.id);
  EXPECT_EQ(got.csrf_hash_hex, std::string(64, '2'));
  ASSERT_TRUE(store().touch_session(s.id, 500).ok());
  EXPECT_EQ(store().get_session_by_token_hash(std::string(64, '1'))->last_seen_at, 500);
  EXPECT_EQ(*store().delete_expired_sessions(0, 400), 0);
  EXPECT_EQ(*store().delete_expired_sessions(0, 600), 1);
  expect_error(store().get_session_by_token_hash(std::string(64, '1')),
               ErrorCode::kSessionNotFound);
  Session s2{new_uuid(), u.id, std::string(64, '3'), std::string(64, '4'), 100, 100};
  ASSERT_TRUE(store().create_session(s2).ok());
  ASSERT_TRUE(store().delete_user(u.id).ok());
  expect_error(store().get_session_by_token_hash(std::string(64, '3')),
               ErrorCode::kSessionNotFound);
}

// The list filter is auth::can_access in SQL: it must agree with the rule for every shape.
TEST_P(AuthStoreTest, AccessListsPersistAndFilterLists) {
  ASSERT_OK_AND_ASSIGN(me, store().create_user(user("me")));
  ASSERT_OK_AND_ASSIGN(other, store().create_user(user("other")));
  ASSERT_OK_AND_ASSIGN(mine, store().create_group("mine"));
  ASSERT_OK_AND_ASSIGN(theirs, store().create_group("theirs"));
  ASSERT_TRUE(store().add_group_member("mine", "me").ok());
  ASSERT_TRUE(store().create_function(fn("open")).ok());
  ASSERT_OK_AND_ASSIGN(f_user, store().create_function(fn("by-user", {{"me"}, {}})));  // a username
  EXPECT_EQ(f_user.allowed.users, std::vector<std::string>{me.id});  // stored as the id
  ASSERT_TRUE(store().create_function(fn("by-group", {{}, {"mine"}})).ok());
  ASSERT_TRUE(store().create_function(fn("other-user", {{other.id}, {}})).ok());
  ASSERT_TRUE(store().create_function(fn("other-group", {{}, {theirs.id}}, true)).ok());
  ASSERT_TRUE(store().create_function(fn("either", {{other.id}, {mine.id}})).ok());
  expect_error(store().create_function(fn("bad", {{"ghost"}, {}})), ErrorCode::kUnknownUser);
  expect_error(store().create_function(fn("bad", {{}, {"ghost"}})), ErrorCode::kUnknownGroup);
  EXPECT_EQ(store().get_function("other-group")->is_public, true);

  ASSERT_OK_AND_ASSIGN(all, store().list_functions(PageRequest{}, std::nullopt));
  EXPECT_EQ(all.items.size(), 6u);
  ASSERT_OK_AND_ASSIGN(seen, store().list_functions(PageRequest{}, AccessFilter{me.id}));
  EXPECT_EQ(names(seen), (std::vector<std::string>{"open", "by-user", "by-group", "either"}));
  // Paging with a filter: the cursor continues after the last visible row.
  ASSERT_OK_AND_ASSIGN(p1,
                       store().list_functions(PageRequest{2, std::nullopt}, AccessFilter{me.id}));
  EXPECT_EQ(names(p1), (std::vector<std::string>{"open", "by-user"}));
  ASSERT_OK_AND_ASSIGN(p2,
                       store().list_functions(PageRequest{2, p1.next_cursor}, AccessFilter{me.id}));
  EXPECT_EQ(names(p2), (std::vector<std::string>{"by-group", "either"}));

  // Updates replace the lists without a new version; deleting the only listed user keeps the id
  // (the function must not become open to everyone).
  FunctionUpdate u;
  u.allowed_users = std::vector<std::string>{"other"};
  u.allowed_groups = std::vector<std::string>{};
  u.is_public = true;
  ASSERT_OK_AND_ASSIGN(f2, store().update_function("by-user", u));
  EXPECT_EQ(f2.allowed.users, std::vector<std::string>{other.id});
  EXPECT_TRUE(f2.is_public);
  EXPECT_EQ(f2.version, 1);
  ASSERT_TRUE(store().delete_user("other").ok());
  EXPECT_EQ(store().get_function("by-user")->allowed.users, std::vector<std::string>{other.id});
  ASSERT_OK_AND_ASSIGN(seen2, store().list_functions(PageRequest{}, AccessFilter{me.id}));
  EXPECT_EQ(names(seen2), (std::vector<std::string>{"open", "by-group", "either"}));

  // Environments carry the same lists.
  NewEnvironment ne{"closed", {}, {{}, {"mine"}}};
  ASSERT_OK_AND_ASSIGN(env, store().create_environment(ne));
  EXPECT_EQ(env.allowed.groups, std::vector<std::string>{mine.id});
  ASSERT_TRUE(store().create_environment(NewEnvironment{"open", {}, {}}).ok());
  ASSERT_TRUE(store().create_environment(NewEnvironment{"theirs", {}, {{}, {"theirs"}}}).ok());
  ASSERT_OK_AND_ASSIGN(envs, store().list_environments(PageRequest{}, AccessFilter{me.id}));
  ASSERT_EQ(envs.items.size(), 2u);
  EXPECT_EQ(envs.items[0].name, "closed");
  EXPECT_EQ(envs.items[1].name, "open");
  EnvironmentUpdate eu;
  eu.allowed_users = std::vector<std::string>{"me"};
  ASSERT_OK_AND_ASSIGN(env2, store().update_environment("theirs", eu));
  EXPECT_EQ(env2.allowed.users, std::vector<std::string>{me.id});
}

TEST_P(AuthStoreTest, ExecutionsRecordTheUser) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(fn("e")));
  Execution a;
  a.id = new_uuid();
  a.function_id = f.id;
  a.input = "null";
  a.trigger = "api";
  a.user_id = "u-1";
  Execution b = a;
  b.id = new_uuid();
  b.user_id.reset();
  std::vector<Execution> batch = {a, b};
  ASSERT_TRUE(store().insert_executions(batch).ok());
  EXPECT_EQ(store().get_execution(a.id)->user_id, std::optional<std::string>("u-1"));
  EXPECT_FALSE(store().get_execution(b.id)->user_id.has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthStoreTest, ::testing::ValuesIn(store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nil::store::testing
