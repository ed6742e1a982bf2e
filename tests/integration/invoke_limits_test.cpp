// Per-function limits enforced by the invoker (invoke::LimitEnforcer), seen over HTTP: the
// concurrency limit answers 429 concurrency_limit with Retry-After while the function already
// runs its maximum and the wait in line is 0; the slot is free again once the running
// invocation finished. With a wait in line (issue 13) the second call waits for the slot and
// runs, unless its limits.maxQueueMs passes first; limits.maxConcurrency is per function and
// shown in the function's JSON. (The rate
// limit's HTTP behaviour is auth_test.cpp's FunctionRateLimit; it moved from src/api to the
// invoker unchanged.)
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "harness.h"

namespace nil::it {
namespace {

class ConcurrencyLimit : public NildSuite<ConcurrencyLimit> {
 public:
  static NildOptions options() {
    return {.args = {"--concurrency-limit-function", "1", "--queue-ms", "0"}};
  }
};

// Two overlapping calls of a function that runs for a second: one runs, the other is refused
// at once (whichever arrives second), and neither blocks the other.
TEST_F(ConcurrencyLimit, SecondOverlappingCallIs429ConcurrencyLimit) {
  std::string spin = deploy_ready(http(), unique_name("spin"), wat("spin"), {5000, {}});
  // A first call teaches the server the function is slow: the next ones run on the offload
  // pool, so two calls overlap even when both connections landed on the same I/O loop.
  ASSERT_EQ(http().post_json("/functions/" + spin + "/execute", json::object{}).status, 200);
  std::optional<HttpResponse> a, b;
  std::thread other([&] {
    HttpClient c(nild().port());
    a = c.post_json("/functions/" + spin + "/execute", json::object{});
  });
  b = http().post_json("/functions/" + spin + "/execute", json::object{});
  other.join();
  ASSERT_TRUE(a && b);
  const HttpResponse& ran = a->status == 200 ? *a : *b;
  const HttpResponse& refused = a->status == 200 ? *b : *a;
  EXPECT_EQ(ran.status, 200) << ran.describe();
  EXPECT_TRUE(is_problem(refused, 429, "concurrency_limit")) << refused.describe();
  EXPECT_EQ(refused.header("retry-after"), "1") << refused.describe();

  // Another function is not limited by this one, and once the first call finished (its
  // context destroyed) the function runs again.
  std::string echo = deploy_ready(http(), unique_name("echo"), wat("echo"));
  EXPECT_EQ(http().post_json("/functions/" + echo + "/execute", json::object{}).status, 200);
  EXPECT_EQ(http().post_json("/functions/" + spin + "/execute", json::object{}).status, 200);
}

class ConcurrencyQueue : public NildSuite<ConcurrencyQueue> {};

// Creates a spinning function (runs about a second) with admission limits; returns its id.
std::string deploy_spin(HttpClient& c, json::object limits) {
  json::object body = wat_function(unique_name("spin"), wat("spin"), {5000, {}});
  json::object& l = body["limits"].as_object();
  for (auto& kv : limits) l[kv.key()] = kv.value();
  auto created = c.post_json("/functions", body);
  EXPECT_EQ(created.status, 202) << created.describe();
  std::string id(created.json().at("id").as_string());
  json::object f = wait_terminal(c, id);
  EXPECT_EQ(f.at("status").as_string(), "READY");
  return id;
}

std::pair<HttpResponse, HttpResponse> overlapping_calls(NildProcess& n, const std::string& id) {
  std::optional<HttpResponse> a, b;
  std::thread other([&] {
    HttpClient c(n.port());
    a = c.post_json("/functions/" + id + "/execute", json::object{});
  });
  HttpClient c(n.port());
  b = c.post_json("/functions/" + id + "/execute", json::object{});
  other.join();
  return {std::move(*a), std::move(*b)};
}

TEST_F(ConcurrencyQueue, ASecondCallWaitsInLineForTheSlotAndRuns) {
  std::string id = deploy_spin(http(), {{"maxConcurrency", 1}, {"maxQueueMs", 60000}});
  auto f = http().get("/functions/" + id).json().as_object();
  EXPECT_EQ(f.at("limits").at("maxConcurrency").as_int64(), 1);
  EXPECT_EQ(f.at("limits").at("maxQueueMs").as_int64(), 60000);
  ASSERT_EQ(http().post_json("/functions/" + id + "/execute", json::object{}).status, 200);
  auto [a, b] = overlapping_calls(nild(), id);
  EXPECT_EQ(a.status, 200) << a.describe();
  EXPECT_EQ(b.status, 200) << b.describe();
}

TEST_F(ConcurrencyQueue, PastMaxQueueMsTheAnswerIs429WithRetryAfter) {
  std::string id = deploy_spin(http(), {{"maxConcurrency", 1}, {"maxQueueMs", 50}});
  ASSERT_EQ(http().post_json("/functions/" + id + "/execute", json::object{}).status, 200);
  auto [a, b] = overlapping_calls(nild(), id);
  const HttpResponse& ran = a.status == 200 ? a : b;
  const HttpResponse& refused = a.status == 200 ? b : a;
  EXPECT_EQ(ran.status, 200) << ran.describe();
  EXPECT_TRUE(is_problem(refused, 429, "concurrency_limit")) << refused.describe();
  EXPECT_EQ(refused.header("retry-after"), "1") << refused.describe();
  // Clearing the limit (null) lifts it: both overlapping calls run.
  auto patched = http().put_json(
      "/functions/" + id, json::object{{"limits", json::object{{"maxConcurrency", nullptr}}}});
  ASSERT_EQ(patched.status, 200) << patched.describe();
  EXPECT_FALSE(patched.json().at("limits").as_object().contains("maxConcurrency"));
  auto [c, d] = overlapping_calls(nild(), id);
  EXPECT_EQ(c.status, 200) << c.describe();
  EXPECT_EQ(d.status, 200) << d.describe();
}

}  // namespace
}  // namespace nil::it
