// Operations (docs/operations.md): answers after the group commit (--durability=commit), the
// refusal to run as root and the drop to --user, against a real nild.
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace nil::it {
namespace {

constexpr std::string_view kEcho = R"((module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 2))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))))";

// Runs `cmd` through the shell; returns its exit status and its output (stdout and stderr).
std::pair<int, std::string> run_shell(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// The "Uid:" line of /proc/PID/status: real, effective, saved and filesystem uid.
std::vector<uid_t> uids_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::vector<uid_t> ids;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Uid:", 0) != 0) continue;
    std::istringstream fields(line.substr(4));
    for (uid_t u; fields >> u;) ids.push_back(u);
  }
  return ids;
}

class DurabilityTest : public FreshNildTest {};

// With --durability=commit every execute that was answered is committed: a kill -9 right after
// the last answer, then a restart on the same data dir, finds every answered execution.
TEST_F(DurabilityTest, KillNineAfterAnsweredExecutesLosesNoneWithCommit) {
  NildProcess& n = start_nild({.args = {"--durability", "commit", "--native-tier", "off"}});
  std::string fid;
  {
    HttpClient c(n.port());
    fid = deploy_ready(c, unique_name("durable"), kEcho);
  }
  ASSERT_FALSE(fid.empty());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(n.port());
      for (int i = 0; i < kPerThread; ++i) {
        auto r = c.post_json("/functions/" + fid + "/execute", json::object{});
        if (r.status != 200) {
          ADD_FAILURE() << c.describe_exchange();
          return;
        }
        ids[t].push_back(str(r.json(), "executionId"));
      }
    });
  }
  for (auto& th : threads) th.join();
  // One more, and SIGKILL the instant its answer is read: that record starts a new group, which
  // the writer would let fill for 2 ms before committing (with --durability=async this loses it,
  // as a rule).
  {
    HttpClient c(n.port());
    auto r = c.post_json("/functions/" + fid + "/execute", json::object{});
    ASSERT_EQ(::kill(n.pid(), SIGKILL), 0);
    ASSERT_EQ(r.status, 200) << r.describe();
    ids[0].push_back(str(r.json(), "executionId"));
  }
  n.kill9();  // reaps it
  n.restart({.args = {"--native-tier", "off"}});
  HttpClient c(n.port());
  int answered = 0;
  int missing = 0;
  for (const auto& list : ids) {
    for (const auto& id : list) {
      ++answered;
      auto r = c.get("/executions/" + id);
      if (r.status != 200) {
        ++missing;
        ADD_FAILURE() << "answered execution " << id << " lost: " << r.describe();
      }
    }
  }
  EXPECT_EQ(answered, kThreads * kPerThread + 1);
  EXPECT_EQ(missing, 0);
}

TEST_F(DurabilityTest, AsyncStillAnswersAndRecords) {
  NildProcess& n = start_nild({.args = {"--durability", "async", "--native-tier", "off"}});
  HttpClient c(n.port());
  std::string fid = deploy_ready(c, unique_name("async"), kEcho);
  json::object ex = execute(c, fid, json::object{});
  EXPECT_EQ(str(ex, "status"), "SUCCEEDED");
  auto r = c.get("/executions/" + str(ex, "executionId"));  // reads sync with the writer
  EXPECT_EQ(r.status, 200) << r.describe();
}

TEST(PrivilegesTest, RootWithoutUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  auto [status, out] =
      run_shell("env -u NIL_ALLOW_ROOT -u NIL_USER '" + nild_binary().string() +
                "' --listen 127.0.0.1:0 --data-dir '" + (dir.path() / "data").string() + "'");
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("refusing to run as root"), std::string::npos) << out;
  EXPECT_NE(out.find("--user"), std::string::npos) << out;
  // Refused before touching anything: no data dir was made.
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "data"));
}

TEST(PrivilegesTest, UnknownUserIsRefused) {
  TempDir dir;
  auto [status, out] = run_shell("'" + nild_binary().string() +
                                 "' --user no-such-user-nil --listen 127.0.0.1:0 --data-dir '" +
                                 (dir.path() / "data").string() + "'");
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("no such user"), std::string::npos) << out;
}

class DropToUserTest : public FreshNildTest {};

// Started as root with --user, nild runs as that user (every uid of the process), and compiles
// (bubblewrap with user namespaces + seccomp) and executions keep working.
TEST_F(DropToUserTest, RunsAsTheUserAndStillCompilesC) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (::getpwnam("nil-test") == nullptr) {
    auto [st, out] =
        run_shell("useradd --system --no-create-home --shell /usr/sbin/nologin nil-test");
    ASSERT_EQ(st, 0) << out;
  }
  struct passwd* pw = ::getpwnam("nil-test");
  ASSERT_NE(pw, nullptr);
  const uid_t uid = pw->pw_uid;
  NildProcess& n = start_nild({.args = {"--user", "nil-test"}});
  std::vector<uid_t> ids = uids_of(n.pid());
  ASSERT_EQ(ids.size(), 4u);
  for (uid_t u : ids) EXPECT_EQ(u, uid);
  EXPECT_NE(n.log_tail(200).find("running as user"), std::string::npos);

  HttpClient c(n.port());
  json::object body{
      {"name", unique_name("dropped-c")},
      {"language", "c"},
      {"source",
       "#include <stdio.h>\nint main(void) { printf(\"{\\\"ok\\\":true}\"); return 0; }\n"}};
  auto r = c.post_json("/functions", body);
  ASSERT_EQ(r.status, 202) << c.describe_exchange();
  json::object f = wait_terminal(c, str(r.json(), "id"), nullptr, 120s);
  ASSERT_EQ(str(f, "status"), "READY") << json::serialize(f);
  json::object ex = execute(c, str(f, "id"), json::object{});
  EXPECT_EQ(str(ex, "status"), "SUCCEEDED") << json::serialize(ex);

  // A restart as the user works on the data dir the first run handed over.
  EXPECT_EQ(n.stop(), 0);
  n.restart({.args = {"--user", "nil-test"}});
  HttpClient c2(n.port());
  EXPECT_EQ(c2.get("/functions/" + str(f, "id")).status, 200);
}

}  // namespace
}  // namespace nil::it
