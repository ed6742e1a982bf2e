// Every endpoint and status transition of a function's life, on one shared nild.
#include <set>
#include <thread>

#include "harness.h"

namespace nil::it {
namespace {

class Lifecycle : public NildSuite<Lifecycle> {};

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

// Walks a paginated collection with `limit`, returning every page's items.
std::vector<std::vector<json::value>> walk_pages(HttpClient& c, const std::string& path,
                                                 int limit) {
  std::vector<std::vector<json::value>> pages;
  std::string cursor;
  for (int guard = 0; guard < 1000; ++guard) {
    std::string target = path + "?limit=" + std::to_string(limit);
    if (!cursor.empty()) target += "&cursor=" + url_encode(cursor);
    auto r = c.get(target);
    EXPECT_EQ(r.status, 200) << c.describe_exchange();
    if (r.status != 200) break;
    auto v = r.json();
    if (!v.is_object() || !v.as_object().contains("items") || !v.at("items").is_array() ||
        !v.as_object().contains("nextCursor")) {
      ADD_FAILURE() << "not a page {items, nextCursor}: " << r.describe();
      break;
    }
    auto& items = v.at("items").as_array();
    EXPECT_LE(items.size(), static_cast<size_t>(limit)) << r.describe();
    pages.emplace_back(items.begin(), items.end());
    auto& next = v.at("nextCursor");
    if (next.is_null()) break;
    EXPECT_TRUE(next.is_string()) << r.describe();
    if (!next.is_string()) break;
    cursor = std::string(next.as_string());
    EXPECT_FALSE(cursor.empty());
  }
  return pages;
}

TEST_F(Lifecycle, CreateReturnsPendingThenCompilesToReady) {
  std::string name = unique_name("echo");
  auto r = http().post_json("/functions", wat_function(name, wat("echo")));
  ASSERT_EQ(r.status, 202) << http().describe_exchange();
  EXPECT_TRUE(r.header("content-type").starts_with("application/json")) << r.describe();
  auto f = r.json();
  ASSERT_TRUE(f.is_object());
  std::string id = str(f, "id");
  ASSERT_FALSE(id.empty()) << r.describe();
  EXPECT_EQ(str(f, "name"), name);
  EXPECT_EQ(str(f, "language"), "wat");
  EXPECT_EQ(str(f, "status"), "PENDING") << r.describe();
  EXPECT_TRUE(f.as_object().contains("compileError") && f.at("compileError").is_null())
      << r.describe();
  EXPECT_TRUE(f.as_object().contains("wasmSha256")) << r.describe();
  EXPECT_FALSE(str(f, "createdAt").empty()) << r.describe();
  EXPECT_FALSE(str(f, "updatedAt").empty()) << r.describe();
  EXPECT_FALSE(f.as_object().contains("source")) << "the function JSON of the spec has no source";
  ASSERT_TRUE(f.as_object().contains("limits") && f.at("limits").is_object()) << r.describe();
  EXPECT_EQ(f.at("limits").as_object().at("timeoutMs"), json::value(10000)) << r.describe();
  EXPECT_EQ(f.at("limits").as_object().at("memoryMb"), json::value(128)) << r.describe();

  std::vector<std::string> seen = {"PENDING"};
  auto done = wait_terminal(http(), id, &seen);
  EXPECT_EQ(str(done, "status"), "READY") << json::serialize(done);
  // Status only moves forward: PENDING → COMPILING → READY (a poll may miss COMPILING).
  std::vector<std::string> order = {"PENDING", "COMPILING", "READY"};
  size_t pos = 0;
  for (auto& s : seen) {
    auto it = std::find(order.begin() + pos, order.end(), s);
    ASSERT_NE(it, order.end()) << "status went backwards or is unknown: " << s;
    pos = it - order.begin();
  }
  EXPECT_TRUE(done.contains("compileError") && done.at("compileError").is_null());
  EXPECT_TRUE(is_lower_hex(str(done, "wasmSha256"), 64)) << json::serialize(done);
  EXPECT_EQ(str(done, "createdAt"), str(f, "createdAt"));
}

TEST_F(Lifecycle, CustomLimitsAreStored) {
  std::string name = unique_name("limits");
  auto r = http().post_json("/functions", wat_function(name, wat("echo"), {1234, 16}));
  ASSERT_EQ(r.status, 202) << http().describe_exchange();
  std::string id = str(r.json(), "id");
  auto g = http().get("/functions/" + id);
  ASSERT_EQ(g.status, 200) << g.describe();
  auto limits = g.json().at("limits");
  EXPECT_EQ(limits.at("timeoutMs"), json::value(1234)) << g.describe();
  EXPECT_EQ(limits.at("memoryMb"), json::value(16)) << g.describe();
}

TEST_F(Lifecycle, GetByIdAndByNameAgree) {
  std::string name = unique_name("byname");
  std::string id = deploy_ready(http(), name, wat("echo"));
  auto by_id = http().get("/functions/" + id);
  auto by_name = http().get("/functions/" + name);
  ASSERT_EQ(by_id.status, 200) << by_id.describe();
  ASSERT_EQ(by_name.status, 200) << by_name.describe();
  EXPECT_EQ(str(by_name.json(), "id"), id);
  EXPECT_EQ(str(by_name.json(), "name"), name);
  EXPECT_EQ(by_id.json(), by_name.json());
}

TEST_F(Lifecycle, ExecuteReturnsOutputAndRecordsTheExecution) {
  std::string id = deploy_ready(http(), unique_name("exec"), wat("echo"));
  json::value input = json::parse(R"({"a":[1,2,{"b":"c"}],"s":"\u00e9\n","n":null})");
  auto r = http().post_json("/functions/" + id + "/execute", input);
  ASSERT_EQ(r.status, 200) << http().describe_exchange();
  EXPECT_TRUE(r.header("content-type").starts_with("application/json")) << r.describe();
  auto e = r.json();
  std::string eid = str(e, "executionId");
  ASSERT_FALSE(eid.empty()) << r.describe();
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << r.describe();
  EXPECT_EQ(e.at("output"), input) << r.describe();
  EXPECT_TRUE(e.as_object().contains("error") && e.at("error").is_null()) << r.describe();
  ASSERT_TRUE(e.as_object().contains("durationMs") && e.at("durationMs").is_number())
      << r.describe();
  EXPECT_GE(e.at("durationMs").to_number<double>(), 0);

  auto g = get_execution(http(), eid);
  ASSERT_EQ(g.status, 200) << g.describe();
  auto x = g.json();
  for (auto key : {"id", "functionId", "status", "input", "output", "error", "logs", "durationMs",
                   "startedAt", "finishedAt", "trigger"}) {
    EXPECT_TRUE(x.as_object().contains(key)) << "missing " << key << " in " << g.describe();
  }
  EXPECT_EQ(str(x, "id"), eid);
  EXPECT_EQ(str(x, "functionId"), id);
  EXPECT_EQ(str(x, "status"), "SUCCEEDED");
  EXPECT_EQ(str(x, "trigger"), "api");
  EXPECT_EQ(x.at("input"), input) << g.describe();
  EXPECT_EQ(x.at("output"), input) << g.describe();
  EXPECT_TRUE(x.at("error").is_null()) << g.describe();
  EXPECT_FALSE(str(x, "startedAt").empty()) << g.describe();
  EXPECT_FALSE(str(x, "finishedAt").empty()) << g.describe();
}

TEST_F(Lifecycle, ExecutionLogsHoldTheGuestsStderr) {
  std::string id = deploy_ready(http(), unique_name("logger"), wat("log"));
  auto e = execute(http(), id, json::parse(R"({"k":1})"));
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(e.at("output"), json::parse(R"({"k":1})"));
  auto g = get_execution(http(), str(e, "executionId"));
  ASSERT_EQ(g.status, 200) << g.describe();
  // logs may be a string or an array of lines: either way the line is in it, stdout is not.
  std::string logs = json::serialize(g.json().at("logs"));
  EXPECT_NE(logs.find("log line from the guest"), std::string::npos) << g.describe();
  EXPECT_EQ(logs.find("\\\"k\\\""), std::string::npos) << "stdout leaked into logs";
}

TEST_F(Lifecycle, ExecutionsAreListedNewestFirstAcrossPages) {
  std::string id = deploy_ready(http(), unique_name("history"), wat("echo"));
  std::vector<std::string> executed;
  for (int i = 0; i < 5; ++i) {
    auto e = execute(http(), id, json::object{{"i", i}});
    executed.push_back(str(e, "executionId"));
  }
  // No pause: the list route waits for the group commit (ExecutionWriter::sync).
  auto pages = walk_pages(http(), "/functions/" + id + "/executions", 2);
  std::vector<std::string> listed;
  for (auto& page : pages) {
    for (auto& item : page) listed.push_back(str(item, "id"));
  }
  std::vector<std::string> expected(executed.rbegin(), executed.rend());
  EXPECT_EQ(listed, expected) << "executions must be listed newest first, each once";
  EXPECT_EQ(pages.size(), 3u);
  if (!pages.empty() && !pages[0].empty()) {
    EXPECT_EQ(str(pages[0][0], "functionId"), id);
    EXPECT_EQ(pages[0][0].at("input"), (json::object{{"i", 4}}));
  }
}

TEST_F(Lifecycle, FunctionListPaginationVisitsEveryFunctionExactlyOnce) {
  std::set<std::string> mine;
  for (int i = 0; i < 7; ++i) {
    auto r = http().post_json("/functions", wat_function(unique_name("page"), wat("echo")));
    ASSERT_EQ(r.status, 202) << http().describe_exchange();
    mine.insert(str(r.json(), "id"));
  }
  auto pages = walk_pages(http(), "/functions", 3);
  std::multiset<std::string> seen;
  for (auto& page : pages) {
    for (auto& item : page) {
      seen.insert(str(item, "id"));
      EXPECT_FALSE(str(item, "name").empty()) << json::serialize(item);
      EXPECT_FALSE(str(item, "status").empty()) << json::serialize(item);
    }
  }
  for (auto& id : mine) EXPECT_EQ(seen.count(id), 1u) << "function " << id;
  for (auto& id : seen) EXPECT_EQ(seen.count(id), 1u) << "listed twice: " << id;
  // Every page but the last is full.
  for (size_t i = 0; i + 1 < pages.size(); ++i) EXPECT_EQ(pages[i].size(), 3u) << "page " << i;
  EXPECT_GE(pages.size(), 3u);
}

TEST_F(Lifecycle, PutReplacesTheSourceAndRecompiles) {
  std::string name = unique_name("put");
  std::string id = deploy_ready(http(), name, wat("echo"));
  auto before = http().get("/functions/" + id).json();
  auto e1 = execute(http(), id, json::parse(R"({"v":1})"));
  EXPECT_EQ(e1.at("output"), json::parse(R"({"v":1})"));

  auto r = http().put_json("/functions/" + id, json::object{{"source", wat("constant")}});
  ASSERT_EQ(r.status, 202) << http().describe_exchange();
  EXPECT_EQ(str(r.json(), "id"), id);
  EXPECT_EQ(str(r.json(), "name"), name);
  EXPECT_EQ(str(r.json(), "status"), "PENDING") << r.describe();
  auto after = wait_terminal(http(), id);
  ASSERT_EQ(str(after, "status"), "READY") << json::serialize(after);
  EXPECT_NE(str(after, "wasmSha256"), str(before, "wasmSha256"));
  EXPECT_EQ(str(after, "createdAt"), str(before, "createdAt"));

  auto e2 = execute(http(), id, json::parse(R"({"v":1})"));
  EXPECT_EQ(e2.at("output"), json::parse(R"({"version":2})")) << json::serialize(e2);

  // A broken source replaces a good one: FAILED with a compileError, and execute is refused.
  auto bad = http().put_json("/functions/" + id, json::object{{"source", wat("invalid_syntax")}});
  ASSERT_EQ(bad.status, 202) << http().describe_exchange();
  auto failed = wait_terminal(http(), id);
  EXPECT_EQ(str(failed, "status"), "FAILED") << json::serialize(failed);
  EXPECT_FALSE(str(failed, "compileError").empty()) << json::serialize(failed);
  auto refused = http().post_json("/functions/" + id + "/execute", json::object{});
  EXPECT_TRUE(is_problem(refused, 409, "function_not_ready"));
}

TEST_F(Lifecycle, DeleteRemovesTheFunctionButKeepsItsExecutions) {
  std::string name = unique_name("doomed");
  std::string id = deploy_ready(http(), name, wat("echo"));
  auto e = execute(http(), id, json::parse(R"({"bye":true})"));
  std::string eid = str(e, "executionId");
  ASSERT_FALSE(eid.empty());

  auto d = http().del("/functions/" + id);
  EXPECT_EQ(d.status, 204) << http().describe_exchange();
  EXPECT_TRUE(d.body.empty()) << d.describe();

  EXPECT_TRUE(is_problem(http().get("/functions/" + id), 404, "function_not_found"));
  EXPECT_TRUE(is_problem(http().get("/functions/" + name), 404, "function_not_found"));
  EXPECT_TRUE(is_problem(http().post_json("/functions/" + id + "/execute", json::object{}), 404,
                         "function_not_found"));
  EXPECT_TRUE(is_problem(http().del("/functions/" + id), 404, "function_not_found"));

  auto g = get_execution(http(), eid);
  ASSERT_EQ(g.status, 200) << g.describe();
  EXPECT_EQ(str(g.json(), "functionId"), id);
  EXPECT_EQ(g.json().at("output"), json::parse(R"({"bye":true})"));

  for (auto& page : walk_pages(http(), "/functions", 200)) {
    for (auto& item : page) EXPECT_NE(str(item, "id"), id) << "deleted function still listed";
  }
}

TEST_F(Lifecycle, InvokeByNameAnswersWithTheRawOutput) {
  std::string name = unique_name("v1");
  std::string id = deploy_ready(http(), name, wat("echo"));
  std::string input = R"({"x":[1,2,3],"y":"z"})";
  auto r = http().post_raw("/functions/v1/" + name, input);
  ASSERT_EQ(r.status, 200) << http().describe_exchange();
  EXPECT_TRUE(r.header("content-type").starts_with("application/json")) << r.describe();
  EXPECT_EQ(r.json(), json::parse(input)) << "the body is the function's output itself";
  std::string eid = r.header("x-nil-execution-id");
  ASSERT_FALSE(eid.empty()) << r.describe();

  auto g = get_execution(http(), eid);
  ASSERT_EQ(g.status, 200) << g.describe();
  EXPECT_EQ(str(g.json(), "trigger"), "http");
  EXPECT_EQ(str(g.json(), "functionId"), id);
}

TEST_F(Lifecycle, InvokeByNameOfAFailingFunctionIs502) {
  std::string name = unique_name("v1-trap");
  deploy_ready(http(), name, wat("unreachable"));
  auto r = http().post_raw("/functions/v1/" + name, "{}");
  ASSERT_TRUE(is_problem(r, 502, "function_failed"));
  auto p = r.json();
  EXPECT_FALSE(str(p, "executionId").empty()) << r.describe();
  EXPECT_EQ(str(p, "errorType"), "trap") << r.describe();
  auto g = get_execution(http(), str(p, "executionId"));
  EXPECT_EQ(g.status, 200) << g.describe();
  EXPECT_EQ(str(g.json(), "status"), "FAILED");
}

TEST_F(Lifecycle, DeployMultipartWasm) {
  std::string name = unique_name("multipart");
  std::string wasm = wasm_bytes("echo");
  ASSERT_FALSE(wasm.empty());
  std::string boundary = "----nil-test-boundary-7d3f";
  std::string body;
  body += "--" + boundary + "\r\n";
  body += "Content-Disposition: form-data; name=\"name\"\r\n\r\n";
  body += name + "\r\n";
  body += "--" + boundary + "\r\n";
  body += "Content-Disposition: form-data; name=\"wasm\"; filename=\"echo.wasm\"\r\n";
  body += "Content-Type: application/wasm\r\n\r\n";
  body += wasm + "\r\n";
  body += "--" + boundary + "--\r\n";
  auto r =
      http().post_raw("/functions/v1/deploy", body, "multipart/form-data; boundary=" + boundary);
  ASSERT_EQ(r.status, 202) << http().describe_exchange();
  auto f = r.json();
  EXPECT_EQ(str(f, "name"), name);
  EXPECT_EQ(str(f, "language"), "wasm");
  EXPECT_EQ(str(f, "status"), "PENDING");
  auto done = wait_terminal(http(), str(f, "id"));
  ASSERT_EQ(str(done, "status"), "READY") << json::serialize(done);
  auto e = execute(http(), str(f, "id"), json::parse(R"({"via":"multipart"})"));
  EXPECT_EQ(e.at("output"), json::parse(R"({"via":"multipart"})"));

  // A form without the wasm part is refused.
  std::string partial = "--" + boundary +
                        "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nlonely\r\n--" +
                        boundary + "--\r\n";
  EXPECT_TRUE(is_problem(
      http().post_raw("/functions/v1/deploy", partial, "multipart/form-data; boundary=" + boundary),
      400, "invalid_multipart"));
}

TEST_F(Lifecycle, CreateFromWasmBase64) {
  std::string name = unique_name("b64");
  json::object body{
      {"name", name}, {"language", "wasm"}, {"wasmBase64", base64_encode(wasm_bytes("echo"))}};
  auto r = http().post_json("/functions", body);
  ASSERT_EQ(r.status, 202) << http().describe_exchange();
  EXPECT_EQ(str(r.json(), "language"), "wasm");
  auto done = wait_terminal(http(), str(r.json(), "id"));
  ASSERT_EQ(str(done, "status"), "READY") << json::serialize(done);
  auto e = execute(http(), str(done, "id"), json::value(42));
  EXPECT_EQ(e.at("output"), json::value(42)) << json::serialize(e);
}

TEST_F(Lifecycle, HelloExampleFromTheReadme) {
  std::string source = read_file(source_dir() / "examples/hello.wat");
  std::string id = deploy_ready(http(), unique_name("hello"), source);
  auto e = execute(http(), id, json::parse(R"({"name":"world"})"));
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(e.at("output"),
            json::parse(R"({"message":"hello from NIL","input":{"name":"world"}})"));
}

TEST_F(Lifecycle, HealthAndReadiness) {
  for (auto path : {"/healthz", "/readyz"}) {
    auto r = http().get(path);
    EXPECT_EQ(r.status, 200) << path << "\n" << r.describe();
  }
}

TEST_F(Lifecycle, AdminQueuesShowsTheCompileQueue) {
  auto r = http().get("/admin/queues");
  ASSERT_EQ(r.status, 200) << r.describe();
  auto v = r.json();
  ASSERT_TRUE(v.is_object() && v.as_object().contains("queues") && v.at("queues").is_array())
      << r.describe();
  const json::object* compile = nullptr;
  for (auto& q : v.at("queues").as_array()) {
    if (str(q, "name") == "compile") compile = &q.as_object();
  }
  ASSERT_NE(compile, nullptr) << r.describe();
  EXPECT_TRUE(compile->contains("pending") && compile->at("pending").is_int64()) << r.describe();
  EXPECT_TRUE(compile->contains("running") && compile->at("running").is_int64()) << r.describe();
  EXPECT_TRUE(compile->contains("oldestPendingAt")) << r.describe();
  EXPECT_TRUE(compile->contains("jobs") && compile->at("jobs").is_array()) << r.describe();
}

TEST_F(Lifecycle, ServerLogLinesAboutAFunctionCarryItsId) {
  // A trapping function: its execution is logged ("execution failed", before the answer).
  std::string id = deploy_ready(http(), unique_name("logged"), wat("unreachable"));
  auto e = execute(http(), id, json::object{});
  std::string eid = str(e, "executionId");
  ASSERT_EQ(str(e, "status"), "FAILED") << json::serialize(e);
  // The compile worker logs "compile finished" just after it stores READY, so a client can see
  // READY first: wait for that line (bounded) rather than sleep and hope.
  auto has_compile_finished = [&] {
    for (auto& line : nild().log_lines()) {
      if (line.find(id) != std::string::npos && line.find("compile finished") != std::string::npos)
        return true;
    }
    return false;
  };
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!has_compile_finished() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(has_compile_finished())
      << "no \"compile finished\" line about " << id << " within 10 s";
  int about_function = 0;
  for (auto& line : nild().log_lines()) {
    if (line.find(id) == std::string::npos) continue;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    ASSERT_FALSE(ec) << "log line is not JSON: " << line;
    // Any line that mentions the function must carry it as "functionId".
    EXPECT_EQ(str(v, "functionId"), id)
        << "line mentions the function without functionId: " << line;
    ++about_function;
  }
  EXPECT_GT(about_function, 0) << "no log line about function " << id;
  int about_execution = 0;
  for (auto& line : nild().log_lines()) {
    if (line.find(eid) == std::string::npos) continue;
    auto v = json::parse(line);
    EXPECT_EQ(str(v, "executionId"), eid) << line;
    EXPECT_EQ(str(v, "functionId"), id) << line;
    ++about_execution;
  }
  EXPECT_GT(about_execution, 0) << "no log line about the failed execution " << eid;
}

}  // namespace
}  // namespace nil::it
