// nil::host against real things: a real HTTP server on 127.0.0.1 started by the test (no
// traffic leaves the machine) and a real SQLite app.db in a temporary directory.
#include "host/host.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <random>

#include "test_http_server.h"

namespace nil::host {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace json = boost::json;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("nil-host-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

Clock::time_point in(std::chrono::milliseconds ms) { return Clock::now() + ms; }

json::object as_object(const std::string& text) {
  json::value v = json::parse(text);
  EXPECT_TRUE(v.is_object()) << text;
  return v.is_object() ? v.as_object() : json::object{};
}

class HostTest : public ::testing::Test {
 protected:
  HostConfig config(bool allow_private = true) {
    HostConfig cfg;
    cfg.app_db = dir_.path() / "data" / "app.db";
    cfg.app_db_dir = dir_.path() / "data" / "app";
    cfg.http_allow_private = allow_private;
    cfg.http_timeout_ms = 2000;
    return cfg;
  }
  FunctionGrants local_grants() {
    FunctionGrants g;
    g.http_allow = {"127.0.0.1:" + std::to_string(server_.port())};
    return g;
  }
  std::string get(const std::string& url, const std::string& method = "GET") {
    json::object o;
    o["method"] = method;
    o["url"] = url;
    return json::serialize(o);
  }
  static void expect_error(const Expected<std::string>& r, std::string_view code) {
    ASSERT_FALSE(r.ok()) << r.value();
    EXPECT_EQ(r.error().wire_code(), code) << r.error().message;
  }

  TempDir dir_;
  testing::TestHttpServer server_;
};

// ---- env ---------------------------------------------------------------------------------

TEST_F(HostTest, EnvSeesOnlyTheGivenPairs) {
  HostRuntime runtime(config());
  auto services = runtime.for_invocation({}, {{"API_KEY", "s3cret"}, {"MODE", "test"}});
  EXPECT_EQ(services->env("API_KEY"), "s3cret");
  EXPECT_EQ(services->env("MODE"), "test");
  EXPECT_EQ(services->env("HOME"), std::nullopt);  // the server's own environment is not visible
  EXPECT_EQ(services->env("PATH"), std::nullopt);
  auto other = runtime.for_invocation({}, {});
  EXPECT_EQ(other->env("API_KEY"), std::nullopt);
}

// ---- http_fetch ----------------------------------------------------------------------------

TEST_F(HostTest, FetchesFromAnAllowedLocalServer) {
  HostRuntime runtime(config(/*allow_private=*/true));
  auto services = runtime.for_invocation(local_grants(), {});
  auto r = services->http_fetch(get(server_.url("/hello")), in(5s));
  ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
  json::object o = as_object(r.value());
  EXPECT_EQ(o["status"].as_int64(), 200);
  EXPECT_EQ(o["body"].as_string(), "hello");
  EXPECT_EQ(o["headers"].as_object()["x-test"].as_string(), "yes");
}

TEST_F(HostTest, SendsMethodHeadersAndBody) {
  HostRuntime runtime(config());
  auto services = runtime.for_invocation(local_grants(), {});
  json::object req;
  req["method"] = "post";
  req["url"] = server_.url("/echo");
  req["headers"] = json::object{{"X-Custom", "42"}, {"Content-Type", "application/json"}};
  req["body"] = R"({"a":1})";
  auto r = services->http_fetch(json::serialize(req), in(5s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  json::object o = as_object(r.value());
  json::object echoed = as_object(std::string(o["body"].as_string()));
  EXPECT_EQ(echoed["method"].as_string(), "POST");
  EXPECT_EQ(echoed["body"].as_string(), R"({"a":1})");
  EXPECT_EQ(echoed["headers"].as_object()["x-custom"].as_string(), "42");
}

TEST_F(HostTest, NonUtf8BodiesComeAsBase64) {
  HostRuntime runtime(config());
  auto services = runtime.for_invocation(local_grants(), {});
  auto r = services->http_fetch(get(server_.url("/binary")), in(5s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  json::object o = as_object(r.value());
  EXPECT_FALSE(o.contains("body"));
  EXPECT_EQ(o["bodyBase64"].as_string(), "/wD+");
}

TEST_F(HostTest, AHostNotOnTheAllowListIsRefused) {
  HostRuntime runtime(config());
  FunctionGrants none;
  expect_error(runtime.for_invocation(none, {})->http_fetch(get(server_.url("/hello")), in(5s)),
               "host_not_allowed");
  // Listed by address, fetched by name: not the same host.
  auto services = runtime.for_invocation(local_grants(), {});
  expect_error(services->http_fetch(
                   get("http://localhost:" + std::to_string(server_.port()) + "/hello"), in(5s)),
               "host_not_allowed");
  // Another port of the same host.
  expect_error(services->http_fetch(get("http://127.0.0.1:1/hello"), in(5s)), "host_not_allowed");
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(HostTest, LoopbackIsRefusedUnlessPrivateTargetsAreAllowed) {
  HostRuntime strict(config(/*allow_private=*/false));
  auto services = strict.for_invocation(local_grants(), {});
  expect_error(services->http_fetch(get(server_.url("/hello")), in(5s)), "address_not_allowed");
  // A name that resolves to loopback is judged by its address, not its name.
  FunctionGrants by_name;
  by_name.http_allow = {"localhost"};
  expect_error(
      strict.for_invocation(by_name, {})
          ->http_fetch(get("http://localhost:" + std::to_string(server_.port()) + "/hello"),
                       in(5s)),
      "address_not_allowed");
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(HostTest, OnlyHttpAndHttpsAndValidRequests) {
  HostRuntime runtime(config());
  FunctionGrants g = local_grants();
  g.http_allow.push_back("127.0.0.1");
  auto services = runtime.for_invocation(g, {});
  expect_error(services->http_fetch(get("file:///etc/passwd"), in(5s)), "invalid_request");
  expect_error(services->http_fetch(get("ftp://127.0.0.1/x"), in(5s)), "invalid_request");
  expect_error(services->http_fetch("not json", in(5s)), "invalid_request");
  expect_error(services->http_fetch(R"({"method":"GET"})", in(5s)), "invalid_request");
  expect_error(
      services->http_fetch(R"({"url":"http://127.0.0.1/","headers":{"X":"a\r\nB: c"}})", in(5s)),
      "invalid_request");
  expect_error(services->http_fetch(R"({"url":"http://127.0.0.1/","method":"GET /x"})", in(5s)),
               "invalid_request");
  expect_error(services->http_fetch(R"({"url":"http://127.0.0.1/","extra":1})", in(5s)),
               "invalid_request");
}

TEST_F(HostTest, AServerThatNeverAnswersTimesOut) {
  HostConfig cfg = config();
  cfg.http_timeout_ms = 300;
  HostRuntime runtime(cfg);
  auto services = runtime.for_invocation(local_grants(), {});
  auto started = Clock::now();
  expect_error(services->http_fetch(get(server_.url("/hang")), in(10s)), "timeout");
  EXPECT_LT(Clock::now() - started, 2s);
  EXPECT_GE(Clock::now() - started, 250ms);
}

TEST_F(HostTest, TheGuestDeadlineBoundsTheFetch) {
  HostRuntime runtime(config());  // http_timeout_ms 2000
  auto services = runtime.for_invocation(local_grants(), {});
  auto started = Clock::now();
  expect_error(services->http_fetch(get(server_.url("/hang")), in(200ms)), "timeout");
  EXPECT_LT(Clock::now() - started, 1s);
  // No time left at all: no request is sent.
  int before = server_.requests();
  expect_error(services->http_fetch(get(server_.url("/hello")), Clock::now() - 1ms), "timeout");
  EXPECT_EQ(server_.requests(), before);
}

TEST_F(HostTest, ResponsesOverTheCapAreAbortedWithAClearError) {
  HostConfig cfg = config();
  cfg.http_max_response_bytes = 64 << 10;
  HostRuntime runtime(cfg);
  auto services = runtime.for_invocation(local_grants(), {});
  auto r = services->http_fetch(get(server_.url("/big?n=1000")), in(5s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(as_object(r.value())["body"].as_string().size(), 1000u);
  auto big = services->http_fetch(get(server_.url("/big?n=1000000")), in(5s));
  expect_error(big, "response_too_large");
  EXPECT_THAT(big.error().message, HasSubstr("65536"));
}

// The cap counts header bytes too (docs/abi.md): a response whose headers alone pass it is
// response_too_large, not fetch_failed (issue 11) — also past libcurl's own header limit.
TEST_F(HostTest, HugeResponseHeadersAreResponseTooLarge) {
  HostRuntime runtime(config());  // default cap: 1 MiB
  auto services = runtime.for_invocation(local_grants(), {});
  auto r = services->http_fetch(get(server_.url("/bigheaders?n=1000")), in(5s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(as_object(r.value())["body"].as_string(), "small body");

  auto two_mib = services->http_fetch(get(server_.url("/bigheaders?n=2097152")), in(5s));
  expect_error(two_mib, "response_too_large");

  // Under the cap but over what libcurl accepts for one response's headers.
  auto half_mib = services->http_fetch(get(server_.url("/bigheaders?n=524288")), in(5s));
  expect_error(half_mib, "response_too_large");
  // One header line over libcurl's limit for a single line (100 KiB).
  auto long_line =
      services->http_fetch(get(server_.url("/bigheaders?n=150000&line=150000")), in(5s));
  expect_error(long_line, "response_too_large");

  HostConfig cfg = config();
  cfg.http_max_response_bytes = 64 << 10;
  HostRuntime small(cfg);
  auto over = small.for_invocation(local_grants(), {})
                  ->http_fetch(get(server_.url("/bigheaders?n=100000")), in(5s));
  expect_error(over, "response_too_large");
  EXPECT_THAT(over.error().message, HasSubstr("65536"));
}

// Credentials follow a redirect only to the same origin: another port (or scheme) is another
// server, even on the same host name (issue 11).
TEST_F(HostTest, CredentialsDoNotFollowARedirectToAnotherOrigin) {
  testing::TestHttpServer other;
  FunctionGrants g = local_grants();
  g.http_allow.push_back("127.0.0.1:" + std::to_string(other.port()));
  HostRuntime runtime(config());
  auto services = runtime.for_invocation(g, {});
  auto fetch = [&](const std::string& to) {
    json::object o{{"url", server_.url("/redirect?to=" + to)},
                   {"headers", json::object{{"Authorization", "Bearer tok-1234"},
                                            {"Cookie", "sid=abcd"},
                                            {"X-Plain", "kept"}}}};
    auto r = services->http_fetch(json::serialize(o), in(5s));
    EXPECT_TRUE(r.ok()) << r.error().message;
    json::object body =
        as_object(std::string(as_object(r.ok() ? r.value() : "{}")["body"].as_string()));
    return body["headers"].as_object();
  };
  json::object same = fetch("/echo");
  EXPECT_EQ(same["authorization"], "Bearer tok-1234");
  EXPECT_EQ(same["cookie"], "sid=abcd");
  json::object away = fetch(other.url("/echo"));
  EXPECT_FALSE(away.contains("authorization")) << json::serialize(away);
  EXPECT_FALSE(away.contains("cookie")) << json::serialize(away);
  EXPECT_EQ(away["x-plain"], "kept");
}

TEST_F(HostTest, RedirectsAreFollowedAndEachHopIsChecked) {
  HostRuntime runtime(config());
  auto services = runtime.for_invocation(local_grants(), {});
  auto r = services->http_fetch(get(server_.url("/redirect?to=/hello")), in(5s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(as_object(r.value())["body"].as_string(), "hello");

  // To a host that is not on the allow-list: refused before any request to it.
  std::string away = "http://localhost:" + std::to_string(server_.port()) + "/hello";
  auto refused = services->http_fetch(get(server_.url("/redirect?to=" + away)), in(5s));
  expect_error(refused, "host_not_allowed");
  EXPECT_THAT(refused.error().message, HasSubstr("redirect"));

  // Three hops (to /redirect?to=/redirect?to=/hello, to /redirect?to=/hello, to /hello) are one
  // more than the limit of two.
  HostConfig cfg = config();
  cfg.http_max_redirects = 2;
  HostRuntime limited(cfg);
  expect_error(limited.for_invocation(local_grants(), {})
                   ->http_fetch(get(server_.url("/redirect?to=" +
                                                server_.url("/redirect?to=/redirect?to=/hello"))),
                                in(5s)),
               "too_many_redirects");
}

TEST_F(HostTest, ConnectionRefusedIsAFetchError) {
  HostRuntime runtime(config());
  FunctionGrants g;
  g.http_allow = {"127.0.0.1"};
  // Port 1 on loopback: nothing listens there.
  expect_error(runtime.for_invocation(g, {})->http_fetch(get("http://127.0.0.1:1/"), in(5s)),
               "fetch_failed");
}

// ---- db_query ------------------------------------------------------------------------------

class DbTest : public HostTest {
 protected:
  static FunctionGrants fn(bool ddl = false) {
    FunctionGrants g;
    g.function_id = "fn-a";  // one function's database (AppDbScope::kFunction)
    g.db_ddl = ddl;
    return g;
  }
  std::unique_ptr<engine::HostServices> services(bool ddl) {
    FunctionGrants g = fn(ddl);
    return runtime_->for_invocation(g, {});
  }
  json::object query(engine::HostServices& s, std::string_view sql,
                     std::string_view params = "[]") {
    auto r = s.db_query(sql, params, in(5s));
    EXPECT_TRUE(r.ok()) << sql << ": " << r.error().code << ": " << r.error().message;
    return r.ok() ? as_object(r.value()) : json::object{};
  }
  void SetUp() override {
    cfg_ = config();
    cfg_.db_max_rows = 100;
    runtime_ = std::make_unique<HostRuntime>(cfg_);
    auto admin = services(true);
    query(*admin, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, score REAL)");
  }
  HostConfig cfg_;
  std::unique_ptr<HostRuntime> runtime_;
};

TEST_F(DbTest, TheAppDbIsCreatedInWalMode) {
  std::filesystem::path file = cfg_.app_db_dir / "fn-a.db";
  ASSERT_TRUE(std::filesystem::exists(file));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(DbTest, InsertThenSelect) {
  auto s = services(false);
  json::object ins = query(*s, "INSERT INTO notes (body, score) VALUES (?, ?), (?, ?)",
                           R"(["first", 1.5, "second", null])");
  EXPECT_EQ(ins["rowsAffected"].as_int64(), 2);
  EXPECT_EQ(ins["rows"].as_array().size(), 0u);
  json::object sel = query(*s, "SELECT id, body, score FROM notes ORDER BY id");
  EXPECT_EQ(json::serialize(sel["columns"]), R"(["id","body","score"])");
  EXPECT_EQ(json::serialize(sel["rows"]), R"([[1,"first",1.5E0],[2,"second",null]])");
  EXPECT_EQ(sel["rowsAffected"].as_int64(), 0);
  EXPECT_FALSE(sel["truncated"].as_bool());
  // Another invocation sees the committed rows.
  json::object again = query(*services(false), "SELECT count(*) AS n FROM notes");
  EXPECT_EQ(json::serialize(again["rows"]), "[[2]]");
}

TEST_F(DbTest, ParametersAreBoundNeverInterpolated) {
  auto s = services(false);
  std::string evil = "x'); DROP TABLE notes; --";
  query(*s, "INSERT INTO notes (body, score) VALUES (?1, ?2)",
        json::serialize(json::array{evil, 7}));
  json::object sel =
      query(*s, "SELECT body FROM notes WHERE body = ?", json::serialize(json::array{evil}));
  ASSERT_EQ(sel["rows"].as_array().size(), 1u);
  EXPECT_EQ(sel["rows"].as_array()[0].as_array()[0].as_string(), evil);
  json::object types = query(*s, "SELECT ?, ?, ?, ?, typeof(?)", R"([null, true, 3, 2.5, "t"])");
  EXPECT_EQ(json::serialize(types["rows"]), R"([[null,1,3,2.5E0,"text"]])");
  // Wrong count, or an object: refused.
  auto wrong = s->db_query("SELECT ?", "[1, 2]", in(5s));
  expect_error(wrong, "invalid_request");
  expect_error(s->db_query("SELECT ?", R"([{"a":1}])", in(5s)), "invalid_request");
  expect_error(s->db_query("SELECT 1", "{}", in(5s)), "invalid_request");
}

TEST_F(DbTest, SyntaxErrorsAreClearAndTheInvocationGoesOn) {
  auto s = services(false);
  auto r = s->db_query("SELEC * FROM notes", "[]", in(5s));
  expect_error(r, "sql_error");
  EXPECT_THAT(r.error().message, HasSubstr("syntax error"));
  auto missing = s->db_query("SELECT * FROM nope", "[]", in(5s));
  expect_error(missing, "sql_error");
  EXPECT_THAT(missing.error().message, HasSubstr("no such table"));
  query(*s, "SELECT 1");  // the same invocation still works
}

TEST_F(DbTest, ExactlyOneStatement) {
  auto s = services(false);
  auto r = s->db_query("SELECT 1; SELECT 2", "[]", in(5s));
  expect_error(r, "multiple_statements");
  expect_error(
      s->db_query("INSERT INTO notes (body) VALUES ('a'); DELETE FROM notes", "[]", in(5s)),
      "multiple_statements");
  EXPECT_EQ(json::serialize(query(*s, "SELECT count(*) FROM notes")["rows"]), "[[0]]");
  // Trailing semicolons, whitespace and comments are fine.
  query(*s, "SELECT 1; -- done\n /* really */ ;  ");
  expect_error(s->db_query("   -- only a comment", "[]", in(5s)), "invalid_request");
}

TEST_F(DbTest, SchemaChangesNeedTheDdlGrant) {
  auto plain = services(false);
  auto r = plain->db_query("DROP TABLE notes", "[]", in(5s));
  expect_error(r, "not_authorized");
  EXPECT_THAT(r.error().message, HasSubstr("db:ddl"));
  expect_error(plain->db_query("CREATE TABLE t (x)", "[]", in(5s)), "not_authorized");
  expect_error(plain->db_query("CREATE INDEX i ON notes (body)", "[]", in(5s)), "not_authorized");
  expect_error(plain->db_query("CREATE VIEW v AS SELECT 1", "[]", in(5s)), "not_authorized");
  expect_error(plain->db_query("CREATE TEMP TABLE t (x)", "[]", in(5s)), "not_authorized");
  expect_error(plain->db_query("ALTER TABLE notes ADD COLUMN extra TEXT", "[]", in(5s)),
               "not_authorized");
  expect_error(
      plain->db_query("CREATE TRIGGER tr AFTER INSERT ON notes BEGIN DELETE FROM notes; END", "[]",
                      in(5s)),
      "not_authorized");
  query(*plain, "SELECT count(*) FROM notes");  // the table is still there

  auto admin = services(true);
  query(*admin, "DROP TABLE notes");
  expect_error(admin->db_query("SELECT * FROM notes", "[]", in(5s)), "sql_error");
}

TEST_F(DbTest, AttachAndPragmaAreDenied) {
  auto plain = services(false);
  std::string other = (dir_.path() / "other.db").string();
  expect_error(
      plain->db_query("ATTACH DATABASE ? AS other", json::serialize(json::array{other}), in(5s)),
      "not_authorized");
  expect_error(plain->db_query("PRAGMA journal_mode=DELETE", "[]", in(5s)), "not_authorized");
  expect_error(plain->db_query("PRAGMA table_info(notes)", "[]", in(5s)), "not_authorized");
  expect_error(plain->db_query("SELECT * FROM pragma_table_info('notes')", "[]", in(5s)),
               "not_authorized");
  // ATTACH stays denied even with the ddl grant: it reaches files outside the app db.
  auto admin = services(true);
  expect_error(
      admin->db_query("ATTACH DATABASE ? AS other", json::serialize(json::array{other}), in(5s)),
      "not_authorized");
  EXPECT_FALSE(std::filesystem::exists(other));
  query(*admin, "PRAGMA table_info(notes)");  // PRAGMA with the grant
}

TEST_F(DbTest, HugeResultsAreCappedByRowsAndBytes) {
  auto s = services(false);
  auto r =
      s->db_query("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n",
                  "[]", in(5s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  json::object o = as_object(r.value());
  EXPECT_EQ(o["rows"].as_array().size(), 100u);  // db_max_rows
  EXPECT_TRUE(o["truncated"].as_bool());

  HostConfig cfg = config();
  cfg.db_max_bytes = 10'000;
  HostRuntime small(cfg);
  auto t = small.for_invocation(fn(), {});
  auto big = t->db_query(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
      "SELECT i, printf('%.1000c', 'x') FROM n",
      "[]", in(5s));
  ASSERT_TRUE(big.ok()) << big.error().message;
  json::object b = as_object(big.value());
  EXPECT_TRUE(b["truncated"].as_bool());
  EXPECT_LT(b["rows"].as_array().size(), 10u);
  EXPECT_LE(big.value().size(), 10'000u + 200);
}

TEST_F(DbTest, StatementsStopAtTheirTimeout) {
  HostConfig cfg = config();
  cfg.db_timeout_ms = 200;
  HostRuntime runtime(cfg);
  auto s = runtime.for_invocation(fn(), {});
  const char* forever =
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";
  auto started = Clock::now();
  expect_error(s->db_query(forever, "[]", in(10s)), "timeout");
  EXPECT_LT(Clock::now() - started, 2s);
  // The guest's deadline, when sooner, wins.
  HostRuntime patient([&] {
    HostConfig c = config();
    c.db_timeout_ms = 60'000;
    return c;
  }());
  started = Clock::now();
  expect_error(patient.for_invocation(fn(), {})->db_query(forever, "[]", in(150ms)), "timeout");
  EXPECT_LT(Clock::now() - started, 2s);
  query(*s, "SELECT 1");
}

}  // namespace
}  // namespace nil::host
