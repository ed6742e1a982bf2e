// The nil host interface through a real nild (issue 4): a function compiled by the server reads
// its environment (the secret redacted), fetches from a local HTTP server, and inserts and
// selects rows in app.db; and every bad case ends as docs/abi.md says.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "harness.h"

namespace nil::it {
namespace {

// A tiny HTTP/1.1 server on 127.0.0.1 for http_fetch to reach: "/hello" answers a text body,
// "/slow" answers after 3 s (past the fetch timeout of the test nild). One thread per
// connection; every response closes its connection.
class LocalHttpServer {
 public:
  LocalHttpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "test HTTP server cannot listen";
      return;
    }
    socklen_t n = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &n);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~LocalHttpServer() {
    stop_ = true;
    if (accept_thread_.joinable()) accept_thread_.join();
    std::lock_guard lk(mu_);
    for (auto& t : conns_) t.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard lk(mu_);
      conns_.emplace_back([this, c] { serve(c); });
    }
  }
  void serve(int c) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    ++requests_;
    std::string path = req.substr(req.find(' ') + 1);
    path = path.substr(0, path.find(' '));
    if (path == "/slow") {
      for (int i = 0; i < 30 && !stop_; ++i) std::this_thread::sleep_for(100ms);
    }
    std::string body = path == "/hello" ? "hello from the test server" : "slow";
    std::string res =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Test: yes\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)::send(c, res.data(), res.size(), MSG_NOSIGNAL);
    ::close(c);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
};

LocalHttpServer& local_server() {
  static LocalHttpServer server;
  return server;
}

constexpr std::string_view kSecret = "sk-test-5b1f0c9e7d";

std::string guest_source() {
  return read_file(source_dir() / "tests/integration/guests/host_calls.c");
}

// Deploys the guest in C with `access` members, waits for READY (C compiles take a while on a
// loaded machine), returns its id.
std::string deploy_guest(HttpClient& c, std::string_view prefix, json::object access) {
  json::object body{{"name", unique_name(prefix)}, {"language", "c"}, {"source", guest_source()}};
  for (auto& kv : access) body[kv.key()] = kv.value();
  auto r = c.post_json("/functions", body);
  EXPECT_EQ(r.status, 202) << c.describe_exchange();
  if (r.status != 202) return {};
  json::object f = wait_terminal(c, str(r.json(), "id"), nullptr, 120s);
  EXPECT_EQ(str(f, "status"), "READY") << json::serialize(f);
  return str(f, "id");
}

json::object call(HttpClient& c, std::string_view id, std::string_view op, std::string_view a = "",
                  std::string_view b = "") {
  return execute(c, id, json::object{{"op", op}, {"a", a}, {"b", b}});
}

int status_of(const json::value& call) {
  return static_cast<int>(call.at("status").to_number<double>());
}

// The answer JSON a call held (its "result" text parsed).
json::value answer(const json::value& call) { return json::parse(call.at("result").as_string()); }

std::string error_code(const json::value& call) {
  json::value a = answer(call);
  if (!a.is_object() || !a.as_object().contains("error")) return "";
  return str(a.at("error"), "code");
}

const json::value* host_call(const json::value& execution, std::string_view name) {
  for (const auto& c : execution.at("hostCalls").as_array()) {
    if (str(c, "name") == name) return &c;
  }
  return nullptr;
}

class HostCalls : public NildSuite<HostCalls> {
 public:
  static NildOptions options() {
    local_server();  // listening before any function fetches
    // Shared scope: the suite's plain function writes the table its ddl function made.
    return {.args = {"--http-allow-private", "true", "--http-timeout-ms", "500", "--app-db-scope",
                     "shared"}};
  }

