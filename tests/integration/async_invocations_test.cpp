// Async invocations over HTTP against a real nild (issue 13; docs/openapi.yaml, POST
// /functions/{ref}/invocations): 202 + Location, the record's states, Prefer: respond-async,
// retries and dead letters, the bad inputs, and durability across kill -9 (an acknowledged
// invocation runs after a restart; one that was running is retried once its lease expired).
#include <signal.h>

#include <chrono>
#include <set>
#include <thread>

#include "harness.h"

namespace nil::it {
namespace {

// GET /executions/{id} until SUCCEEDED or FAILED (the test fails after `cap`).
json::object wait_final(HttpClient& c, const std::string& id,
                        std::chrono::milliseconds cap = std::chrono::seconds(60)) {
  auto until = std::chrono::steady_clock::now() + cap;
  for (;;) {
    auto r = c.get("/executions/" + id);
    if (r.status != 200) {
      ADD_FAILURE() << r.describe();
      return {};
    }
    json::object e = r.json().as_object();
    std::string status = str(e, "status");
    if (status == "SUCCEEDED" || status == "FAILED") return e;
    if (std::chrono::steady_clock::now() > until) {
      ADD_FAILURE() << "execution " << id << " still " << status;
      return e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string enqueue(HttpClient& c, const std::string& fid, const json::value& input) {
  auto r = c.post_json("/functions/" + fid + "/invocations", input);
  if (r.status != 202) {
    ADD_FAILURE() << r.describe();
    return "";
  }
  std::string id = str(r.json(), "executionId");
  EXPECT_EQ(r.header("Location"), "/executions/" + id);
  EXPECT_EQ(str(r.json(), "status"), "QUEUED");
  return id;
}

json::object with_retry(json::object f, json::object retry) {
  f["retry"] = std::move(retry);
  return f;
}

class AsyncInvocationsTest : public NildSuite<AsyncInvocationsTest> {
 public:
  static NildOptions options() { return {.args = {"--native-tier", "off"}}; }
};

TEST_F(AsyncInvocationsTest, AcceptedThenSucceededWithAttempts) {
  std::string fid = deploy_ready(http(), unique_name("async-echo"), wat("echo"));
  auto r = http().post_json("/functions/" + fid + "/invocations", json::object{{"n", 7}});
  ASSERT_EQ(r.status, 202) << r.describe();
  std::string id = str(r.json(), "executionId");
  EXPECT_EQ(r.header("Location"), "/executions/" + id);
  EXPECT_EQ(r.body, "{\"executionId\":\"" + id + "\",\"status\":\"QUEUED\"}");

  json::object e = wait_final(http(), id);
  EXPECT_EQ(str(e, "status"), "SUCCEEDED");
  EXPECT_EQ(str(e, "trigger"), "queue");
  EXPECT_EQ(json::serialize(e.at("output")), "{\"n\":7}");
  ASSERT_TRUE(e.contains("attempts")) << json::serialize(e);
  const json::array& attempts = e.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].at("attempt").as_int64(), 1);
  EXPECT_TRUE(attempts[0].at("startedAt").is_string());
  EXPECT_TRUE(attempts[0].at("finishedAt").is_string());
  EXPECT_TRUE(attempts[0].at("error").is_null());

  // A synchronous execute keeps its record shape: no attempts.
  json::object sync = execute(http(), fid, json::object{});
  auto rec = get_execution(http(), str(sync, "executionId"));
  EXPECT_FALSE(rec.json().as_object().contains("attempts")) << rec.body;
}

TEST_F(AsyncInvocationsTest, QueuedAndRunningAreVisible) {
  std::string fid = deploy_ready(http(), unique_name("async-spin"), wat("spin"));
  std::string id = enqueue(http(), fid, nullptr);
  std::set<std::string> seen;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto r = http().get("/executions/" + id);
    ASSERT_EQ(r.status, 200) << r.describe();
    std::string status = str(r.json(), "status");
    seen.insert(status);
    if (status == "RUNNING") {
      EXPECT_TRUE(r.json().at("finishedAt").is_null());
      EXPECT_EQ(r.json().at("attempts").as_array().size(), 1u);
    }
    if (status == "SUCCEEDED" || status == "FAILED") break;
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "still " << status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(seen.count("RUNNING")) << "a one-second run was never seen RUNNING";
  EXPECT_TRUE(seen.count("SUCCEEDED"));
}

TEST_F(AsyncInvocationsTest, PreferRespondAsyncOnExecuteAndV1) {
  std::string name = unique_name("async-prefer");
  std::string fid = deploy_ready(http(), name, wat("echo"));
  for (std::string target : {"/functions/" + fid + "/execute", "/functions/v1/" + name}) {
    auto r =
        http().request("POST", target, "[1,2]", "application/json", {{"Prefer", "respond-async"}});
    ASSERT_EQ(r.status, 202) << target << ": " << r.describe();
    std::string id = str(r.json(), "executionId");
    EXPECT_EQ(r.header("Location"), "/executions/" + id);
    json::object e = wait_final(http(), id);
    EXPECT_EQ(str(e, "status"), "SUCCEEDED");
    EXPECT_EQ(json::serialize(e.at("output")), "[1,2]");
  }
}

TEST_F(AsyncInvocationsTest, RetriedThenDeadLetteredThenRedrivenAndDeleted) {
  std::string fid = deploy_ready(http(), unique_name("async-trap"), wat("unreachable"));
  auto put = http().put_json("/functions/" + fid,
                             json::object{{"retry", json::object{{"maxAttempts", 2},
                                                                 {"backoff", "fixed"},
                                                                 {"initialDelayMs", 0},
                                                                 {"maxDelayMs", 0}}}});
  ASSERT_EQ(put.status, 200) << put.describe();
  EXPECT_EQ(json::serialize(put.json().at("retry")),
            "{\"maxAttempts\":2,\"backoff\":\"fixed\",\"initialDelayMs\":0,\"maxDelayMs\":0,"
            "\"maxEventAgeS\":21600}");

  std::string id = enqueue(http(), fid, nullptr);
  json::object e = wait_final(http(), id);
  EXPECT_EQ(str(e, "status"), "FAILED");
  EXPECT_EQ(str(e.at("error"), "type"), "trap");
  EXPECT_EQ(e.at("attempts").as_array().size(), 2u);

  auto list = http().get("/functions/" + fid + "/dead-letters");
  ASSERT_EQ(list.status, 200) << list.describe();
  json::value listed = list.json();
  const json::array& items = listed.at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(str(items[0], "executionId"), id);
  EXPECT_EQ(items[0].at("attempts").as_int64(), 2);
  EXPECT_EQ(str(items[0].at("error"), "type"), "trap");
  EXPECT_TRUE(http()
                  .get("/functions/" + fid + "/dead-letters?errorType=timeout")
                  .json()
                  .at("items")
                  .as_array()
                  .empty());

  auto redrive = http().post_raw("/functions/" + fid + "/dead-letters/" + id + "/redrive", "");
  ASSERT_EQ(redrive.status, 202) << redrive.describe();
  json::object again = wait_final(http(), id);
  EXPECT_EQ(str(again, "status"), "FAILED");
  EXPECT_EQ(again.at("attempts").as_array().size(), 4u) << "the history is kept across a redrive";

  auto all = http().post_raw("/functions/" + fid + "/dead-letters/redrive?errorType=trap", "");
  ASSERT_EQ(all.status, 202) << all.describe();
  EXPECT_EQ(all.json().at("redriven").as_int64(), 1);
  wait_final(http(), id);
  // The redriven invocation is dead again once its attempts ran.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (http().get("/functions/" + fid + "/dead-letters").json().at("items").as_array().empty()) {
    ASSERT_LT(std::chrono::steady_clock::now(), until);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  EXPECT_EQ(http().del("/functions/" + fid + "/dead-letters/" + id).status, 204);
  EXPECT_TRUE(is_problem(http().del("/functions/" + fid + "/dead-letters/" + id), 404,
                         "dead_letter_not_found"));
  EXPECT_TRUE(
      is_problem(http().post_raw("/functions/" + fid + "/dead-letters/" + id + "/redrive", ""), 404,
                 "dead_letter_not_found"));
  auto purge = http().del("/functions/" + fid + "/dead-letters");
  ASSERT_EQ(purge.status, 200) << purge.describe();
  EXPECT_EQ(purge.json().at("deleted").as_int64(), 0);
}

TEST_F(AsyncInvocationsTest, BadRetryPoliciesAndCallbackUrls) {
  std::string name = unique_name("async-bad");
  auto bad = [&](json::object retry) {
    return http().post_json("/functions", with_retry(wat_function(name, wat("echo")), retry));
  };
  EXPECT_TRUE(is_problem(bad({{"maxAttempts", 3}, {"retries", 1}}), 400, "unknown_field"));
  EXPECT_TRUE(is_problem(bad({{"initialDelayMs", -1}}), 400, "invalid_retry"));
  EXPECT_TRUE(is_problem(bad({{"maxDelayMs", -5}}), 400, "invalid_retry"));
  EXPECT_TRUE(is_problem(bad({{"maxAttempts", 11}}), 400, "invalid_retry"));
  EXPECT_TRUE(is_problem(bad({{"maxAttempts", 0}}), 400, "invalid_retry"));
  EXPECT_TRUE(is_problem(bad({{"backoff", "linear"}}), 400, "invalid_retry"));
  EXPECT_TRUE(
      is_problem(bad({{"initialDelayMs", 5000}, {"maxDelayMs", 1000}}), 400, "invalid_retry"));

  std::string fid = deploy_ready(http(), name, wat("echo"));
  auto with_callback = [&](std::string url) {
    return http().request("POST", "/functions/" + fid + "/invocations", "{}", "application/json",
                          {{"X-Nil-Callback-Url", url}});
  };
  EXPECT_TRUE(
      is_problem(with_callback("http://127.0.0.1:9/hook"), 400, "callback_url_not_allowed"));
  EXPECT_TRUE(is_problem(with_callback("http://10.1.2.3/hook"), 400, "callback_url_not_allowed"));
  EXPECT_TRUE(is_problem(with_callback("http://[::1]/hook"), 400, "callback_url_not_allowed"));
  EXPECT_TRUE(is_problem(with_callback("ftp://example.com/x"), 400, "invalid_callback_url"));
  EXPECT_TRUE(is_problem(with_callback("/relative"), 400, "invalid_callback_url"));

  EXPECT_TRUE(is_problem(http().post_raw("/functions/" + fid + "/invocations", "{"), 400,
                         "malformed_json"));
  EXPECT_TRUE(is_problem(http().post_raw("/functions/no-such-fn/invocations", "{}"), 404,
                         "function_not_found"));
  EXPECT_TRUE(is_problem(http().post_raw("/functions/" + fid +
                                             "/dead-letters/0190aaaa-0000-7000-8000-000000000000/"
                                             "redrive",
                                         ""),
                         404, "dead_letter_not_found"));
  EXPECT_TRUE(is_problem(
      http().del("/functions/" + fid + "/dead-letters/0190aaaa-0000-7000-8000-000000000000"), 404,
      "dead_letter_not_found"));
}

class AsyncDurabilityTest : public FreshNildTest {};

// Acknowledged (202) invocations survive kill -9: with no queue worker they stay QUEUED; after
// a restart with workers every one runs, once.
TEST_F(AsyncDurabilityTest, AcknowledgedInvocationsRunAfterKillNine) {
  NildProcess& n = start_nild({.args = {"--native-tier", "off", "--queue-workers", "0"}});
  std::string fid;
  std::vector<std::string> ids;
  {
    HttpClient c(n.port());
    fid = deploy_ready(c, unique_name("durable-async"), wat("echo"));
    for (int i = 0; i < 100; ++i) ids.push_back(enqueue(c, fid, json::value(i)));
  }
  ASSERT_EQ(::kill(n.pid(), SIGKILL), 0);
  n.kill9();  // reaps it
  n.restart({.args = {"--native-tier", "off"}});
  HttpClient c(n.port());
  for (int i = 0; i < 100; ++i) {
    json::object e = wait_final(c, ids[i]);
    EXPECT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
    EXPECT_EQ(json::serialize(e.at("output")), std::to_string(i));
    EXPECT_EQ(e.at("attempts").as_array().size(), 1u) << "ran more than once";
  }
}

// An invocation running when its node dies is retried once its lease expired; `attempts`
// records the lost attempt.
TEST_F(AsyncDurabilityTest, RunningInvocationIsRetriedAfterItsLeaseExpires) {
  const std::vector<std::string> args = {"--native-tier",   "off", "--queue-lease-ms", "1000",
                                         "--queue-poll-ms", "100"};
  NildProcess& n = start_nild({.args = args});
  std::string id;
  {
    HttpClient c(n.port());
    std::string fid = deploy_ready(c, unique_name("lease-async"), wat("spin"));
    id = enqueue(c, fid, nullptr);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (str(c.get("/executions/" + id).json(), "status") != "RUNNING") {
      ASSERT_LT(std::chrono::steady_clock::now(), until) << "never RUNNING";
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ASSERT_EQ(::kill(n.pid(), SIGKILL), 0);  // mid-spin (the run takes one second)
  n.kill9();
  n.restart({.args = args});
  HttpClient c(n.port());
  json::object e = wait_final(c, id);
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  const json::array& attempts = e.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 2u) << json::serialize(e);
  EXPECT_EQ(str(attempts[0].at("error"), "type"), "lease_expired");
  EXPECT_TRUE(attempts[1].at("error").is_null());
}

}  // namespace
}  // namespace nil::it
