// The Idempotency-Key header (docs/api.md, "Idempotency keys") over real HTTP: a repeat gets the
// first answer (same status, body and executionId, marked Idempotent-Replayed), a different
// request under the same key is 409 idempotency_key_reused, a repeat while the first still runs
// is 409 idempotency_key_in_use, bad keys are 400, keys belong to their caller, concurrent
// requests with one key run the function once, and the answer survives a restart of nild.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace nil::it {
namespace {

Headers key(std::string k) { return {{"Idempotency-Key", std::move(k)}}; }

HttpResponse post_keyed(HttpClient& c, const std::string& target, const json::value& body,
                        const std::string& k) {
  return c.request("POST", target, json::serialize(body), "application/json", key(k));
}

// The executions recorded for a function (the list reads after the group commit).
size_t execution_count(HttpClient& c, const std::string& fid) {
  auto r = c.get("/functions/" + fid + "/executions?limit=200");
  EXPECT_EQ(r.status, 200) << r.describe();
  return r.json().at("items").as_array().size();
}

class IdempotencyTest : public NildSuite<IdempotencyTest> {};

TEST_F(IdempotencyTest, RepeatedExecuteReturnsTheFirstAnswerAndRunsOnce) {
  std::string fid = deploy_ready(http(), unique_name("idem-echo"), wat("echo"));
  const std::string target = "/functions/" + fid + "/execute";
  const std::string k = unique_name("key-execute");
  auto first = post_keyed(http(), target, json::parse(R"({"n":1})"), k);
  ASSERT_EQ(first.status, 200) << first.describe();
  EXPECT_EQ(first.header("Idempotent-Replayed"), "");
  auto again = post_keyed(http(), target, json::parse(R"({"n":1})"), k);
  ASSERT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.header("Content-Type"), first.header("Content-Type"));
  EXPECT_EQ(str(again.json(), "executionId"), str(first.json(), "executionId"));
  EXPECT_EQ(execution_count(http(), fid), 1u) << "the repeat ran the function again";

  // Without a key every call runs.
  execute(http(), fid, json::parse(R"({"n":1})"));
  EXPECT_EQ(execution_count(http(), fid), 2u);
}

TEST_F(IdempotencyTest, RepeatedAsyncInvocationReplaysTheSame202AndQueuesOnce) {
  std::string fid = deploy_ready(http(), unique_name("idem-async"), wat("echo"));
  const std::string target = "/functions/" + fid + "/invocations";
  const std::string k = unique_name("key-async");
  auto first = post_keyed(http(), target, json::parse(R"({"n":7})"), k);
  ASSERT_EQ(first.status, 202) << first.describe();
  auto again = post_keyed(http(), target, json::parse(R"({"n":7})"), k);
  ASSERT_EQ(again.status, 202) << again.describe();
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(str(again.json(), "executionId"), str(first.json(), "executionId"));
  EXPECT_EQ(again.header("Location"), first.header("Location"));
  EXPECT_EQ(execution_count(http(), fid), 1u) << "the repeat queued a second invocation";
}

TEST_F(IdempotencyTest, SameKeyForADifferentRequestIsReused409) {
  std::string fid = deploy_ready(http(), unique_name("idem-reuse"), wat("echo"));
  std::string other = deploy_ready(http(), unique_name("idem-reuse2"), wat("echo"));
  const std::string k = unique_name("key-reuse");
  ASSERT_EQ(post_keyed(http(), "/functions/" + fid + "/execute", json::parse("1"), k).status, 200);
  auto body = post_keyed(http(), "/functions/" + fid + "/execute", json::parse("2"), k);
  EXPECT_TRUE(is_problem(body, 409, "idempotency_key_reused")) << body.describe();
  auto path = post_keyed(http(), "/functions/" + other + "/execute", json::parse("1"), k);
  EXPECT_TRUE(is_problem(path, 409, "idempotency_key_reused")) << path.describe();
  EXPECT_EQ(execution_count(http(), fid), 1u);
  EXPECT_EQ(execution_count(http(), other), 0u);
}