 protected:
  // One plain function and one with the db:ddl grant, shared by the suite's tests.
  void SetUp() override {
    NildSuite::SetUp();
    if (!plain_.empty()) return;
    std::string env = unique_name("hostenv");
    auto r = http().post_json(
        "/environments",
        json::object{
            {"name", env},
            {"vars",
             json::array{json::object{{"key", "PLAIN"}, {"value", "plain-value"}},
                         json::object{{"key", "TOKEN"}, {"value", kSecret}, {"secret", true}}}}});
    ASSERT_EQ(r.status, 201) << r.describe();
    allow_ = "127.0.0.1:" + std::to_string(local_server().port());
    plain_ = deploy_guest(
        http(), "plain",
        json::object{{"environments", json::array{env}}, {"httpAllow", json::array{allow_}}});
    ddl_ = deploy_guest(http(), "ddl", json::object{{"grants", json::array{"db:ddl"}}});
    ASSERT_FALSE(plain_.empty());
    ASSERT_FALSE(ddl_.empty());
    auto created = call(http(), ddl_, "db",
                        "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)");
    ASSERT_GE(status_of(created.at("output").at("call")), 0) << json::serialize(created);
  }

  static inline std::string plain_, ddl_, allow_;
};

TEST_F(HostCalls, EnvReadsTheAttachedEnvironmentAndTheSecretIsRedacted) {
  auto e = call(http(), plain_, "env", "PLAIN");
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(e.at("output").at("result"), "plain-value");
  EXPECT_EQ(e.at("output").at("getenv"), "plain-value");  // WASI environ holds the same

  auto s = call(http(), plain_, "env", "TOKEN");
  ASSERT_EQ(str(s, "status"), "SUCCEEDED") << json::serialize(s);
  EXPECT_EQ(s.at("output").at("result"), "***") << json::serialize(s);
  EXPECT_EQ(s.at("output").at("getenv"), "***");
  auto stored = get_execution(http(), str(s, "executionId"));
  ASSERT_EQ(stored.status, 200) << stored.describe();
  EXPECT_EQ(stored.body.find(kSecret), std::string::npos) << stored.describe();
  std::string logs = str(stored.json(), "logs");
  EXPECT_NE(logs.find("[info] ***"), std::string::npos) << logs;   // nil.log
  EXPECT_NE(logs.find("stderr: ***"), std::string::npos) << logs;  // WASI stderr
  const json::value stored_json = stored.json();
  const json::value* env_calls = host_call(stored_json, "env");
  ASSERT_NE(env_calls, nullptr) << stored.describe();
  EXPECT_EQ(env_calls->at("count"), 1);
  EXPECT_GT(env_calls->at("bytesOut").to_number<double>(), 0);
  EXPECT_NE(host_call(stored_json, "log"), nullptr) << stored.describe();

  auto missing = call(http(), plain_, "env", "NOPE");
  EXPECT_EQ(status_of(missing.at("output")), -1) << json::serialize(missing);
  // The server's own environment is not visible.
  EXPECT_EQ(status_of(call(http(), plain_, "env", "PATH").at("output")), -1);

  for (const auto& line : nild().log_lines())
    EXPECT_EQ(line.find(kSecret), std::string::npos) << line;
}

TEST_F(HostCalls, FetchesFromTheLocalServer) {
  std::string req = json::serialize(json::object{{"url", "http://" + allow_ + "/hello"}});
  auto e = call(http(), plain_, "fetch", req);
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  const json::value& c = e.at("output").at("call");
  ASSERT_GE(status_of(c), 0) << json::serialize(e);
  json::value a = answer(c);
  EXPECT_EQ(a.at("status"), 200) << a;
  EXPECT_EQ(a.at("body"), "hello from the test server") << a;
  EXPECT_EQ(a.at("headers").at("x-test"), "yes") << a;
  auto stored = get_execution(http(), str(e, "executionId"));
  const json::value stored_json = stored.json();
  const json::value* fetches = host_call(stored_json, "http_fetch");
  ASSERT_NE(fetches, nullptr) << stored.describe();
  EXPECT_EQ(fetches->at("count"), 1);
  EXPECT_GT(fetches->at("bytesIn").to_number<double>(), 0);
}

