// The storage specification of environments, function access and host-call records (issue 4),
// run against each backend in store_backends().
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/util.h"
#include "store/store.h"
#include "store_fixture.h"

namespace nil::store::testing {
namespace {

class EnvironmentStoreTest : public StoreTest {};

NewEnvironment env(std::string name, std::vector<EnvironmentVar> vars) {
  return NewEnvironment{std::move(name), std::move(vars), {}};
}

NewFunction fn(std::string name, FunctionAccess access = {}) {
  NewFunction f;
  f.name = std::move(name);
  f.language = "wat";
  f.source = "(module)";
  f.access = std::move(access);
  return f;
}

TEST_P(EnvironmentStoreTest, CreateGetByIdAndNameKeepsVarOrderAndSecrets) {
  ASSERT_OK_AND_ASSIGN(
      e, store().create_environment(
             env("prod", {{"ZED", "1", false}, {"API_KEY", "s3cret!", true}, {"A", "", false}})));
  EXPECT_EQ(e.name, "prod");
  EXPECT_TRUE(is_uuid(e.id));
  EXPECT_GT(e.created_at, 0);
  for (const std::string& ref : {e.id, std::string("prod")}) {
    ASSERT_OK_AND_ASSIGN(got, store().get_environment(ref));
    EXPECT_EQ(got.id, e.id);
    ASSERT_EQ(got.vars.size(), 3u);
    EXPECT_EQ(got.vars[0].key, "ZED");
    EXPECT_EQ(got.vars[1].key, "API_KEY");
    EXPECT_EQ(got.vars[1].value, "s3cret!");  // the store holds secrets in clear
    EXPECT_TRUE(got.vars[1].secret);
    EXPECT_FALSE(got.vars[0].secret);
    EXPECT_EQ(got.vars[2].value, "");
  }
}

TEST_P(EnvironmentStoreTest, NameTakenNotFoundDuplicateKey) {
  ASSERT_TRUE(store().create_environment(env("a", {})).ok());
  expect_error(store().create_environment(env("a", {})), ErrorCode::kNameTaken);
  expect_error(store().get_environment("nope"), ErrorCode::kEnvironmentNotFound);
  expect_error(store().update_environment("nope", {}), ErrorCode::kEnvironmentNotFound);
  expect_error(store().delete_environment("nope"), ErrorCode::kEnvironmentNotFound);
  expect_error(store().create_environment(env("b", {{"K", "1", false}, {"K", "2", false}})),
               ErrorCode::kDuplicateEnvKey);
  expect_error(store().get_environment("b"), ErrorCode::kEnvironmentNotFound);
}

TEST_P(EnvironmentStoreTest, UpdateReplacesVarsAndRenames) {
  ASSERT_OK_AND_ASSIGN(
      e, store().create_environment(env("a", {{"K", "1", false}, {"S", "xxxx", true}})));
  ASSERT_TRUE(store().create_environment(env("b", {})).ok());
  EnvironmentUpdate u;
  u.vars = std::vector<EnvironmentVar>{{"N", "2", false}};
  ASSERT_OK_AND_ASSIGN(e2, store().update_environment("a", u));
  ASSERT_EQ(e2.vars.size(), 1u);
  EXPECT_EQ(e2.vars[0].key, "N");
  EXPECT_GE(e2.updated_at, e.updated_at);
  EnvironmentUpdate rename;
  rename.name = "b";
  expect_error(store().update_environment(e.id, rename), ErrorCode::kNameTaken);
  rename.name = "c";
  ASSERT_OK_AND_ASSIGN(e3, store().update_environment(e.id, rename));
  EXPECT_EQ(e3.name, "c");
  EXPECT_EQ(e3.vars.size(), 1u);  // vars unchanged when not given
}

TEST_P(EnvironmentStoreTest, ListPagesInCreationOrder) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store().create_environment(env("e" + std::to_string(i), {{"K", "v", false}})).ok());
  }
  std::vector<std::string> names;
  PageRequest page{2, std::nullopt};
  for (int guard = 0; guard < 10; ++guard) {
    ASSERT_OK_AND_ASSIGN(p, store().list_environments(page));
    for (const auto& e : p.items) {
      names.push_back(e.name);
      EXPECT_EQ(e.vars.size(), 1u);
    }
    if (!p.next_cursor) break;
    page.cursor = p.next_cursor;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"e0", "e1", "e2", "e3", "e4"}));
  PageRequest bad{2, base64url_encode("f1:1")};  // a functions cursor
  expect_error(store().list_environments(bad), ErrorCode::kInvalidCursor);
}

