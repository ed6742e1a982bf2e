// Per-function limits enforced by the invoker (invoke::LimitEnforcer), seen over HTTP: the
// concurrency limit answers 429 concurrency_limit with Retry-After while the function already
// runs its maximum; the slot is free again once the running invocation finished. (The rate
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
  static NildOptions options() { return {.args = {"--concurrency-limit-function", "1"}}; }
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

}  // namespace
}  // namespace nil::it
