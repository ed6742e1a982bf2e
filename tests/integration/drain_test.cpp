// The drain on SIGTERM (docs/operations.md, "Graceful shutdown"): /readyz turns 503 while nild
// still accepts (--drain-accept-ms) and /healthz stays 200; an invocation started before the
// signal is answered and its record survives a restart; compile jobs still held are given back
// to the queue; a second SIGTERM or --drain-timeout-ms ends the drain at once with status 1.
// Every answer names its node (X-Nil-Node).
#include <sys/wait.h>

#include <future>
#include <optional>
#include <thread>

#include "harness.h"

namespace nil::it {
namespace {

class Drain : public FreshNildTest {};

// GET /readyz on fresh connections until it answers 503 (cap 20 s): the signal is handled on
// nild's own schedule, so the first checks may still see 200. nullopt if it never turned.
std::optional<HttpResponse> wait_not_ready(uint16_t port) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto c = HttpClient::anonymous(port);
    auto r = c.get("/readyz");
    if (r.status == 503) return r;
    if (r.status != 200) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

bool log_has(const NildProcess& nild, std::string_view text) {
  for (const auto& line : nild.log_lines()) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST_F(Drain, EveryAnswerNamesTheNode) {
  auto& nild = start_nild({.args = {"--node-id", "node-a"}});
  auto c = HttpClient::anonymous(nild.port());
  EXPECT_EQ(c.get("/healthz").header("X-Nil-Node"), "node-a");
  auto missing = c.get("/functions/nope");  // errors too
  EXPECT_GE(missing.status, 400) << missing.describe();
  EXPECT_EQ(missing.header("X-Nil-Node"), "node-a");
}

TEST_F(Drain, TheDefaultNodeIdIsHostnameAndPort) {
  auto& nild = start_nild();
  auto c = HttpClient::anonymous(nild.port());
  std::string node = c.get("/healthz").header("X-Nil-Node");
  std::string suffix = ":" + std::to_string(nild.port());
  ASSERT_GT(node.size(), suffix.size()) << node;
  EXPECT_EQ(node.substr(node.size() - suffix.size()), suffix) << node;
}

TEST_F(Drain, ReadyzTurns503WhileASlowInvocationFinishesAndItsRecordSurvives) {
  auto& nild = start_nild({.args = {"--drain-accept-ms", "3000"}});
  HttpClient c(nild.port());
  std::string id = deploy_ready(c, unique_name("spin"), wat("spin"), {5000, {}});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(HttpClient::anonymous(nild.port()).get("/readyz").status, 200);

  uint16_t port = nild.port();
  auto in_flight = std::async(std::launch::async, [port, id] {
    HttpClient other(port);
    return other.post_json("/functions/" + id + "/execute", json::object{});
  });
  std::this_thread::sleep_for(300ms);  // the spin (1 s) is running now
  nild.terminate();

  // Still accepting (--drain-accept-ms), but no longer ready; alive all the same.
  auto not_ready = wait_not_ready(port);
  ASSERT_TRUE(not_ready.has_value()) << "/readyz never answered 503 after SIGTERM";
  EXPECT_TRUE(is_problem(*not_ready, 503, "shutting_down"));
  EXPECT_EQ(not_ready->header("Connection"), "close") << not_ready->describe();
  auto alive = HttpClient::anonymous(port).get("/healthz");
  EXPECT_EQ(alive.status, 200) << alive.describe();

  auto r = in_flight.get();
  ASSERT_EQ(r.status, 200) << "the in-flight request must be answered\n" << r.describe();
  auto e = r.json();
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << r.describe();
  EXPECT_EQ(e.at("output"), json::parse(R"({"spun":true})"));
  std::string eid = str(e, "executionId");

  auto status = nild.wait_exit(60s);
  ASSERT_TRUE(status.has_value()) << "nild did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << "exit status " << *status << "; log tail:\n"
      << nild.log_tail();

  nild.restart({});
  HttpClient after(nild.port());
  auto g = after.get("/executions/" + eid);
  ASSERT_EQ(g.status, 200) << "an answered execution was lost across the drain\n" << g.describe();
  EXPECT_EQ(str(g.json(), "status"), "SUCCEEDED");
}

TEST_F(Drain, ASecondSigtermEndsTheDrainAtOnce) {
  // A drain that would accept for ten minutes: only the second signal can end it.
  auto& nild = start_nild({.args = {"--drain-accept-ms", "600000"}});
  nild.terminate();
  ASSERT_TRUE(wait_not_ready(nild.port()).has_value()) << "/readyz never answered 503";
  EXPECT_FALSE(nild.wait_exit(200ms).has_value()) << "nild left the accept window early";
  nild.terminate();
  auto status = nild.wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << "a second SIGTERM did not end the drain";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << "exit status " << *status;
  EXPECT_TRUE(log_has(nild, "second signal")) << nild.log_tail();
}

TEST_F(Drain, TheDrainTimeoutEndsTheDrain) {
  auto& nild = start_nild({.args = {"--drain-accept-ms", "600000", "--drain-timeout-ms", "1500"}});
  nild.terminate();
  auto status = nild.wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << "--drain-timeout-ms did not end the drain";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << "exit status " << *status;
  EXPECT_TRUE(log_has(nild, "drain timeout")) << nild.log_tail();
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

TEST_F(Drain, ACompileOutlastingTheDrainIsGivenBackToTheQueue) {
  // The compile "takes" a minute (the test-only delay) under a ten-minute lease: without the
  // release, the next node could claim the job only ten minutes later.
  auto& nild = start_nild({.args = {"--compile-workers", "1", "--compile-lease-ms", "600000",
                                    "--shutdown-grace-ms", "300", "--drain-timeout-ms", "5000"},
                           .env = {{"NIL_DEBUG_COMPILE_DELAY_MS", "60000"}}});
  std::string id;
  {
    HttpClient c(nild.port());
    auto r = c.post_json("/functions", wat_function(unique_name("drained"), wat("echo")));
    ASSERT_EQ(r.status, 202) << c.describe_exchange();
    id = str(r.json(), "id");
    ASSERT_TRUE(wait_for_status(c, id, "COMPILING")) << c.describe_exchange();
  }
  nild.terminate();
  // The compile never ends within the drain: its job is released, then the drain timeout ends
  // nild (it would otherwise wait for the compiler).
  auto status = nild.wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << "nild did not exit";
  EXPECT_TRUE(log_has(nild, "compile job released")) << nild.log_tail();

  nild.restart({});
  HttpClient c(nild.port());
  auto done = wait_terminal(c, id, nullptr, 20s);
  ASSERT_EQ(str(done, "status"), "READY") << json::serialize(done);
  EXPECT_EQ(execute(c, id, json::value("after")).at("output"), json::value("after"));
}

}  // namespace
}  // namespace nil::it
