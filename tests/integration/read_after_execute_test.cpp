// Read after execute (docs/architecture.md, ExecutionWriter::sync): once an execute is answered,
// GET /executions/{id} and GET /functions/{id}/executions find its record at once — no retry, no
// pause — however busy the server is, with either --durability. Records are committed in groups
// after the answer (async) or before it (commit); the read routes wait for the group that holds
// everything submitted before them, so a 404 or a missing list entry here is a bug, not a race.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace nil::it {
namespace {

constexpr int kThreads = 8;
constexpr int kPerThread = 200;

// Mismatches, counted across the client threads; the first few are kept for the message.
class Misses {
 public:
  void add(std::string what) {
    ++count_;
    std::lock_guard lk(mu_);
    if (samples_.size() < 10) samples_.push_back(std::move(what));
  }
  int count() const { return count_.load(); }
  std::string describe() const {
    std::lock_guard lk(mu_);
    std::string s;
    for (const auto& m : samples_) s += m + "\n---\n";
    return s;
  }

 private:
  std::atomic<int> count_{0};
  mutable std::mutex mu_;
  std::vector<std::string> samples_;
};

// The stored record agrees with the answer: same id, function, status, output, error, duration.
std::string disagreement(const json::value& answer, const json::value& stored,
                         std::string_view function_id) {
  std::string why;
  if (str(stored, "id") != str(answer, "executionId")) why += "id; ";
  if (str(stored, "functionId") != function_id) why += "functionId; ";
  if (str(stored, "status") != str(answer, "status")) why += "status; ";
  if (stored.at("output") != answer.at("output")) why += "output; ";
  if (stored.at("error") != answer.at("error")) why += "error; ";
  if (stored.at("durationMs").to_number<double>() != answer.at("durationMs").to_number<double>())
    why += "durationMs; ";
  return why;
}

class ReadAfterExecute : public FreshNildTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(ReadAfterExecute, EveryAnsweredExecutionIsReadableAtOnce) {
  // The interpreter only: a background native build would only take CPU from the clients.
  NildProcess& n = start_nild({.args = {"--durability", GetParam(), "--native-tier", "off"}});
  HttpClient admin(n.port());
  // One echo function per client thread (so that the newest entry of its list is its own last
  // execution), and one trapping function they share (FAILED records take the same path).
  std::vector<std::string> echo(kThreads);
  for (auto& id : echo) {
    id = deploy_ready(admin, unique_name("rae-echo"), wat("echo"));
    ASSERT_FALSE(id.empty());
  }
  std::string trap = deploy_ready(admin, unique_name("rae-trap"), wat("unreachable"));
  ASSERT_FALSE(trap.empty());

  Misses misses;
  std::atomic<int> answered{0}, read{0}, listed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      HttpClient c(n.port());
      for (int i = 0; i < kPerThread; ++i) {
        const json::object input{{"t", t}, {"i", i}};
        const bool fails = i % 8 == 7;
        const bool v1 = !fails && i % 10 == 3;  // the v1 call: output as the body, id in a header
        const std::string& fid = fails ? trap : echo[t];
        json::value answer;
        if (v1) {
          auto r = c.post_json("/functions/v1/" + fid, input);
          if (r.status != 200 || r.header("x-nil-execution-id").empty()) {
            misses.add("v1 call not answered 200 with X-Nil-Execution-Id:\n" + r.describe());
            continue;
          }
          answer = json::object{{"executionId", r.header("x-nil-execution-id")},
                                {"status", "SUCCEEDED"},
                                {"output", r.json()},
                                {"error", nullptr}};
        } else {
          auto r = c.post_json("/functions/" + fid + "/execute", input);
          if (r.status != 200) {
            misses.add("execute not answered 200:\n" + r.describe());
            continue;
          }
          answer = r.json();
        }
        ++answered;
        const std::string eid = str(answer, "executionId");
        if (str(answer, "status") != (fails ? "FAILED" : "SUCCEEDED") ||
            (!fails && answer.at("output") != json::value(input))) {
          misses.add("unexpected answer: " + json::serialize(answer));
        }

        // The list (what `nil logs` reads), on every fifth own execution, read first so that no
        // other read has waited for the commit before it: newest first, so ours.
        if (!fails && i % 5 == 0) {
          auto l = c.get("/functions/" + fid + "/executions?limit=1");
          const json::value page = l.status == 200 ? l.json() : json::value();
          const json::value* items =
              page.is_object() ? page.as_object().if_contains("items") : nullptr;
          if (items == nullptr || !items->is_array() || items->as_array().empty() ||
              str(items->as_array().at(0), "id") != eid) {
            misses.add("GET /functions/" + fid + "/executions?limit=1 does not start with " + eid +
                       ":\n" + l.describe());
          } else {
            ++listed;
          }
        }

        // The read, at once and once.
        HttpResponse g = get_execution(c, eid);
        if (g.status != 200) {
          misses.add("GET /executions/" + eid + " right after its answer:\n" + g.describe());
          continue;
        }
        ++read;
        json::value stored = g.json();
        if (stored.at("input") != json::value(input)) misses.add("stored input differs: " + g.body);
        if (!v1) {
          if (std::string why = disagreement(answer, stored, fid); !why.empty()) {
            misses.add("stored record differs from the answer (" + why + "):\n" +
                       json::serialize(answer) + "\n" + g.body);
          }
        } else if (str(stored, "status") != "SUCCEEDED" ||
                   stored.at("output") != answer.at("output")) {
          misses.add("stored record differs from the v1 answer:\n" + json::serialize(answer) +
                     "\n" + g.body);
        }
      }
    });
  }
  for (auto& th : clients) th.join();

  EXPECT_EQ(misses.count(), 0) << misses.describe();
  EXPECT_EQ(answered.load(), kThreads * kPerThread);
  EXPECT_EQ(read.load(), kThreads * kPerThread);
  EXPECT_GT(listed.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Durability, ReadAfterExecute, ::testing::Values("async", "commit"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace nil::it
