// The HTTP server and the process: body limits, keep-alive and pipelining, execute before READY,
// kill -9 during a compile, graceful SIGTERM with work in flight, restart on the same data dir.
#include <sys/wait.h>

#include <atomic>
#include <future>
#include <optional>
#include <thread>

#include "harness.h"

namespace nil::it {
namespace {

std::string raw_request(std::string_view method, std::string_view target, std::string_view body,
                        std::string_view content_type = "application/json",
                        std::string_view api_key = {}) {
  std::string out = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  out += "Host: 127.0.0.1\r\n";
  if (!api_key.empty()) out += "Authorization: Bearer " + std::string(api_key) + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    out += "Content-Type: " + std::string(content_type) + "\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

// --- request body limit ------------------------------------------------------------------------

class BodyLimit : public NildSuite<BodyLimit> {
 public:
  static NildOptions options() { return {.args = {"--max-body-bytes", "65536"}}; }
};

std::string json_of_size(size_t n) {
  // {"name":"x","language":"wat","source":"(module) ;; aaaa..."}
  std::string prefix = R"({"name":"big-body","language":"wat","source":"(module) ;; )";
  std::string suffix = R"("})";
  return prefix + std::string(n - prefix.size() - suffix.size(), 'a') + suffix;
}

TEST_F(BodyLimit, BodyOverTheLimitIs413AndTheServerStillServes) {
  RawConnection conn(nild().port());
  std::string body = json_of_size(100 * 1024);
  conn.write(raw_request("POST", "/functions", body));  // the server may stop reading early
  std::string error;
  auto r = conn.read_response(&error);
  ASSERT_TRUE(r.has_value()) << "no response to a 100 KiB body: " << error;
  EXPECT_TRUE(is_problem(*r, 413, "body_too_large"));

  // Other connections are unaffected, and a body under the limit is processed.
  EXPECT_EQ(http().get("/healthz").status, 200);
  auto under = http().post_raw("/functions", json_of_size(60 * 1024));
  EXPECT_NE(under.status, 413) << http().describe_exchange();
  EXPECT_EQ(under.status, 202) << http().describe_exchange();
}

