// Response shapes (src/api/views.h): field order and formatting are part of the API.
#include "api/views.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace nil::api {
namespace {

store::Execution execution() {
  store::Execution e;
  e.id = "e1";
  e.function_id = "f1";
  e.status = store::ExecutionStatus::kSucceeded;
  e.input = "{\"a\":1}";
  e.output = "{\"b\": 2}";
  e.duration_ms = 0.0123456;
  e.started_at = 0;
  e.finished_at = 1000;
  e.trigger = "api";
  return e;
}

TEST(Views, ExecuteBodySplicesTheOutputAsSent) {
  EXPECT_EQ(
      execute_body(execution()),
      R"({"executionId":"e1","status":"SUCCEEDED","output":{"b": 2},"error":null,"durationMs":0.012})");
  store::Execution failed = execution();
  failed.status = store::ExecutionStatus::kFailed;
  failed.output.reset();
  failed.error = store::ExecutionError{"trap", "unreachable"};
  EXPECT_EQ(
      execute_body(failed),
      R"({"executionId":"e1","status":"FAILED","output":null,"error":{"type":"trap","message":"unreachable"},"durationMs":0.012})");
}

TEST(Views, FunctionFailedIsAProblem) {
  store::Execution failed = execution();
  failed.status = store::ExecutionStatus::kFailed;
  failed.error = store::ExecutionError{"trap", "unreachable"};
  EXPECT_EQ(function_failed_body(failed, "/functions/v1/f"),
            R"({"type":"urn:nil:problem:function_failed","title":"Bad Gateway","status":502,)"
            R"("detail":"trap: unreachable","code":"function_failed","instance":"/functions/v1/f",)"
            R"("executionId":"e1","errorType":"trap"})");
}

TEST(Views, ExecutionAndPage) {
  store::Page<store::Execution> page;
  page.items.push_back(execution());
  page.next_cursor = "c2";
  std::string text = to_json_text(page_json(page, execution_json));
  EXPECT_EQ(
      text,
      R"({"items":[{"id":"e1","functionId":"f1","status":"SUCCEEDED","input":{"a":1},"output":{"b":2},)"
      R"("error":null,"logs":"","durationMs":0.012,"startedAt":"1970-01-01T00:00:00.000Z",)"
      R"("finishedAt":"1970-01-01T00:00:00.001Z","trigger":"api","hostCalls":[],"userId":null}],"nextCursor":"c2"})");
}

TEST(Views, SecretsAreMasked) {
  store::Environment e;
  e.id = "v1";
  e.name = "prod";
  e.vars = {{"TOKEN", "s3cret!", true}, {"PLAIN", "p", false}};
  std::string text = to_json_text(environment_json(e));
  EXPECT_EQ(text.find("s3cret"), std::string::npos);
  EXPECT_NE(text.find(R"({"key":"TOKEN","value":"***","secret":true})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"({"key":"PLAIN","value":"p","secret":false})"), std::string::npos) << text;
}

}  // namespace
}  // namespace nil::api