TEST_P(EnvironmentStoreTest, FunctionAccessPersistsAndResolvesEnvironmentsInOrder) {
  ASSERT_OK_AND_ASSIGN(base, store().create_environment(env("base", {{"K", "base", false}})));
  ASSERT_TRUE(store().create_environment(env("over", {{"K", "over", false}})).ok());
  FunctionAccess access;
  access.environments = {base.id, "over"};  // an id and a name
  access.http_allow = {"api.example.com", "127.0.0.1:8081"};
  access.grants = {"db:ddl"};
  ASSERT_OK_AND_ASSIGN(f, store().create_function(fn("f", access)));
  EXPECT_EQ(f.access.environments, (std::vector<std::string>{"base", "over"}));  // names
  EXPECT_EQ(f.access.http_allow, access.http_allow);
  EXPECT_EQ(f.access.grants, access.grants);
  reopen();
  ASSERT_OK_AND_ASSIGN(got, store().get_function("f"));
  EXPECT_EQ(got.access.environments, (std::vector<std::string>{"base", "over"}));
  EXPECT_EQ(got.access.http_allow, access.http_allow);
  ASSERT_OK_AND_ASSIGN(envs, store().function_environments(f.id));
  ASSERT_EQ(envs.size(), 2u);
  EXPECT_EQ(envs[0].name, "base");
  EXPECT_EQ(envs[1].vars.at(0).value, "over");
  ASSERT_OK_AND_ASSIGN(list, store().list_functions({}));
  ASSERT_EQ(list.items.size(), 1u);
  EXPECT_EQ(list.items[0].access.environments.size(), 2u);

  // A rename shows through: attachments are by id.
  EnvironmentUpdate rename;
  rename.name = "renamed";
  ASSERT_TRUE(store().update_environment("base", rename).ok());
  ASSERT_OK_AND_ASSIGN(after, store().get_function(f.id));
  EXPECT_EQ(after.access.environments, (std::vector<std::string>{"renamed", "over"}));
}

TEST_P(EnvironmentStoreTest, UnknownEnvironmentIsRejectedAndNothingIsCreated) {
  FunctionAccess access;
  access.environments = {"missing"};
  expect_error(store().create_function(fn("f", access)), ErrorCode::kUnknownEnvironment);
  expect_error(store().get_function("f"), ErrorCode::kFunctionNotFound);
  ASSERT_OK_AND_ASSIGN(stats, store().compile_queue_stats());
  EXPECT_EQ(stats.pending, 0);
}

TEST_P(EnvironmentStoreTest, AccessUpdateKeepsVersionAndClears) {
  ASSERT_TRUE(store().create_environment(env("e", {})).ok());
  ASSERT_OK_AND_ASSIGN(f, store().create_function(fn("f")));
  FunctionUpdate u;
  u.environments = std::vector<std::string>{"e"};
  u.http_allow = std::vector<std::string>{"example.com"};
  ASSERT_OK_AND_ASSIGN(f2, store().update_function(f.id, u));
  EXPECT_EQ(f2.version, f.version);
  EXPECT_EQ(f2.access.environments, (std::vector<std::string>{"e"}));
  EXPECT_EQ(f2.access.http_allow, (std::vector<std::string>{"example.com"}));
  EXPECT_TRUE(f2.access.grants.empty());
  FunctionUpdate bad;
  bad.environments = std::vector<std::string>{"e", "nope"};
  expect_error(store().update_function(f.id, bad), ErrorCode::kUnknownEnvironment);
  FunctionUpdate clear;
  clear.environments = std::vector<std::string>{};
  clear.http_allow = std::vector<std::string>{};
  ASSERT_OK_AND_ASSIGN(f3, store().update_function(f.id, clear));
  EXPECT_TRUE(f3.access.environments.empty());
  EXPECT_TRUE(f3.access.http_allow.empty());
}

TEST_P(EnvironmentStoreTest, DeleteWhileAttachedIsInUseThenAllowed) {
  ASSERT_TRUE(store().create_environment(env("e", {{"K", "v", false}})).ok());
  FunctionAccess access;
  access.environments = {"e"};
  ASSERT_OK_AND_ASSIGN(f, store().create_function(fn("user", access)));
  auto r = store().delete_environment("e");
  expect_error(r, ErrorCode::kEnvironmentInUse);
  EXPECT_NE(r.error().message.find("user"), std::string::npos) << r.error().message;
  ASSERT_TRUE(store().delete_function(f.id).ok());  // detaches
  ASSERT_TRUE(store().delete_environment("e").ok());
  expect_error(store().get_environment("e"), ErrorCode::kEnvironmentNotFound);
}

TEST_P(EnvironmentStoreTest, ExecutionHostCallsRoundTrip) {
  ASSERT_OK_AND_ASSIGN(f, store().create_function(fn("f")));
  Execution e;
  e.id = new_uuid();
  e.function_id = f.id;
  e.input = "null";
  e.output = "1";
  e.started_at = 10;
  e.finished_at = 11;
  e.trigger = "api";
  e.host_calls = R"([{"name":"env","count":2,"bytesIn":6,"bytesOut":10,"ms":0.01}])";
  Execution old = e;
  old.id = new_uuid();
  old.host_calls.reset();
  ASSERT_TRUE(store().insert_executions(std::vector<Execution>{e, old}).ok());
  ASSERT_OK_AND_ASSIGN(got, store().get_execution(e.id));
  EXPECT_EQ(got.host_calls, e.host_calls);
  ASSERT_OK_AND_ASSIGN(got_old, store().get_execution(old.id));
  EXPECT_FALSE(got_old.host_calls.has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, EnvironmentStoreTest, ::testing::ValuesIn(store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nil::store::testing
