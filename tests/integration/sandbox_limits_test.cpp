// A function's own failures: each ends its execution FAILED with the documented error.type
// (docs/errors.md, "Execution error types"), is answered 200 (not a platform error), is recorded,
// and leaves the engine serving.
#include <map>

#include "harness.h"

namespace nil::it {
namespace {

struct FailureCase {
  std::string name;    // test name suffix
  std::string module;  // tests/integration/wat/NAME.wat
  Limits limits;
  std::string type;     // expected error.type
  std::string message;  // expected in error.message ("" = any non-empty message)
};

std::ostream& operator<<(std::ostream& os, const FailureCase& c) { return os << c.name; }

class GuestFailure : public NildSuite<GuestFailure>,
                     public ::testing::WithParamInterface<FailureCase> {
 protected:
  // Deploys a module once per nild (the suite shares one server).
  std::string function_for(const std::string& module, Limits limits) {
    std::string key = module + "/" + std::to_string(limits.timeout_ms.value_or(0)) + "/" +
                      std::to_string(limits.memory_mb.value_or(0));
    auto it = deployed_.find(key);
    if (it != deployed_.end()) return it->second;
    std::string id = deploy_ready(http(), unique_name(module == "big_output" ? "big" : "guest"),
                                  wat(module), limits);
    deployed_[key] = id;
    return id;
  }

  static inline std::map<std::string, std::string> deployed_;
};

TEST_P(GuestFailure, EndsFailedWithItsTypeAndTheEngineKeepsServing) {
  const FailureCase& c = GetParam();
  std::string id = function_for(c.module, c.limits);
  ASSERT_FALSE(id.empty());
  std::string echo = function_for("echo", {});

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto started = std::chrono::steady_clock::now();
    auto r = http().post_json("/functions/" + id + "/execute", json::parse(R"({"in":1})"));
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(r.status, 200) << "a function's failure is not a platform error\n"
                             << http().describe_exchange();
    auto e = r.json();
    EXPECT_EQ(str(e, "status"), "FAILED") << r.describe();
    ASSERT_TRUE(e.as_object().contains("error") && e.at("error").is_object()) << r.describe();
    EXPECT_EQ(str(e.at("error"), "type"), c.type) << r.describe();
    std::string message = str(e.at("error"), "message");
    EXPECT_FALSE(message.empty()) << r.describe();
    if (!c.message.empty()) {
      EXPECT_NE(message.find(c.message), std::string::npos) << r.describe();
    }
    if (c.type == "timeout") {
      EXPECT_GE(took, 190ms) << "ended before its timeout";
      EXPECT_LT(took, 5s) << "the timeout of 200 ms took far too long to fire";
    }
    if (c.type == "output_limit") {
      EXPECT_LT(r.body.size(), 64u * 1024) << "the over-limit output must not be sent back";
    }

    // The execution is recorded FAILED with the same error.
    std::string eid = str(e, "executionId");
    ASSERT_FALSE(eid.empty()) << r.describe();
    HttpResponse g = get_execution(http(), eid);  // at once: no retry
    ASSERT_EQ(g.status, 200) << g.describe();
    EXPECT_EQ(str(g.json(), "status"), "FAILED") << g.describe();
    EXPECT_EQ(str(g.json().at("error"), "type"), c.type) << g.describe();

    // The engine still serves: a healthy function runs normally right after.
    auto ok = execute(http(), echo, json::parse(R"({"after":"failure"})"));
    EXPECT_EQ(str(ok, "status"), "SUCCEEDED") << json::serialize(ok);
    EXPECT_EQ(ok["output"], json::parse(R"({"after":"failure"})"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Limits, GuestFailure,
    ::testing::Values(FailureCase{"InfiniteLoopTimesOut", "loop", {200, {}}, "timeout", ""},
                      FailureCase{"MemoryGrowPastTheCap", "grow", {{}, 2}, "memory_limit", ""},
                      FailureCase{"Unreachable", "unreachable", {}, "trap", "unreachable"},
                      FailureCase{"UnboundedRecursion", "recursion", {}, "trap", "stack"},
                      FailureCase{"OutputOverOneMiB", "big_output", {}, "output_limit", ""},
                      FailureCase{"NonJsonOutput", "not_json", {}, "invalid_output", ""}),
    [](const ::testing::TestParamInfo<FailureCase>& info) { return info.param.name; });

class GuestLimits : public NildSuite<GuestLimits> {};

// The same module that fails under a 2 MiB cap succeeds under 16 MiB: the cap is what fails it.
TEST_F(GuestLimits, MemoryGrowWithinTheCapSucceeds) {
  std::string id = deploy_ready(http(), unique_name("grow-ok"), wat("grow"), {{}, 16});
  auto e = execute(http(), id, json::object{});
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(e["output"], json::parse(R"({"grown":true})"));
}

// A function that runs for about a second finishes under a 5 s timeout: the limit is per function.
TEST_F(GuestLimits, SlowFunctionWithinItsTimeoutSucceeds) {
  std::string id = deploy_ready(http(), unique_name("spin"), wat("spin"), {5000, {}});
  auto e = execute(http(), id, json::object{});
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(e["output"], json::parse(R"({"spun":true})"));
  ASSERT_TRUE(e.contains("durationMs"));
  EXPECT_GE(e["durationMs"].to_number<double>(), 900) << json::serialize(e);
}

// Many failures in a row (timeouts, traps) leave the engine healthy.
TEST_F(GuestLimits, RepeatedTimeoutsAndTrapsLeaveTheEngineHealthy) {
  std::string loop = deploy_ready(http(), unique_name("loop"), wat("loop"), {50, {}});
  std::string trap = deploy_ready(http(), unique_name("trap"), wat("unreachable"));
  std::string echo = deploy_ready(http(), unique_name("echo"), wat("echo"));
  for (int i = 0; i < 10; ++i) {
    auto t = execute(http(), loop, json::object{});
    EXPECT_EQ(str(t["error"], "type"), "timeout") << json::serialize(t);
    auto u = execute(http(), trap, json::object{});
    EXPECT_EQ(str(u["error"], "type"), "trap") << json::serialize(u);
  }
  auto ok = execute(http(), echo, json::value(7));
  EXPECT_EQ(ok["output"], json::value(7)) << json::serialize(ok);
}

}  // namespace
}  // namespace nil::it