TEST_F(IdempotencyTest, BadKeysAre400WithPreciseCodes) {
  std::string fid = deploy_ready(http(), unique_name("idem-bad"), wat("echo"));
  const std::string target = "/functions/" + fid + "/execute";
  auto empty = post_keyed(http(), target, json::parse("1"), "");
  EXPECT_TRUE(is_problem(empty, 400, "invalid_idempotency_key")) << empty.describe();
  auto empty_quoted = post_keyed(http(), target, json::parse("1"), "\"\"");
  EXPECT_TRUE(is_problem(empty_quoted, 400, "invalid_idempotency_key")) << empty_quoted.describe();
  auto too_long = post_keyed(http(), target, json::parse("1"), std::string(256, 'k'));
  EXPECT_TRUE(is_problem(too_long, 400, "idempotency_key_too_long")) << too_long.describe();
  auto non_ascii = post_keyed(http(), target, json::parse("1"), "caf\xc3\xa9");
  EXPECT_TRUE(is_problem(non_ascii, 400, "invalid_idempotency_key")) << non_ascii.describe();
  EXPECT_EQ(execution_count(http(), fid), 0u) << "a refused key ran the function";

  // 255 characters is the most allowed; the quoted form (RFC 8941 sf-string) is the same key.
  std::string longest = unique_name("q");
  longest.resize(255, 'x');
  auto ok = post_keyed(http(), target, json::parse("1"), longest);
  EXPECT_EQ(ok.status, 200) << ok.describe();
  auto quoted = post_keyed(http(), target, json::parse("1"), "\"" + longest + "\"");
  EXPECT_EQ(quoted.status, 200) << quoted.describe();
  EXPECT_EQ(quoted.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(quoted.body, ok.body);
}

TEST_F(IdempotencyTest, KeysBelongToTheirCaller) {
  std::string fid = deploy_ready(http(), unique_name("idem-scope"), wat("echo"));
  std::string uname = unique_name("idemuser");
  auto u = http().post_json(
      "/users",
      json::object{{"username", uname}, {"password", "password-" + uname}, {"role", "admin"}});
  ASSERT_EQ(u.status, 201) << u.describe();
  auto k =
      http().post_json("/api-keys", json::object{{"name", "t"}, {"userId", str(u.json(), "id")}});
  ASSERT_EQ(k.status, 201) << k.describe();
  HttpClient other(nild().port(), str(k.json(), "key"));

  const std::string target = "/functions/" + fid + "/execute";
  const std::string key_text = unique_name("key-scope");
  auto mine = post_keyed(http(), target, json::parse("1"), key_text);
  ASSERT_EQ(mine.status, 200) << mine.describe();
  // Another caller with the same key and even another body: their own key, not a conflict.
  auto theirs = post_keyed(other, target, json::parse("2"), key_text);
  ASSERT_EQ(theirs.status, 200) << theirs.describe();
  EXPECT_EQ(theirs.header("Idempotent-Replayed"), "");
  EXPECT_NE(str(theirs.json(), "executionId"), str(mine.json(), "executionId"));
  EXPECT_EQ(execution_count(http(), fid), 2u);
}

TEST_F(IdempotencyTest, ConcurrentRequestsWithOneKeyRunTheFunctionOnce) {
  // spin.wat busy-waits one second: the first request is still running while the others arrive
  // (or, on a very slow machine, has answered: then they are replays). Either way one execution.
  std::string fid = deploy_ready(http(), unique_name("idem-spin"), wat("spin"));
  const std::string target = "/functions/" + fid + "/execute";
  const std::string k = unique_name("key-race");
  constexpr int kClients = 6;
  std::vector<HttpResponse> answers(kClients);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      HttpClient c(nild().port());
      ++ready;
      while (ready.load() < kClients) std::this_thread::yield();
      answers[i] = post_keyed(c, target, json::value(nullptr), k);
    });
  }
  for (auto& t : threads) t.join();

  std::string execution_id;
  int ran = 0, in_use = 0;
  for (const auto& a : answers) {
    if (a.status == 200) {
      std::string id = str(a.json(), "executionId");
      if (execution_id.empty()) execution_id = id;
      EXPECT_EQ(id, execution_id) << "two answers with different executions";
      if (a.header("Idempotent-Replayed").empty()) ++ran;
    } else {
      EXPECT_TRUE(is_problem(a, 409, "idempotency_key_in_use")) << a.describe();
      EXPECT_EQ(a.header("Retry-After"), "1") << a.describe();
      ++in_use;
    }
  }
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(execution_count(http(), fid), 1u) << "the function ran more than once";

  // Once the first has answered, a repeat is a replay of it.
  auto after = post_keyed(http(), target, json::value(nullptr), k);
  ASSERT_EQ(after.status, 200) << after.describe();
  EXPECT_EQ(after.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(str(after.json(), "executionId"), execution_id);
}

TEST_F(IdempotencyTest, V1CallReplaysOutputAndExecutionIdHeader) {
  std::string fid = deploy_ready(http(), unique_name("idem-v1"), wat("echo"));
  const std::string target = "/functions/v1/" + fid;
  const std::string k = unique_name("key-v1");
  auto first = post_keyed(http(), target, json::parse(R"({"v":1})"), k);
  ASSERT_EQ(first.status, 200) << first.describe();
  auto again = post_keyed(http(), target, json::parse(R"({"v":1})"), k);
  ASSERT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.header("X-Nil-Execution-Id"), first.header("X-Nil-Execution-Id"));
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(execution_count(http(), fid), 1u);
}

