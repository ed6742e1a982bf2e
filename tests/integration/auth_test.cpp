// Users, groups, API keys, sessions and permissions (issue 5), against a real nild:
// the role × endpoint matrix, revocation taking effect at once, access-filtered lists, caller
// identity reaching the function and its execution record, sessions (cookie attributes, CSRF,
// expiry, logout), login throttling, rate limits, and the offline `nild keys create`.
#include <stdio.h>
#include <time.h>

#include <array>
#include <functional>
#include <thread>

#include "harness.h"

namespace nil::it {
namespace {

// RFC 3339 (UTC) `seconds` from now.
std::string rfc3339_in(int seconds) {
  time_t t = ::time(nullptr) + seconds;
  struct tm tm;
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// POST /users as admin; returns the user id.
std::string create_user(HttpClient& admin, const std::string& name, const std::string& role,
                        json::array grants = {}) {
  auto r = admin.post_json("/users", json::object{{"username", name},
                                                  {"password", "password-" + name},
                                                  {"role", role},
                                                  {"grants", std::move(grants)}});
  EXPECT_EQ(r.status, 201) << r.describe();
  return str(r.json(), "id");
}

// A new API key for `user` (admin creates it); returns the token.
std::string key_for(HttpClient& admin, const std::string& user_id,
                    std::optional<std::string> expires = {}) {
  json::object body{{"name", "test"}, {"userId", user_id}};
  if (expires) body["expiresAt"] = *expires;
  auto r = admin.post_json("/api-keys", body);
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_TRUE(str(r.json(), "key").starts_with("nil_")) << r.describe();
  return str(r.json(), "key");
}

std::string key_id_of(HttpClient& admin, const std::string& token) {
  json::value v = admin.get("/api-keys?limit=200").json();
  for (const auto& k : v.at("items").as_array()) {
    if (token.starts_with(str(k, "prefix")) && !k.at("revoked").as_bool()) return str(k, "id");
  }
  return "";
}

std::string multipart(const std::string& name, const std::string& wasm) {
  std::string b = "----niltestboundary";
  return "--" + b + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n" + name + "\r\n--" +
         b +
         "\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"m.wasm\"\r\n"
         "Content-Type: application/wasm\r\n\r\n" +
         wasm + "\r\n--" + b + "--\r\n";
}

// --- the role × endpoint matrix ----------------------------------------------------------------

enum Who { kAdmin, kDev, kDeployer, kAnonymous, kRevoked, kExpired, kWhoCount };
const char* const kWhoNames[] = {"admin",     "dev",         "dev+deploy",
                                 "anonymous", "revoked key", "expired key"};

class Permissions : public NildSuite<Permissions> {};

struct Req {
  std::string method;
  std::string target;
  std::string body;
  std::string content_type = "application/json";
};

struct Case {
  std::string what;
  std::function<Req(Who)> make;  // may create a fresh resource (as admin) for the request
  std::array<int, kWhoCount> expected;
};

TEST_F(Permissions, RoleByEndpointMatrix) {
  HttpClient& admin = http();
  const std::string sfx = unique_name("m");
  const std::string admin_id = str(admin.get("/auth/me").json(), "id");
  const std::string dev_id = create_user(admin, "dev-" + sfx, "dev");
  const std::string dep_id = create_user(admin, "dep-" + sfx, "dev", json::array{"deploy"});
  const std::string other_id = create_user(admin, "other-" + sfx, "dev");
  const std::string group = "g-" + sfx;
  ASSERT_EQ(admin.post_json("/groups", json::object{{"name", group}}).status, 201);

  std::array<std::optional<HttpClient>, kWhoCount> as;
  as[kAdmin].emplace(nild().port(), nild().api_key());
  as[kDev].emplace(nild().port(), key_for(admin, dev_id));
  as[kDeployer].emplace(nild().port(), key_for(admin, dep_id));
  as[kAnonymous].emplace(HttpClient::anonymous(nild().port()));
  std::string revoked = key_for(admin, dev_id);
  ASSERT_EQ(admin.del("/api-keys/" + key_id_of(admin, revoked)).status, 204);
  as[kRevoked].emplace(nild().port(), revoked);
  std::string expiring = key_for(admin, dev_id, rfc3339_in(1));
  as[kExpired].emplace(nild().port(), expiring);

  // Resources: "shared" (no lists: every authenticated user), "secret" (another user only),
  // "pub" (public, listed for another user only).
  auto make_fn = [&](const std::string& name, json::object extra) {
    json::object f = wat_function(name, wat("echo"));
    for (auto& kv : extra) f[kv.key()] = kv.value();
    auto r = admin.post_json("/functions", f);
    EXPECT_EQ(r.status, 202) << r.describe();
    std::string id = str(r.json(), "id");
    EXPECT_EQ(str(wait_terminal(admin, id), "status"), "READY");
    return id;
  };
  const std::string shared_name = "shared-" + sfx, secret_name = "secret-" + sfx,
                    pub_name = "pub-" + sfx;
  const std::string shared = make_fn(shared_name, {});
  const std::string secret = make_fn(secret_name, {{"allowedUsers", json::array{other_id}}});
  make_fn(pub_name, {{"allowedUsers", json::array{other_id}}, {"public", true}});
  const std::string secret_exec = str(execute(admin, secret, json::object{}), "executionId");
  const std::string open_env = "open-" + sfx, closed_env = "closed-" + sfx;
  ASSERT_EQ(admin.post_json("/environments", json::object{{"name", open_env}}).status, 201);
  ASSERT_EQ(admin
                .post_json("/environments", json::object{{"name", closed_env},
                                                         {"allowedGroups", json::array{group}}})
                .status,
            201);
  const std::string echo_wasm = wasm_bytes("echo");
  std::string deployers_fn;
  {
    auto r = as[kDeployer]->post_json("/functions", wat_function("own-" + sfx, wat("echo")));
    ASSERT_EQ(r.status, 202) << r.describe();
    deployers_fn = str(r.json(), "id");
  }

  int fresh = 0;
  auto fresh_name = [&](const char* p) {
    return std::string(p) + "-" + sfx + "-" + std::to_string(fresh++);
  };
  auto fresh_fn = [&](json::object extra) {
    json::object f = wat_function(fresh_name("f"), wat("echo"));
    for (auto& kv : extra) f[kv.key()] = kv.value();
    auto r = admin.post_json("/functions", f);
    EXPECT_EQ(r.status, 202) << r.describe();
    return str(r.json(), "id");
  };
  auto fresh_user = [&] { return create_user(admin, fresh_name("u"), "dev"); };
  auto J = [](const json::value& v) { return json::serialize(v); };
  const json::object limits{{"limits", json::object{{"timeoutMs", 5000}}}};

  // Expected: admin, dev, dev+deploy, anonymous, revoked key, expired key.
  const std::vector<Case> cases = {
      {"GET /healthz",
       [&](Who) {
         return Req{"GET", "/healthz", ""};
       },
       {200, 200, 200, 200, 200, 200}},
      {"GET /readyz",
       [&](Who) {
         return Req{"GET", "/readyz", ""};
       },
       {200, 200, 200, 200, 200, 200}},
      {"GET /functions",
       [&](Who) {
         return Req{"GET", "/functions", ""};
       },
       {200, 200, 200, 401, 401, 401}},
      {"POST /functions",
       [&](Who) {
         return Req{"POST", "/functions", J(wat_function(fresh_name("new"), wat("echo")))};
       },
       {202, 403, 202, 401, 401, 401}},
      {"POST /functions with allowedUsers",
       [&](Who) {
         json::object f = wat_function(fresh_name("new"), wat("echo"));
         f["allowedUsers"] = json::array{dev_id};
         return Req{"POST", "/functions", J(f)};
       },
       {202, 403, 403, 401, 401, 401}},
      {"GET /functions/{shared}",
       [&](Who) {
         return Req{"GET", "/functions/" + shared, ""};
       },
       {200, 200, 200, 401, 401, 401}},
      {"GET /functions/{secret}",
       [&](Who) {
         return Req{"GET", "/functions/" + secret, ""};
       },
       {200, 404, 404, 401, 401, 401}},
      // Seeing a function is not owning it: only its owner, a manager or an admin may change it
      // (issue 11, finding 4).
      {"PUT /functions/{shared} limits",
       [&](Who) {
         return Req{"PUT", "/functions/" + shared, J(limits)};
       },
       {200, 403, 403, 401, 401, 401}},
      // A dev's function is private to them until an admin shares it: others do not see it.
      {"PUT /functions/{deployer's own} limits",
       [&](Who) {
         return Req{"PUT", "/functions/" + deployers_fn, J(limits)};
       },
       {200, 404, 200, 401, 401, 401}},
      {"PUT /functions/{secret} limits",
       [&](Who) {
         return Req{"PUT", "/functions/" + secret, J(limits)};
       },
       {200, 404, 404, 401, 401, 401}},
      {"PUT /functions/{shared} allowedGroups",
       [&](Who) {
         return Req{"PUT", "/functions/" + fresh_fn({}),
                    J(json::object{{"allowedGroups", json::array{group}}})};
       },
       {200, 403, 403, 401, 401, 401}},
      {"DELETE /functions/{fresh shared}",
       [&](Who) {
         return Req{"DELETE", "/functions/" + fresh_fn({}), ""};
       },
       {204, 403, 403, 401, 401, 401}},
      {"DELETE /functions/{fresh secret}",
       [&](Who) {
         return Req{"DELETE", "/functions/" + fresh_fn({{"allowedUsers", json::array{other_id}}}),
                    ""};
       },
       {204, 404, 404, 401, 401, 401}},
      {"POST /functions/{shared}/execute",
       [&](Who) {
         return Req{"POST", "/functions/" + shared + "/execute", "{}"};
       },
       {200, 200, 200, 401, 401, 401}},
      {"POST /functions/{secret}/execute",
       [&](Who) {
         return Req{"POST", "/functions/" + secret + "/execute", "{}"};
       },
       {200, 404, 404, 401, 401, 401}},
      {"POST /functions/v1/{shared}",
       [&](Who) {
         return Req{"POST", "/functions/v1/" + shared_name, "{}"};
       },
       {200, 200, 200, 401, 401, 401}},
      {"POST /functions/v1/{public}",
       [&](Who) {
         return Req{"POST", "/functions/v1/" + pub_name, "{}"};
       },
       {200, 200, 200, 200, 401, 401}},
      {"POST /functions/v1/{secret}",
       [&](Who) {
         return Req{"POST", "/functions/v1/" + secret_name, "{}"};
       },
       {200, 404, 404, 401, 401, 401}},
      {"POST /functions/v1/{missing}",
       [&](Who) {
         return Req{"POST", "/functions/v1/nope-" + sfx, "{}"};
       },
       {404, 404, 404, 401, 401, 401}},
      {"POST /functions/v1/deploy",
       [&](Who) {
         return Req{"POST", "/functions/v1/deploy", multipart(fresh_name("dep"), echo_wasm),
                    "multipart/form-data; boundary=----niltestboundary"};
       },
       {202, 403, 202, 401, 401, 401}},
      {"GET /functions/{shared}/executions",
       [&](Who) {
         return Req{"GET", "/functions/" + shared + "/executions", ""};
       },
       {200, 200, 200, 401, 401, 401}},
      {"GET /functions/{secret}/executions",
       [&](Who) {
         return Req{"GET", "/functions/" + secret + "/executions", ""};
       },
       {200, 404, 404, 401, 401, 401}},
      {"GET /executions/{of secret}",
       [&](Who) {
         return Req{"GET", "/executions/" + secret_exec, ""};
       },
       {200, 404, 404, 401, 401, 401}},
      {"GET /environments",
       [&](Who) {
         return Req{"GET", "/environments", ""};
       },
       {200, 200, 200, 401, 401, 401}},
      {"POST /environments",
       [&](Who) {
         return Req{"POST", "/environments", J(json::object{{"name", fresh_name("env")}})};
       },
       {201, 403, 403, 401, 401, 401}},
      {"GET /environments/{open}",
       [&](Who) {
         return Req{"GET", "/environments/" + open_env, ""};
       },
       {200, 200, 200, 401, 401, 401}},
      {"GET /environments/{closed}",
       [&](Who) {
         return Req{"GET", "/environments/" + closed_env, ""};
       },
       {200, 404, 404, 401, 401, 401}},
      {"PUT /environments/{open}",
       [&](Who) {
         return Req{"PUT", "/environments/" + open_env, J(json::object{{"vars", json::array{}}})};
       },
       {200, 403, 403, 401, 401, 401}},
      {"PUT /environments/{closed}",
       [&](Who) {
         return Req{"PUT", "/environments/" + closed_env, J(json::object{{"vars", json::array{}}})};
       },
       {200, 404, 404, 401, 401, 401}},
      {"DELETE /environments/{fresh open}",
       [&](Who) {
         std::string n = fresh_name("env");
         EXPECT_EQ(admin.post_json("/environments", json::object{{"name", n}}).status, 201);
         return Req{"DELETE", "/environments/" + n, ""};
       },
       {204, 403, 403, 401, 401, 401}},
      {"GET /admin/queues",
       [&](Who) {
         return Req{"GET", "/admin/queues", ""};
       },
       {200, 403, 403, 401, 401, 401}},
      {"GET /users",
       [&](Who) {
         return Req{"GET", "/users", ""};
       },
       {200, 403, 403, 401, 401, 401}},
      {"POST /users",
       [&](Who) {
         return Req{
             "POST", "/users",
             J(json::object{
                 {"username", fresh_name("nu")}, {"password", "password-1"}, {"role", "dev"}})};
       },
       {201, 403, 403, 401, 401, 401}},
      {"GET /users/{dev}",
       [&](Who) {
         return Req{"GET", "/users/" + dev_id, ""};
       },
       {200, 200, 404, 401, 401, 401}},
      {"GET /users/admin",
       [&](Who) {
         return Req{"GET", "/users/admin", ""};
       },
       {200, 404, 404, 401, 401, 401}},
      {"PUT /users/{dev} password",
       [&](Who) {
         return Req{"PUT", "/users/" + dev_id, J(json::object{{"password", "password-new-1"}})};
       },
       {200, 200, 404, 401, 401, 401}},
      {"PUT /users/{dev} role",
       [&](Who) {
         return Req{"PUT", "/users/" + dev_id, J(json::object{{"role", "dev"}})};
       },
       {200, 403, 404, 401, 401, 401}},
      {"DELETE /users/{fresh}",
       [&](Who) {
         return Req{"DELETE", "/users/" + fresh_user(), ""};
       },
       {204, 404, 404, 401, 401, 401}},
      {"GET /groups",
       [&](Who) {
         return Req{"GET", "/groups", ""};
       },
       {200, 403, 403, 401, 401, 401}},
      {"POST /groups",
       [&](Who) {
         return Req{"POST", "/groups", J(json::object{{"name", fresh_name("grp")}})};
       },
       {201, 403, 403, 401, 401, 401}},
      {"GET /groups/{g}",
       [&](Who) {
         return Req{"GET", "/groups/" + group, ""};
       },
       {200, 403, 403, 401, 401, 401}},
      {"DELETE /groups/{fresh}",
       [&](Who) {
         std::string n = fresh_name("grp");
         EXPECT_EQ(admin.post_json("/groups", json::object{{"name", n}}).status, 201);
         return Req{"DELETE", "/groups/" + n, ""};
       },
       {204, 403, 403, 401, 401, 401}},
      {"GET /groups/{g}/members",
       [&](Who) {
         return Req{"GET", "/groups/" + group + "/members", ""};
       },
       {200, 403, 403, 401, 401, 401}},
      {"POST /groups/{g}/members",
       [&](Who) {
         return Req{"POST", "/groups/" + group + "/members",
                    J(json::object{{"userId", fresh_user()}})};
       },
       {204, 403, 403, 401, 401, 401}},
      {"DELETE /groups/{g}/members/{u}",
       [&](Who) {
         std::string u = fresh_user();
         EXPECT_EQ(
             admin.post_json("/groups/" + group + "/members", json::object{{"userId", u}}).status,
             204);
         return Req{"DELETE", "/groups/" + group + "/members/" + u, ""};
       },
       {204, 403, 403, 401, 401, 401}},
      {"GET /api-keys",
       [&](Who) {
         return Req{"GET", "/api-keys", ""};
       },
       {200, 200, 200, 401, 401, 401}},
      {"POST /api-keys (own)",
       [&](Who) {
         return Req{"POST", "/api-keys", J(json::object{{"name", "own"}})};
       },
       {201, 201, 201, 401, 401, 401}},
      {"POST /api-keys (for admin)",
       [&](Who) {
         return Req{"POST", "/api-keys", J(json::object{{"name", "x"}, {"userId", admin_id}})};
       },
       {201, 403, 403, 401, 401, 401}},
      {"DELETE /api-keys/{dev's}",
       [&](Who) {
         std::string k = key_for(admin, dev_id);
         return Req{"DELETE", "/api-keys/" + key_id_of(admin, k), ""};
       },
       {204, 204, 404, 401, 401, 401}},
      {"GET /auth/me",
       [&](Who) {
         return Req{"GET", "/auth/me", ""};
       },
       {200, 200, 200, 401, 401, 401}},
      {"POST /auth/logout",
       [&](Who) {
         return Req{"POST", "/auth/logout", ""};
       },
       {204, 204, 204, 401, 401, 401}},
      {"GET /no-such-route",
       [&](Who) {
         return Req{"GET", "/no-such-route-" + sfx, ""};
       },
       {404, 404, 404, 401, 401, 401}},
  };

  // The expiring key was made ~1 s ago with a one-second lifetime; make sure it is past (nild is
  // another process: only real time moves its clock).
  std::this_thread::sleep_for(1500ms);
  int checked = 0;
  for (const auto& c : cases) {
    for (int w = 0; w < kWhoCount; ++w) {
      Req rq = c.make(static_cast<Who>(w));
      auto r = as[w]->request(
          rq.method, rq.target, rq.body,
          rq.body.empty() && rq.method != "POST" && rq.method != "PUT" ? "" : rq.content_type);
      EXPECT_EQ(r.status, c.expected[w]) << c.what << " as " << kWhoNames[w] << "\n"
                                         << r.describe();
      if (r.status == 401) {
        EXPECT_TRUE(is_problem(r, 401, "unauthorized")) << c.what << " as " << kWhoNames[w];
        EXPECT_TRUE(r.header("www-authenticate").starts_with("Bearer")) << r.describe();
      }
      if (r.status == 403) {
        EXPECT_TRUE(is_problem(r, 403, "forbidden")) << c.what << " as " << kWhoNames[w];
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(cases.size()) * kWhoCount);
}

// --- behaviour ---------------------------------------------------------------------------------

class Access : public NildSuite<Access> {};

TEST_F(Access, RevocationAndChangesTakeEffectAtOnce) {
  HttpClient& admin = http();
  std::string sfx = unique_name("r");
  std::string dev = create_user(admin, "rdev-" + sfx, "dev");
  std::string key = key_for(admin, dev);
  HttpClient as_dev(nild().port(), key);
  std::string group = "rg-" + sfx;
  ASSERT_EQ(admin.post_json("/groups", json::object{{"name", group}}).status, 201);
  json::object f = wat_function("grp-" + sfx, wat("echo"));
  f["allowedGroups"] = json::array{group};
  std::string fn = str(admin.post_json("/functions", f).json(), "id");
  ASSERT_EQ(str(wait_terminal(admin, fn), "status"), "READY");

  // Warm the key cache, then change membership: seen by the very next request.
  EXPECT_EQ(as_dev.post_json("/functions/" + fn + "/execute", json::object{}).status, 404);
  ASSERT_EQ(
      admin.post_json("/groups/" + group + "/members", json::object{{"username", "rdev-" + sfx}})
          .status,
      204);
  EXPECT_EQ(as_dev.post_json("/functions/" + fn + "/execute", json::object{}).status, 200);
  ASSERT_EQ(admin.del("/groups/" + group + "/members/" + dev).status, 204);
  EXPECT_EQ(as_dev.post_json("/functions/" + fn + "/execute", json::object{}).status, 404);

  // Role change.
  EXPECT_EQ(as_dev.get("/users").status, 403);
  ASSERT_EQ(admin.put_json("/users/" + dev, json::object{{"role", "admin"}}).status, 200);
  EXPECT_EQ(as_dev.get("/users").status, 200);
  ASSERT_EQ(admin.put_json("/users/" + dev, json::object{{"role", "dev"}}).status, 200);
  EXPECT_EQ(as_dev.get("/users").status, 403);

  // Revocation: the key worked a moment ago and fails from the next request on.
  EXPECT_EQ(as_dev.get("/auth/me").status, 200);
  ASSERT_EQ(admin.del("/api-keys/" + key_id_of(admin, key)).status, 204);
  auto after = as_dev.get("/auth/me");
  EXPECT_TRUE(is_problem(after, 401, "unauthorized")) << after.describe();

  // Deleting the user ends all its keys.
  std::string key2 = key_for(admin, dev);
  HttpClient as_dev2(nild().port(), key2);
  EXPECT_EQ(as_dev2.get("/auth/me").status, 200);
  ASSERT_EQ(admin.del("/users/" + dev).status, 204);
  EXPECT_EQ(as_dev2.get("/auth/me").status, 401);
}

TEST_F(Access, ListsAreFilteredAndDevDeploysAreTheirs) {
  HttpClient& admin = http();
  std::string sfx = unique_name("l");
  std::string dev = create_user(admin, "ldev-" + sfx, "dev", json::array{"deploy"});
  std::string other = create_user(admin, "lother-" + sfx, "dev");
  HttpClient as_dev(nild().port(), key_for(admin, dev));
  HttpClient as_other(nild().port(), key_for(admin, other));
  json::object hidden = wat_function("hidden-" + sfx, wat("echo"));
  hidden["allowedUsers"] =
      json::array{"lother-" + sfx};  // a username is accepted and stored as the id
  auto h = admin.post_json("/functions", hidden);
  ASSERT_EQ(h.status, 202) << h.describe();
  EXPECT_EQ(h.json().at("allowedUsers"), json::array{json::value(other)});

  auto mine = as_dev.post_json("/functions", wat_function("mine-" + sfx, wat("echo")));
  ASSERT_EQ(mine.status, 202) << mine.describe();
  EXPECT_EQ(mine.json().at("allowedUsers"), json::array{json::value(dev)}) << mine.describe();

  auto names = [](const HttpResponse& r) {
    std::vector<std::string> out;
    json::value v = r.json();
    for (const auto& f : v.at("items").as_array()) out.push_back(str(f, "name"));
    return out;
  };
  auto dev_list = names(as_dev.get("/functions?limit=200"));
  EXPECT_NE(std::find(dev_list.begin(), dev_list.end(), "mine-" + sfx), dev_list.end());
  EXPECT_EQ(std::find(dev_list.begin(), dev_list.end(), "hidden-" + sfx), dev_list.end());
  auto other_list = names(as_other.get("/functions?limit=200"));
  EXPECT_EQ(std::find(other_list.begin(), other_list.end(), "mine-" + sfx), other_list.end());
  EXPECT_NE(std::find(other_list.begin(), other_list.end(), "hidden-" + sfx), other_list.end());
  EXPECT_EQ(as_other.get("/functions/mine-" + sfx).status, 404);

  auto bad = admin.post_json("/functions", [&] {
    auto f = wat_function("bad-" + sfx, wat("echo"));
    f["allowedUsers"] = json::array{"nobody-" + sfx};
    return f;
  }());
  EXPECT_TRUE(is_problem(bad, 400, "unknown_user")) << bad.describe();
}

TEST_F(Access, ExecutionsRecordTheCallerAndTheFunctionSeesIt) {
  HttpClient& admin = http();
  std::string sfx = unique_name("x");
  std::string dev = create_user(admin, "xdev-" + sfx, "dev");
  HttpClient as_dev(nild().port(), key_for(admin, dev));
  std::string fn = deploy_ready(admin, "environ-" + sfx, wat("environ"));
  auto e = execute(as_dev, fn, nullptr);
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(e.at("output"), json::value("NIL_USER_ID=" + dev + " NIL_USERNAME=xdev-" + sfx +
                                        " NIL_USER_ROLE=dev "));
  auto stored = as_dev.get("/executions/" + str(e, "executionId"));
  ASSERT_EQ(stored.status, 200) << stored.describe();
  EXPECT_EQ(str(stored.json(), "userId"), dev);

  // A public function called without credentials: anonymous, no user recorded.
  ASSERT_EQ(admin.put_json("/functions/" + fn, json::object{{"public", true}}).status, 200);
  auto anon = HttpClient::anonymous(nild().port()).post_raw("/functions/v1/environ-" + sfx, "{}");
  ASSERT_EQ(anon.status, 200) << anon.describe();
  EXPECT_EQ(anon.json(), json::value("NIL_USER_ID= NIL_USERNAME= NIL_USER_ROLE=anonymous "));
  auto rec = admin.get("/executions/" + anon.header("x-nil-execution-id"));
  ASSERT_EQ(rec.status, 200) << rec.describe();
  EXPECT_TRUE(rec.json().at("userId").is_null()) << rec.describe();
}

TEST_F(Access, KeysAreShownOnceAndListedWithoutTheSecret) {
  HttpClient& admin = http();
  auto r =
      admin.post_json("/api-keys", json::object{{"name", "ci"}, {"expiresAt", rfc3339_in(3600)}});
  ASSERT_EQ(r.status, 201) << r.describe();
  std::string token = str(r.json(), "key");
  EXPECT_TRUE(token.starts_with(str(r.json(), "prefix")));
  EXPECT_FALSE(is_null_or_absent(r.json(), "expiresAt"));
  HttpClient with(nild().port(), token);
  ASSERT_EQ(with.get("/auth/me").status, 200);
  auto list = admin.get("/api-keys?limit=200");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(token), std::string::npos) << "the secret must never be listed";
  bool found = false;
  json::value listed = list.json();
  for (const auto& k : listed.at("items").as_array()) {
    if (str(k, "id") == str(r.json(), "id")) {
      found = true;
      EXPECT_FALSE(is_null_or_absent(k, "lastUsedAt")) << json::serialize(k);
      EXPECT_FALSE(k.at("revoked").as_bool());
    }
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(is_problem(
      admin.post_json("/api-keys",
                      json::object{{"name", "old"}, {"expiresAt", "2001-01-01T00:00:00Z"}}),
      400, "invalid_field"));
  EXPECT_TRUE(is_problem(
      admin.post_json("/api-keys", json::object{{"name", "x"}, {"expiresAt", "tomorrow"}}), 400,
      "invalid_field"));
  // Malformed and unknown credentials are 401 with the Bearer challenge.
  EXPECT_TRUE(
      is_problem(HttpClient(nild().port(), "nil_nope").get("/functions"), 401, "unauthorized"));
  EXPECT_TRUE(
      is_problem(admin.request("GET", "/functions", "", "", {{"Authorization", "Basic YTpi"}}), 401,
                 "unauthorized"));
  std::string forged = token.substr(0, 12) + std::string(35, 'A');
  EXPECT_TRUE(is_problem(HttpClient(nild().port(), forged).get("/functions"), 401, "unauthorized"));
}

TEST_F(Access, LastAdminCannotBeRemovedAndUserBadInput) {
  HttpClient& admin = http();
  EXPECT_TRUE(is_problem(admin.del("/users/admin"), 409, "last_admin"));
  EXPECT_TRUE(
      is_problem(admin.put_json("/users/admin", json::object{{"role", "dev"}}), 409, "last_admin"));
  EXPECT_TRUE(is_problem(admin.post_json("/users", json::object{{"username", "Bad Name"},
                                                                {"password", "password-1"},
                                                                {"role", "dev"}}),
                         400, "invalid_username"));
  EXPECT_TRUE(is_problem(
      admin.post_json("/users",
                      json::object{{"username", "shortpw"}, {"password", "x"}, {"role", "dev"}}),
      400, "invalid_password"));
  EXPECT_TRUE(is_problem(admin.post_json("/users", json::object{{"username", "badrole"},
                                                                {"password", "password-1"},
                                                                {"role", "root"}}),
                         400, "invalid_role"));
  EXPECT_TRUE(is_problem(admin.post_json("/users", json::object{{"username", "admin"},
                                                                {"password", "password-1"},
                                                                {"role", "dev"}}),
                         409, "name_taken"));
  EXPECT_TRUE(is_problem(admin.post_json("/users", json::object{{"username", "g1"},
                                                                {"password", "password-1"},
                                                                {"role", "dev"},
                                                                {"grants", json::array{"root"}}}),
                         400, "unknown_grant"));
}

// --- sessions ----------------------------------------------------------------------------------

class Sessions : public NildSuite<Sessions> {
 public:
  static NildOptions options() { return {.args = {"--session-idle-ms", "1000"}}; }
};

struct LoggedIn {
  std::string cookie;  // "nil_session=…"
  std::string csrf;
};

LoggedIn login(uint16_t port, const std::string& user, const std::string& password,
               HttpResponse* out = nullptr) {
  auto r = HttpClient::anonymous(port).post_json(
      "/auth/login", json::object{{"username", user}, {"password", password}});
  if (out) *out = r;
  std::string set = r.header("set-cookie");
  return LoggedIn{set.substr(0, set.find(';')), str(r.json(), "csrfToken")};
}

TEST_F(Sessions, CookieCsrfAndLogout) {
  HttpResponse r;
  LoggedIn s = login(nild().port(), "admin", nild().admin_password(), &r);
  ASSERT_EQ(r.status, 200) << r.describe();
  std::string set = r.header("set-cookie");
  EXPECT_TRUE(set.starts_with("nil_session=")) << set;
  EXPECT_NE(set.find("HttpOnly"), std::string::npos) << set;
  EXPECT_NE(set.find("SameSite=Lax"), std::string::npos) << set;
  EXPECT_NE(set.find("Path=/"), std::string::npos) << set;
  EXPECT_EQ(set.find("Secure"), std::string::npos) << "plain HTTP: no Secure flag\n" << set;
  EXPECT_EQ(str(r.json().at("user"), "username"), "admin");
  ASSERT_FALSE(s.csrf.empty());

  auto anon = HttpClient::anonymous(nild().port());
  auto me = anon.request("GET", "/auth/me", "", "", {{"Cookie", s.cookie}});
  ASSERT_EQ(me.status, 200) << me.describe();
  EXPECT_EQ(str(me.json(), "authenticatedBy"), "session");

  // A state change by cookie needs the CSRF token; reads do not.
  std::string env = unique_name("csrf");
  std::string body = json::serialize(json::object{{"name", env}});
  auto no_token =
      anon.request("POST", "/environments", body, "application/json", {{"Cookie", s.cookie}});
  EXPECT_TRUE(is_problem(no_token, 403, "csrf_failed")) << no_token.describe();
  auto wrong = anon.request("POST", "/environments", body, "application/json",
                            {{"Cookie", s.cookie}, {"X-CSRF-Token", "wrong"}});
  EXPECT_TRUE(is_problem(wrong, 403, "csrf_failed")) << wrong.describe();
  auto ok = anon.request("POST", "/environments", body, "application/json",
                         {{"Cookie", s.cookie}, {"X-CSRF-Token", s.csrf}});
  EXPECT_EQ(ok.status, 201) << ok.describe();

  auto out = anon.request("POST", "/auth/logout", "", "",
                          {{"Cookie", s.cookie}, {"X-CSRF-Token", s.csrf}});
  EXPECT_EQ(out.status, 204) << out.describe();
  EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos) << out.describe();
  EXPECT_TRUE(is_problem(anon.request("GET", "/auth/me", "", "", {{"Cookie", s.cookie}}), 401,
                         "unauthorized"));
}

TEST_F(Sessions, WrongPasswordAndExpiredSession) {
  HttpResponse r;
  login(nild().port(), "admin", "not-the-password", &r);
  EXPECT_TRUE(is_problem(r, 401, "invalid_credentials")) << r.describe();
  login(nild().port(), "nobody", "whatever-123", &r);
  EXPECT_TRUE(is_problem(r, 401, "invalid_credentials")) << r.describe();

  LoggedIn s = login(nild().port(), "admin", nild().admin_password(), &r);
  ASSERT_EQ(r.status, 200) << r.describe();
  auto anon = HttpClient::anonymous(nild().port());
  EXPECT_EQ(anon.request("GET", "/auth/me", "", "", {{"Cookie", s.cookie}}).status, 200);
  std::this_thread::sleep_for(1500ms);  // past --session-idle-ms 1000 (nild's clock is real time)
  auto expired = anon.request("GET", "/auth/me", "", "", {{"Cookie", s.cookie}});
  EXPECT_TRUE(is_problem(expired, 401, "unauthorized")) << expired.describe();
}

class LoginThrottling : public NildSuite<LoginThrottling> {
 public:
  static NildOptions options() {
    return {.args = {"--login-max-failures", "3", "--login-window-ms", "600000"}};
  }
};

TEST_F(LoginThrottling, RepeatedFailuresAreThrottledEvenWithTheRightPassword) {
  std::string user = "thr-" + unique_name("u");
  ASSERT_EQ(http()
                .post_json("/users",
                           json::object{
                               {"username", user}, {"password", "right-password"}, {"role", "dev"}})
                .status,
            201);
  HttpResponse r;
  for (int i = 0; i < 3; ++i) {
    login(nild().port(), user, "wrong-password", &r);
    EXPECT_TRUE(is_problem(r, 401, "invalid_credentials")) << r.describe();
  }
  login(nild().port(), user, "right-password", &r);
  EXPECT_TRUE(is_problem(r, 429, "login_throttled")) << r.describe();
  EXPECT_GE(std::atoi(r.header("retry-after").c_str()), 1) << r.describe();
  // Another user is not affected by this one's failures (the per-address limit is higher).
  login(nild().port(), "admin", nild().admin_password(), &r);
  EXPECT_EQ(r.status, 200) << r.describe();
}

// --- rate limits -------------------------------------------------------------------------------

class KeyRateLimit : public NildSuite<KeyRateLimit> {
 public:
  // One token per 10 s after a burst of 3: the 4th quick request is always over.
  static NildOptions options() {
    return {.args = {"--rate-limit-key", "0.1", "--rate-limit-key-burst", "3"}};
  }
};

TEST_F(KeyRateLimit, FourthQuickRequestIs429WithRetryAfter) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(http().get("/auth/me").status, 200);
  auto r = http().get("/auth/me");
  EXPECT_TRUE(is_problem(r, 429, "rate_limited")) << r.describe();
  int wait = std::atoi(r.header("retry-after").c_str());
  EXPECT_GE(wait, 1) << r.describe();
  EXPECT_LE(wait, 10) << r.describe();
  EXPECT_EQ(http().get("/healthz").status, 200);  // unauthenticated endpoints are not limited
}

class FunctionRateLimit : public NildSuite<FunctionRateLimit> {
 public:
  static NildOptions options() {
    return {.args = {"--rate-limit-function", "0.1", "--rate-limit-function-burst", "2"}};
  }
};

TEST_F(FunctionRateLimit, ThirdQuickExecutionIs429) {
  std::string a = deploy_ready(http(), unique_name("rl"), wat("echo"));
  std::string b = deploy_ready(http(), unique_name("rl"), wat("echo"));
  EXPECT_EQ(http().post_json("/functions/" + a + "/execute", json::object{}).status, 200);
  EXPECT_EQ(http().post_json("/functions/" + a + "/execute", json::object{}).status, 200);
  auto r = http().post_json("/functions/" + a + "/execute", json::object{});
  EXPECT_TRUE(is_problem(r, 429, "rate_limited")) << r.describe();
  EXPECT_GE(std::atoi(r.header("retry-after").c_str()), 1) << r.describe();
  EXPECT_EQ(http().post_json("/functions/" + b + "/execute", json::object{}).status,
            200);  // per function
}

// --- first start and `nild keys create` -------------------------------------------------------

TEST(KeysCreate, OfflineOnAFreshDataDirCreatesAdminAndPrintsAKey) {
  TempDir dir;
  std::string cmd = "env -u NIL_ADMIN_PASSWORD '" + nild_binary().string() +
                    "' keys create --user admin --data-dir '" + dir.path().string() + "' 2>'" +
                    (dir.path() / "err.txt").string() + "'";
  FILE* out = ::popen(cmd.c_str(), "r");
  ASSERT_NE(out, nullptr);
  char buf[256];
  std::string key;
  while (size_t n = std::fread(buf, 1, sizeof buf, out)) key.append(buf, n);
  ASSERT_EQ(::pclose(out), 0) << read_file(dir.path() / "err.txt");
  EXPECT_TRUE(key.starts_with("nil_")) << key;
  EXPECT_EQ(key.size(), 48u) << key;  // 47 characters and a newline
  // No NIL_ADMIN_PASSWORD: a generated password is printed once.
  EXPECT_NE(read_file(dir.path() / "err.txt").find("Created user 'admin' with password: "),
            std::string::npos);
  // Unknown user: an error, exit status non-zero.
  std::string bad = "'" + nild_binary().string() + "' keys create --user nobody --data-dir '" +
                    dir.path().string() + "' >/dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

}  // namespace
}  // namespace nil::it