TEST_F(HostCalls, FetchRefusals) {
  struct Case {
    std::string what, url;
    int status;
    std::string code;
  };
  std::string port = std::to_string(local_server().port());
  std::vector<Case> cases = {
      {"host not on the allow-list", "http://localhost:" + port + "/hello", -4, "host_not_allowed"},
      {"other port of an allowed host", "http://127.0.0.1:1/hello", -4, "host_not_allowed"},
      {"public host not listed", "http://example.com/", -4, "host_not_allowed"},
      {"not http", "file:///etc/passwd", -3, "invalid_request"},
  };
  for (const auto& c : cases) {
    auto e = call(http(), plain_, "fetch", json::serialize(json::object{{"url", c.url}}));
    ASSERT_EQ(str(e, "status"), "SUCCEEDED") << c.what << ": " << json::serialize(e);
    EXPECT_EQ(status_of(e.at("output").at("call")), c.status)
        << c.what << ": " << json::serialize(e);
    EXPECT_EQ(error_code(e.at("output").at("call")), c.code)
        << c.what << ": " << json::serialize(e);
    EXPECT_EQ(e.at("output").at("after"), "went on");
  }
}

TEST_F(HostCalls, FetchTimeoutIsAnErrorToTheGuest) {
  auto t0 = std::chrono::steady_clock::now();
  auto e = call(http(), plain_, "fetch",
                json::serialize(json::object{{"url", "http://" + allow_ + "/slow"}}));
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(status_of(e.at("output").at("call")), -5) << json::serialize(e);
  EXPECT_EQ(error_code(e.at("output").at("call")), "timeout") << json::serialize(e);
  EXPECT_LT(took, 2500ms);  // --http-timeout-ms 500, not the server's 3 s
}

TEST_F(HostCalls, InsertAndSelectRowsInAppDb) {
  std::string body = unique_name("note");
  auto ins = call(http(), plain_, "db", "INSERT INTO notes (body) VALUES (?)",
                  json::serialize(json::array{body}));
  ASSERT_EQ(str(ins, "status"), "SUCCEEDED") << json::serialize(ins);
  const json::value& ic = ins.at("output").at("call");
  ASSERT_GE(status_of(ic), 0) << json::serialize(ins);
  EXPECT_EQ(answer(ic).at("rowsAffected"), 1) << json::serialize(ins);

  // Parameters are bound, never interpolated: a quote is data.
  auto tricky = call(http(), plain_, "db", "INSERT INTO notes (body) VALUES (?)",
                     R"(["it's'); DROP TABLE notes; --"])");
  ASSERT_GE(status_of(tricky.at("output").at("call")), 0) << json::serialize(tricky);

  auto sel = call(http(), plain_, "db", "SELECT body FROM notes WHERE body = ?",
                  json::serialize(json::array{body}));
  const json::value& sc = sel.at("output").at("call");
  ASSERT_GE(status_of(sc), 0) << json::serialize(sel);
  json::value a = answer(sc);
  EXPECT_EQ(a.at("columns"), (json::array{"body"})) << a;
  EXPECT_EQ(a.at("rows"), (json::array{json::array{json::value(body)}})) << a;
  EXPECT_EQ(a.at("truncated"), false) << a;

  // app.db is its own file beside the platform store, which functions cannot see.
  EXPECT_TRUE(std::filesystem::exists(nild().data_dir() / "app.db"));
  auto probe = call(http(), plain_, "db", "SELECT count(*) FROM functions");
  EXPECT_EQ(status_of(probe.at("output").at("call")), -7) << json::serialize(probe);
}