TEST_F(IdempotencyTest, FailedV1CallIs5xxAndNotKeptSoARetryRunsAgain) {
  // function_failed is a 502: not an answer to keep (docs/api.md), so the key is released.
  std::string fid = deploy_ready(http(), unique_name("idem-trap"), wat("unreachable"));
  const std::string target = "/functions/v1/" + fid;
  const std::string k = unique_name("key-trap");
  auto first = post_keyed(http(), target, json::value(nullptr), k);
  EXPECT_TRUE(is_problem(first, 502, "function_failed")) << first.describe();
  auto again = post_keyed(http(), target, json::value(nullptr), k);
  EXPECT_TRUE(is_problem(again, 502, "function_failed")) << again.describe();
  EXPECT_EQ(again.header("Idempotent-Replayed"), "");
  EXPECT_NE(again.header("X-Nil-Execution-Id"), first.header("X-Nil-Execution-Id"));
  EXPECT_EQ(execution_count(http(), fid), 2u);
}

TEST_F(IdempotencyTest, ClientErrorIsKeptAndReplayed) {
  // A 4xx is the answer to that request (IETF draft: store what was answered): replayed as is.
  const std::string target = "/functions/" + unique_name("idem-missing") + "/execute";
  const std::string k = unique_name("key-404");
  auto first = post_keyed(http(), target, json::value(nullptr), k);
  EXPECT_TRUE(is_problem(first, 404, "function_not_found")) << first.describe();
  auto again = post_keyed(http(), target, json::value(nullptr), k);
  EXPECT_TRUE(is_problem(again, 404, "function_not_found")) << again.describe();
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(again.body, first.body);
}

TEST_F(IdempotencyTest, DeployAndRedeployWithAKeyHappenOnce) {
  const std::string name = unique_name("idem-deploy");
  const std::string k = unique_name("key-deploy");
  json::object f = wat_function(name, wat("echo"));
  auto first = http().request("POST", "/functions", json::serialize(f), "application/json", key(k));
  ASSERT_EQ(first.status, 202) << first.describe();
  auto again = http().request("POST", "/functions", json::serialize(f), "application/json", key(k));
  ASSERT_EQ(again.status, 202) << again.describe() << " (a second create would be 409 name_taken)";
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(again.header("Location"), first.header("Location"));
  EXPECT_EQ(str(again.json(), "id"), str(first.json(), "id"));
  std::string id = str(first.json(), "id");
  wait_terminal(http(), id);

  // PUT: the redeploy runs once, so the version moves once.
  const std::string k2 = unique_name("key-redeploy");
  json::object u{{"source", wat("constant")}};
  auto put1 =
      http().request("PUT", "/functions/" + id, json::serialize(u), "application/json", key(k2));
  ASSERT_EQ(put1.status, 202) << put1.describe();
  auto put2 =
      http().request("PUT", "/functions/" + id, json::serialize(u), "application/json", key(k2));
  ASSERT_EQ(put2.status, 202) << put2.describe();
  EXPECT_EQ(put2.header("Idempotent-Replayed"), "true");
  auto now = http().get("/functions/" + id);
  EXPECT_EQ(now.json().at("version").as_int64(), 2) << now.describe();

  // The multipart deploy takes the header too.
  const std::string k3 = unique_name("key-multipart");
  const std::string b = "----idemboundary";
  std::string form = "--" + b + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n" +
                     unique_name("idem-mp") + "\r\n--" + b +
                     "\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"m.wasm\"\r\n"
                     "Content-Type: application/wasm\r\n\r\n" +
                     wasm_bytes("echo") + "\r\n--" + b + "--\r\n";
  auto mp1 = http().request("POST", "/functions/v1/deploy", form,
                            "multipart/form-data; boundary=" + b, key(k3));
  ASSERT_EQ(mp1.status, 202) << mp1.describe();
  auto mp2 = http().request("POST", "/functions/v1/deploy", form,
                            "multipart/form-data; boundary=" + b, key(k3));
  ASSERT_EQ(mp2.status, 202) << mp2.describe();
  EXPECT_EQ(mp2.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(mp2.json().at("id"), mp1.json().at("id"));
  EXPECT_EQ(mp2.body, mp1.body);
}

class IdempotencyRestartTest : public FreshNildTest {};

TEST_F(IdempotencyRestartTest, AnswerSurvivesARestartOfNild) {
  NildProcess& n = start_nild();
  std::string fid, first_body;
  const std::string k = "restart-key";
  {
    HttpClient c(n.port());
    fid = deploy_ready(c, "idem-restart", wat("echo"));
    auto first = post_keyed(c, "/functions/" + fid + "/execute", json::parse(R"({"r":1})"), k);
    ASSERT_EQ(first.status, 200) << first.describe();
    first_body = first.body;
  }
  n.stop();
  n.restart({});
  HttpClient c(n.port());
  auto again = post_keyed(c, "/functions/" + fid + "/execute", json::parse(R"({"r":1})"), k);
  ASSERT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(again.body, first_body);
  EXPECT_EQ(execution_count(c, fid), 1u);
}

}  // namespace
}  // namespace nil::it
