// Environments and secrets through the API (issue 4): CRUD, validation, secrets write-only, a
// function's environments in its WASI environ, secrets redacted from logs and output, changes
// visible to the next invocation, and secrets never in the server's own log.
#include "harness.h"

namespace nil::it {
namespace {

class Environments : public NildSuite<Environments> {};

json::object var(std::string_view key, std::string_view value, bool secret = false) {
  json::object v{{"key", key}, {"value", value}};
  if (secret) v["secret"] = true;
  return v;
}

// POST /environments; expects 201 and returns the environment JSON.
json::object create_env(HttpClient& c, std::string_view name, json::array vars) {
  auto r = c.post_json("/environments", json::object{{"name", name}, {"vars", std::move(vars)}});
  EXPECT_EQ(r.status, 201) << c.describe_exchange();
  if (r.status != 201) return {};
  EXPECT_EQ(r.header("location"), "/environments/" + str(r.json(), "id")) << r.describe();
  return r.json().as_object();
}

// The value shown for `key` in an environment JSON ("" if absent).
std::string shown(const json::value& env, std::string_view key) {
  for (const auto& v : env.at("vars").as_array()) {
    if (str(v, "key") == key) return str(v, "value");
  }
  return "";
}

TEST_F(Environments, CrudWithSecretsWriteOnly) {
  std::string name = unique_name("env");
  json::object e =
      create_env(http(), name,
                 json::array{var("REGION", "eu-west-1"), var("API_KEY", "sk-live-123456", true)});
  ASSERT_FALSE(e.empty());
  std::string id = str(e, "id");
  EXPECT_EQ(str(e, "name"), name);
  EXPECT_EQ(shown(e, "REGION"), "eu-west-1");
  EXPECT_EQ(shown(e, "API_KEY"), "***");
  EXPECT_FALSE(str(e, "createdAt").empty());

  for (const std::string& ref : {id, name}) {
    auto r = http().get("/environments/" + ref);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(str(r.json(), "id"), id);
    EXPECT_EQ(shown(r.json(), "API_KEY"), "***");
    EXPECT_EQ(r.body.find("sk-live-123456"), std::string::npos) << r.describe();
    ASSERT_EQ(r.json().at("vars").as_array().size(), 2u);
    EXPECT_EQ(r.json().at("vars").at(1).at("secret"), json::value(true));
  }

  auto list = http().get("/environments?limit=200");
  ASSERT_EQ(list.status, 200) << list.describe();
  EXPECT_NE(list.body.find(id), std::string::npos);
  EXPECT_EQ(list.body.find("sk-live-123456"), std::string::npos);

  // PUT replaces the vars; a secret given without "value" keeps its stored value.
  auto put = http().put_json(
      "/environments/" + id,
      json::object{{"vars", json::array{var("REGION", "us-east-1"),
                                        json::object{{"key", "API_KEY"}, {"secret", true}}}}});
  ASSERT_EQ(put.status, 200) << put.describe();
  EXPECT_EQ(shown(put.json(), "REGION"), "us-east-1");
  EXPECT_EQ(shown(put.json(), "API_KEY"), "***");
  // A non-secret cannot omit its value.
  EXPECT_TRUE(is_problem(
      http().put_json("/environments/" + id,
                      json::object{{"vars", json::array{json::object{{"key", "REGION"}}}}}),
      400, "missing_field"));
  // Rename.
  std::string renamed = unique_name("renamed");
  auto rn = http().put_json("/environments/" + id, json::object{{"name", renamed}});
  ASSERT_EQ(rn.status, 200) << rn.describe();
  EXPECT_EQ(str(rn.json(), "name"), renamed);
  EXPECT_EQ(rn.json().at("vars").as_array().size(), 2u);

  auto del = http().del("/environments/" + id);
  EXPECT_EQ(del.status, 204) << del.describe();
  EXPECT_TRUE(is_problem(http().get("/environments/" + id), 404, "environment_not_found"));
  EXPECT_TRUE(is_problem(http().del("/environments/" + id), 404, "environment_not_found"));
  EXPECT_TRUE(
      is_problem(http().request("PATCH", "/environments/" + id), 405, "method_not_allowed"));
}

TEST_F(Environments, ValidationTable) {
  std::string taken = unique_name("taken");
  create_env(http(), taken, {});
  std::string long_key(129, 'K');
  std::string big_value((32 << 10) + 1, 'v');
  json::array too_many;
  for (int i = 0; i < 257; ++i) too_many.push_back(var("K" + std::to_string(i), "v"));
  struct Case {
    std::string what;
    json::value body;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"no name", json::object{{"vars", json::array{}}}, 400, "missing_field"},
      {"bad name", json::object{{"name", "Bad_Name"}}, 400, "invalid_name"},
      {"name too long", json::object{{"name", "a" + std::string(63, 'b')}}, 400, "invalid_name"},
      {"taken", json::object{{"name", taken}}, 409, "name_taken"},
      {"unknown field", json::object{{"name", "ok-name"}, {"secrets", json::object{}}}, 400,
       "unknown_field"},
      {"vars not array", json::object{{"name", "ok-name"}, {"vars", json::object{{"K", "v"}}}}, 400,
       "invalid_field"},
      {"var not object", json::object{{"name", "ok-name"}, {"vars", json::array{"K=v"}}}, 400,
       "invalid_field"},
      {"var unknown field",
       json::object{{"name", "ok-name"},
                    {"vars", json::array{json::object{{"key", "K"}, {"value", "v"}, {"x", 1}}}}},
       400, "unknown_field"},
      {"key missing",
       json::object{{"name", "ok-name"}, {"vars", json::array{json::object{{"value", "v"}}}}}, 400,
       "missing_field"},
      {"key digit first", json::object{{"name", "ok-name"}, {"vars", json::array{var("1K", "v")}}},
       400, "invalid_env_key"},
      {"key dash", json::object{{"name", "ok-name"}, {"vars", json::array{var("A-B", "v")}}}, 400,
       "invalid_env_key"},
      {"key empty", json::object{{"name", "ok-name"}, {"vars", json::array{var("", "v")}}}, 400,
       "invalid_env_key"},
      {"key too long", json::object{{"name", "ok-name"}, {"vars", json::array{var(long_key, "v")}}},
       400, "invalid_env_key"},
      {"value not string",
       json::object{{"name", "ok-name"},
                    {"vars", json::array{json::object{{"key", "K"}, {"value", 1}}}}},
       400, "invalid_field"},
      {"value missing",
       json::object{{"name", "ok-name"}, {"vars", json::array{json::object{{"key", "K"}}}}}, 400,
       "missing_field"},
      {"value too big",
       json::object{{"name", "ok-name"}, {"vars", json::array{var("K", big_value)}}}, 400,
       "invalid_env_value"},
      {"secret too short",
       json::object{{"name", "ok-name"}, {"vars", json::array{var("K", "abc", true)}}}, 400,
       "invalid_env_value"},
      {"secret not bool",
       json::object{
           {"name", "ok-name"},
           {"vars", json::array{json::object{{"key", "K"}, {"value", "v"}, {"secret", "yes"}}}}},
       400, "invalid_field"},
      {"duplicate key",
       json::object{{"name", "ok-name"}, {"vars", json::array{var("K", "1"), var("K", "2")}}}, 400,
       "duplicate_env_key"},
      {"too many keys", json::object{{"name", "ok-name"}, {"vars", too_many}}, 400,
       "too_many_env_vars"},
      {"not an object", json::array{}, 400, "invalid_body"},
  };
  for (const auto& c : cases) {
    auto r = http().post_json("/environments", c.body);
    EXPECT_TRUE(is_problem(r, c.status, c.code)) << c.what;
  }
  // None of the rejected ones exists.
  EXPECT_TRUE(is_problem(http().get("/environments/ok-name"), 404, "environment_not_found"));
  // Limits are inclusive: 256 keys of 32 KiB-free values, a 128-char key, a 32 KiB value.
  too_many.pop_back();
  too_many[0] = var(std::string(128, 'K'), std::string(32 << 10, 'v'));
  create_env(http(), unique_name("edge"), too_many);
  // A secret's value never appears in an error.
  auto r = http().post_json(
      "/environments",
      json::object{{"name", "ok-name"},
                   {"vars", json::array{var("S", "topsecret-" + big_value, true)}}});
  EXPECT_TRUE(is_problem(r, 400, "invalid_env_value"));
  EXPECT_EQ(r.body.find("topsecret"), std::string::npos) << r.describe();
}

TEST_F(Environments, FunctionFieldsAreValidatedAndShown) {
  std::string env = unique_name("fenv");
  create_env(http(), env, json::array{var("A", "1")});
  std::string name = unique_name("fn");
  json::object f = wat_function(name, wat("echo"));
  f["environments"] = json::array{env};
  f["httpAllow"] = json::array{"API.Example.com", "127.0.0.1:8081", "[::1]:9000"};
  f["grants"] = json::array{"db:ddl"};
  auto r = http().post_json("/functions", f);
  ASSERT_EQ(r.status, 202) << r.describe();
  std::string id = str(r.json(), "id");
  EXPECT_EQ(r.json().at("environments"), (json::array{json::value(env)}));
  EXPECT_EQ(r.json().at("httpAllow"),
            (json::array{"api.example.com", "127.0.0.1:8081", "[::1]:9000"}));
  EXPECT_EQ(r.json().at("grants"), (json::array{"db:ddl"}));

  auto bad = [&](json::object extra, std::string_view code) {
    json::object body = wat_function(unique_name("bad"), wat("echo"));
    for (auto& kv : extra) body[kv.key()] = kv.value();
    auto resp = http().post_json("/functions", body);
    EXPECT_TRUE(is_problem(resp, 400, code)) << json::serialize(body).substr(0, 200);
    auto put = http().put_json("/functions/" + id, extra);
    EXPECT_TRUE(is_problem(put, 400, code)) << json::serialize(extra);
  };
  bad({{"environments", json::array{"no-such-env"}}}, "unknown_environment");
  bad({{"environments", "x"}}, "invalid_field");
  bad({{"environments", json::array{env, env}}}, "invalid_field");
  bad({{"grants", json::array{"db:admin"}}}, "unknown_grant");
  bad({{"grants", json::array{1}}}, "invalid_field");
  bad({{"httpAllow", json::array{"https://example.com"}}}, "invalid_http_allow");
  bad({{"httpAllow", json::array{"*.example.com"}}}, "invalid_http_allow");
  bad({{"httpAllow", json::array{"example.com/path"}}}, "invalid_http_allow");
  bad({{"httpAllow", json::array{"example.com:0"}}}, "invalid_http_allow");
  bad({{"httpAllow", json::array{"example.com:70000"}}}, "invalid_http_allow");

  // Access-only PUT: 200, no new version; an empty list detaches.
  auto before = http().get("/functions/" + id).json();
  auto put = http().put_json(
      "/functions/" + id, json::object{{"environments", json::array{}}, {"grants", json::array{}}});
  ASSERT_EQ(put.status, 200) << put.describe();
  EXPECT_EQ(put.json().at("version"), before.at("version"));
  EXPECT_TRUE(put.json().at("environments").as_array().empty());
  EXPECT_TRUE(put.json().at("grants").as_array().empty());
  EXPECT_EQ(put.json().at("httpAllow").as_array().size(), 3u);  // untouched
}

TEST_F(Environments, DeleteWhileAttachedIsInUse) {
  std::string env = unique_name("used");
  std::string env_id = str(create_env(http(), env, {}), "id");
  json::object f = wat_function(unique_name("user"), wat("echo"));
  f["environments"] = json::array{env};
  auto r = http().post_json("/functions", f);
  ASSERT_EQ(r.status, 202) << r.describe();
  EXPECT_TRUE(is_problem(http().del("/environments/" + env), 409, "environment_in_use"));
  ASSERT_EQ(http().del("/functions/" + str(r.json(), "id")).status, 204);
  EXPECT_EQ(http().del("/environments/" + env_id).status, 204);
}

TEST_F(Environments, EnvironIsMergedSecretsRedactedAndChangesSeenNextInvocation) {
  const std::string secret = "tok-9f8e7d6c5b4a";
  std::string base = unique_name("base");
  std::string over = unique_name("over");
  create_env(http(), base,
             json::array{var("REGION", "eu"), var("MODE", "base"), var("TOKEN", secret, true)});
  create_env(http(), over, json::array{var("MODE", "over")});
  json::object f = wat_function(unique_name("environ"), wat("environ"));
  f["environments"] = json::array{base, over};
  auto r = http().post_json("/functions", f);
  ASSERT_EQ(r.status, 202) << r.describe();
  std::string id = str(r.json(), "id");
  ASSERT_EQ(str(wait_terminal(http(), id), "status"), "READY");

  // The caller's identity follows the environments (issue 5; docs/abi.md).
  auto me = http().get("/auth/me");
  ASSERT_EQ(me.status, 200) << me.describe();
  const std::string who =
      "NIL_USER_ID=" + str(me.json(), "id") + " NIL_USERNAME=admin NIL_USER_ROLE=admin ";

  auto e = execute(http(), id, nullptr);
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  // Later environment wins, in place; the secret is masked in the answer.
  EXPECT_EQ(e.at("output"), json::value("REGION=eu MODE=over TOKEN=*** " + who))
      << json::serialize(e);
  auto stored = get_execution(http(), str(e, "executionId"));
  ASSERT_EQ(stored.status, 200) << stored.describe();
  EXPECT_EQ(stored.json().at("output"), json::value("REGION=eu MODE=over TOKEN=*** " + who));
  EXPECT_EQ(str(stored.json(), "logs"), "REGION=eu MODE=over TOKEN=*** " + who + "\n");
  EXPECT_EQ(stored.body.find(secret), std::string::npos) << stored.describe();
  EXPECT_TRUE(stored.json().at("hostCalls").is_array()) << stored.describe();

  // An environment change is seen by the very next invocation (no stale cache).
  auto put = http().put_json("/environments/" + over,
                             json::object{{"vars", json::array{var("MODE", "changed")}}});
  ASSERT_EQ(put.status, 200) << put.describe();
  EXPECT_EQ(execute(http(), id, nullptr).at("output"),
            json::value("REGION=eu MODE=changed TOKEN=*** " + who));
  // So is a detach.
  auto detach =
      http().put_json("/functions/" + id, json::object{{"environments", json::array{over}}});
  ASSERT_EQ(detach.status, 200) << detach.describe();
  EXPECT_EQ(execute(http(), id, nullptr).at("output"), json::value("MODE=changed " + who));

  // The server's own log never carries the secret.
  for (const auto& line : nild().log_lines()) {
    EXPECT_EQ(line.find(secret), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace nil::it