TEST_F(BodyLimit, ChunkedBodyOverTheLimitIs413) {
  RawConnection conn(nild().port());
  std::string head =
      "POST /functions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  std::string body = json_of_size(100 * 1024);
  std::string chunked;
  for (size_t off = 0; off < body.size(); off += 8192) {
    std::string part = body.substr(off, 8192);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    chunked += size + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  conn.write(head + chunked);
  std::string error;
  auto r = conn.read_response(&error);
  ASSERT_TRUE(r.has_value()) << "no response to a 100 KiB chunked body: " << error;
  EXPECT_TRUE(is_problem(*r, 413, "body_too_large"));
  EXPECT_EQ(http().get("/healthz").status, 200);
}

// --- keep-alive and pipelining -----------------------------------------------------------------

class Connection : public NildSuite<Connection> {};

// One I/O loop only: every connection shares it, the case where a long request would hold up
// all the others if it ran on the loop.
class OneLoop : public NildSuite<OneLoop> {
 public:
  static NildOptions options() { return {.args = {"--io-threads", "1"}}; }
};

TEST_F(OneLoop, ASlowFunctionDoesNotHoldUpTheOtherConnectionsOfItsLoop) {
  HttpClient c(nild().port());
  // Busy-waits one second, then answers {"spun":true}.
  std::string id = deploy_ready(c, unique_name("spin"), wat("spin"),
                                Limits{.timeout_ms = 10'000, .memory_mb = std::nullopt});
  // The first call has no history: it runs on the loop and teaches the server it is slow.
  json::object first = execute(c, id, json::object{});
  ASSERT_EQ(str(first, "status"), "SUCCEEDED") << json::serialize(first);

  HttpClient other(nild().port());  // a kept-alive connection on the same (only) loop
  ASSERT_EQ(other.get("/healthz").status, 200);

  RawConnection slow(nild().port());
  ASSERT_TRUE(slow.write(raw_request("POST", "/functions/" + id + "/execute", "{}",
                                     "application/json", nild().api_key())));
  std::atomic<bool> slow_answered{false};
  std::optional<HttpResponse> slow_response;
  std::thread reader([&] {
    slow_response = slow.read_response();
    slow_answered = true;
  });
  // Synchronisation, not a timing assertion: let the server start the one-second call.
  std::this_thread::sleep_for(200ms);
  for (int i = 0; i < 3; ++i) {
    HttpResponse h = other.get("/healthz");
    EXPECT_EQ(h.status, 200) << h.describe();
    EXPECT_FALSE(slow_answered.load()) << "request " << i << " waited for the slow function";
  }
  reader.join();
  ASSERT_TRUE(slow_response.has_value());
  EXPECT_EQ(slow_response->status, 200) << slow_response->describe();
  EXPECT_EQ(str(slow_response->json(), "status"), "SUCCEEDED") << slow_response->describe();
}

TEST_F(Connection, KeepAliveServesManyRequestsOnOneSocket) {
  RawConnection conn(nild().port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(conn.write(raw_request("GET", "/healthz", "")));
    std::string error;
    auto r = conn.read_response(&error);
    ASSERT_TRUE(r.has_value()) << "request " << i << ": " << error;
    EXPECT_EQ(r->status, 200) << r->describe();
    EXPECT_NE(r->header("connection"), "close") << r->describe();
  }
}

TEST_F(Connection, PipelinedRequestsAreAnsweredInOrder) {
  std::string echo = deploy_ready(http(), unique_name("echo"), wat("echo"));
  std::string spin = deploy_ready(http(), unique_name("spin"), wat("spin"), {5000, {}});

  RawConnection conn(nild().port());
  // The slow request first: the fast ones behind it must still be answered after it.
  const std::string& key = nild().api_key();
  std::string batch =
      raw_request("POST", "/functions/" + spin + "/execute", "{}", "application/json", key) +
      raw_request("POST", "/functions/" + echo + "/execute", R"({"n":1})", "application/json",
                  key) +
      raw_request("GET", "/functions/" + echo, "", "application/json", key) +
      raw_request("GET", "/no-such-route", "", "application/json", key) +
      raw_request("POST", "/functions/" + echo + "/execute", R"({"n":2})", "application/json", key);
  ASSERT_TRUE(conn.write(batch));

  std::vector<HttpResponse> responses;
  for (int i = 0; i < 5; ++i) {
    std::string error;
    auto r = conn.read_response(&error);
    ASSERT_TRUE(r.has_value()) << "response " << i << ": " << error;
    responses.push_back(*r);
  }
  ASSERT_EQ(responses[0].status, 200) << responses[0].describe();
  EXPECT_EQ(responses[0].json().at("output"), json::parse(R"({"spun":true})"))
      << responses[0].describe();
  ASSERT_EQ(responses[1].status, 200) << responses[1].describe();
  EXPECT_EQ(responses[1].json().at("output"), json::parse(R"({"n":1})")) << responses[1].describe();
  ASSERT_EQ(responses[2].status, 200) << responses[2].describe();
  EXPECT_EQ(str(responses[2].json(), "id"), echo) << responses[2].describe();
  EXPECT_TRUE(is_problem(responses[3], 404, "route_not_found"));
  ASSERT_EQ(responses[4].status, 200) << responses[4].describe();
  EXPECT_EQ(responses[4].json().at("output"), json::parse(R"({"n":2})")) << responses[4].describe();
}

TEST_F(Connection, GarbageRequestIs400) {
  RawConnection conn(nild().port());
  conn.write("THIS IS NOT HTTP\r\n\r\n");
  std::string error;
  auto r = conn.read_response(&error);
  // Either a malformed_request problem or a closed connection; never a hang or a crash.
  if (r) {
    EXPECT_TRUE(is_problem(*r, 400, "malformed_request"));
  }
  EXPECT_EQ(http().get("/healthz").status, 200);
}

// --- process lifecycle: each test owns its nild --------------------------------------------------

class Process : public FreshNildTest {};

// A lease shorter than the delay: the worker's heartbeat must keep the job while it waits, and
// after a kill -9 the job is retaken within about 2 s of the last heartbeat.
NildOptions with_compile_delay(int ms) {
  return {.args = {"--compile-workers", "1", "--compile-lease-ms", "2000"},
          .env = {{"NIL_DEBUG_COMPILE_DELAY_MS", std::to_string(ms)}}};
}

// Polls GET /functions/{id} until `status` (cap 10 s).
bool wait_for_status(HttpClient& c, const std::string& id, std::string_view status) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = c.get("/functions/" + id);
    if (r.status == 200 && str(r.json(), "status") == status) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST_F(Process, ExecuteBeforeReadyIs409) {
  auto& nild = start_nild(with_compile_delay(1500));
  HttpClient c(nild.port());
  std::string name = unique_name("slow-compile");
  auto r = c.post_json("/functions", wat_function(name, wat("echo")));
  ASSERT_EQ(r.status, 202) << c.describe_exchange();
  std::string id = str(r.json(), "id");

  // PENDING or COMPILING: both refuse.
  EXPECT_TRUE(is_problem(c.post_json("/functions/" + id + "/execute", json::object{}), 409,
                         "function_not_ready"));
  EXPECT_TRUE(is_problem(c.post_raw("/functions/v1/" + name, "{}"), 409, "function_not_ready"));
  ASSERT_TRUE(wait_for_status(c, id, "COMPILING")) << c.describe_exchange();
  EXPECT_TRUE(is_problem(c.post_json("/functions/" + id + "/execute", json::object{}), 409,
                         "function_not_ready"));

  auto done = wait_terminal(c, id);
  ASSERT_EQ(str(done, "status"), "READY") << json::serialize(done);
  EXPECT_EQ(execute(c, id, json::value("now")).at("output"), json::value("now"));
}

// The compile queue of GET /admin/queues, polled until `pred` holds (cap 5 s): the queue table
// and the function's status are separate rows, so one may lag the other by a moment.
template <typename Pred>
std::pair<bool, std::string> wait_compile_queue(HttpClient& c, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string last;
  while (true) {
    auto r = c.get("/admin/queues");
    last = r.describe();
    if (r.status == 200) {
      json::value v = r.json();
      if (v.is_object() && v.as_object().contains("queues") && v.at("queues").is_array()) {
        for (auto& q : v.at("queues").as_array()) {
          if (str(q, "name") == "compile" && q.is_object() && pred(q.as_object())) {
            return {true, last};
          }
        }
      }
    }
    if (std::chrono::steady_clock::now() > deadline) return {false, last};
    std::this_thread::sleep_for(25ms);
  }
}

TEST_F(Process, KillDuringCompileTheJobCompletesAfterRestart) {
  auto& nild = start_nild(with_compile_delay(3000));
  std::string id;
  {
    HttpClient c(nild.port());
    auto r = c.post_json("/functions", wat_function(unique_name("crash"), wat("echo")));
    ASSERT_EQ(r.status, 202) << c.describe_exchange();
    id = str(r.json(), "id");
    ASSERT_TRUE(wait_for_status(c, id, "COMPILING")) << c.describe_exchange();

    // The queue shows the running job.
    auto [running, shown] = wait_compile_queue(c, [&](const json::object& q) {
      bool listed = false;
      for (auto& job : q.at("jobs").as_array()) {
        if (json::serialize(job).find(id) != std::string::npos) listed = true;
      }
      return listed && q.at("running").to_number<int64_t>() >= 1;
    });
    EXPECT_TRUE(running) << "the compiling job of " << id << " is not running in /admin/queues:\n"
                         << shown;
  }
  nild.kill9();
  nild.restart({});  // same data dir, no delay

  HttpClient c(nild.port());
  auto done = wait_terminal(c, id);
  ASSERT_EQ(str(done, "status"), "READY") << json::serialize(done);
  EXPECT_EQ(execute(c, id, json::value("survived")).at("output"), json::value("survived"));

  auto [drained, shown] = wait_compile_queue(c, [](const json::object& q) {
    return q.at("running").to_number<int64_t>() == 0 && q.at("pending").to_number<int64_t>() == 0;
  });
  EXPECT_TRUE(drained) << "the retaken job is still in the queue:\n" << shown;
}

TEST_F(Process, SigtermFinishesTheInFlightExecutionAndKeepsIt) {
  auto& nild = start_nild();
  HttpClient c(nild.port());
  std::string id = deploy_ready(c, unique_name("spin"), wat("spin"), {5000, {}});
  ASSERT_FALSE(id.empty());

  uint16_t port = nild.port();
  auto in_flight = std::async(std::launch::async, [port, id] {
    HttpClient other(port);
    return other.post_json("/functions/" + id + "/execute", json::object{});
  });
  std::this_thread::sleep_for(300ms);  // the spin (1 s) is running now
  nild.terminate();

  auto r = in_flight.get();
  ASSERT_EQ(r.status, 200) << "the in-flight request must be answered\n" << r.describe();
  auto e = r.json();
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << r.describe();
  EXPECT_EQ(e.at("output"), json::parse(R"({"spun":true})"));
  std::string eid = str(e, "executionId");

  auto status = nild.wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << "nild did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << "exit status " << *status << "; log tail:\n"
      << nild.log_tail();

  nild.restart({});
  HttpClient after(nild.port());
  auto g = after.get("/executions/" + eid);
  ASSERT_EQ(g.status, 200) << "an answered execution was lost across SIGTERM\n" << g.describe();
  EXPECT_EQ(str(g.json(), "status"), "SUCCEEDED");
  EXPECT_EQ(g.json().at("output"), json::parse(R"({"spun":true})"));
}

TEST_F(Process, RestartKeepsFunctionsAndExecutions) {
  auto& nild = start_nild();
  std::string id, eid;
  {
    HttpClient c(nild.port());
    id = deploy_ready(c, unique_name("durable"), wat("echo"));
    eid = str(execute(c, id, json::value("before")), "executionId");
  }
  int status = nild.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
  nild.restart({});
  HttpClient c(nild.port());
  auto f = c.get("/functions/" + id);
  ASSERT_EQ(f.status, 200) << f.describe();
  EXPECT_EQ(str(f.json(), "status"), "READY");
  EXPECT_EQ(c.get("/executions/" + eid).status, 200);
  EXPECT_EQ(execute(c, id, json::value("after")).at("output"), json::value("after"));
  auto list = c.get("/functions/" + id + "/executions");
  ASSERT_EQ(list.status, 200) << list.describe();
  EXPECT_EQ(list.json().at("items").as_array().size(), 2u) << list.describe();
}

}  // namespace
}  // namespace nil::it