TEST_F(HostCalls, SqlRefusals) {
  struct Case {
    std::string what, sql;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"syntax error", "SELEC 1", -7, "sql_error"},
      {"missing table", "SELECT * FROM no_such_table", -7, "sql_error"},
      {"two statements", "SELECT 1; SELECT 2", -3, "multiple_statements"},
      {"DROP TABLE without db:ddl", "DROP TABLE notes", -4, "not_authorized"},
      {"CREATE TABLE without db:ddl", "CREATE TABLE t2 (x)", -4, "not_authorized"},
      {"PRAGMA without db:ddl", "PRAGMA table_info(notes)", -4, "not_authorized"},
      {"ATTACH", "ATTACH DATABASE '/tmp/x.db' AS x", -4, "not_authorized"},
  };
  for (const auto& c : cases) {
    auto e = call(http(), plain_, "db", c.sql);
    ASSERT_EQ(str(e, "status"), "SUCCEEDED") << c.what << ": " << json::serialize(e);
    EXPECT_EQ(status_of(e.at("output").at("call")), c.status)
        << c.what << ": " << json::serialize(e);
    EXPECT_EQ(error_code(e.at("output").at("call")), c.code)
        << c.what << ": " << json::serialize(e);
  }
  // The table survived the DROP attempt; the SQL error is clear and the execution went on.
  auto two = call(http(), plain_, "db2", "SELEC 1", "SELECT count(*) FROM notes");
  ASSERT_EQ(str(two, "status"), "SUCCEEDED") << json::serialize(two);
  EXPECT_EQ(status_of(two.at("output").at("first")), -7);
  std::string msg = str(answer(two.at("output").at("first")).at("error"), "message");
  EXPECT_NE(msg.find("syntax error"), std::string::npos) << msg;
  EXPECT_GE(status_of(two.at("output").at("second")), 0) << json::serialize(two);
}

TEST_F(HostCalls, HugeResultIsCapped) {
  auto e = call(http(), plain_, "db",
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 100000) "
                "SELECT x FROM n");
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e).substr(0, 500);
  const json::value& c = e.at("output").at("call");
  ASSERT_GE(status_of(c), 0);
  json::value a = answer(c);
  EXPECT_EQ(a.at("truncated"), true);
  EXPECT_EQ(a.at("rows").as_array().size(), 1000u);
}

TEST_F(HostCalls, OutOfBoundsPointersTrapAndTheServerIsUnharmed) {
  for (std::string op : {"oob", "oob_read"}) {
    auto e = call(http(), plain_, op);
    ASSERT_EQ(str(e, "status"), "FAILED") << op << ": " << json::serialize(e);
    EXPECT_EQ(e.at("error").at("type"), "trap") << json::serialize(e);
    EXPECT_NE(str(e.at("error"), "message").find("out of bounds"), std::string::npos)
        << json::serialize(e);
  }
  EXPECT_EQ(call(http(), plain_, "env", "PLAIN").at("output").at("result"), "plain-value");
  EXPECT_EQ(http().get("/healthz").status, 200);
}

// Without --http-allow-private, 127.0.0.1 is refused even when the function lists it.
class PrivateAddresses : public NildSuite<PrivateAddresses> {
 public:
  static NildOptions options() {
    local_server();
    return {};
  }
};

TEST_F(PrivateAddresses, LoopbackRefusedUnlessTheServerAllowsIt) {
  std::string allow = "127.0.0.1:" + std::to_string(local_server().port());
  std::string id = deploy_guest(http(), "private", json::object{{"httpAllow", json::array{allow}}});
  ASSERT_FALSE(id.empty());
  int before = local_server().requests();
  auto e = call(http(), id, "fetch",
                json::serialize(json::object{{"url", "http://" + allow + "/hello"}}));
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_EQ(status_of(e.at("output").at("call")), -4) << json::serialize(e);
  EXPECT_EQ(error_code(e.at("output").at("call")), "address_not_allowed") << json::serialize(e);
  EXPECT_EQ(local_server().requests(), before);  // never connected
}

}  // namespace
}  // namespace nil::it
