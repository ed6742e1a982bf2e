// nil.db_query under attack (issue 11): the SQL functions, modules and PRAGMAs a guest can
// reach, the memory one statement can take, which database a function sees, what a pooled
// connection carries from one invocation to the next, and who can hold the write lock. Real
// SQLite files in a temporary directory, through HostRuntime::for_invocation like the invoker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <random>

#include "host/host.h"

namespace nil::host {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace json = boost::json;

Clock::time_point in(std::chrono::milliseconds ms) { return Clock::now() + ms; }

class AppDbSecurity : public ::testing::Test {
 protected:
  AppDbSecurity() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("nil-appdb-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
  }
  ~AppDbSecurity() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  HostConfig config(AppDbScope scope = AppDbScope::kFunction) {
    HostConfig cfg;
    cfg.app_db_scope = scope;
    cfg.app_db = dir_ / "app.db";
    cfg.app_db_dir = dir_ / "app";
    return cfg;
  }
  static FunctionGrants fn(std::string id, bool ddl = false) {
    FunctionGrants g;
    g.function_id = std::move(id);
    g.db_ddl = ddl;
    return g;
  }
  static json::object ok(const Expected<std::string>& r, std::string_view sql) {
    EXPECT_TRUE(r.ok()) << sql << ": " << r.error().code << ": " << r.error().message;
    if (!r.ok()) return {};
    return json::parse(r.value()).as_object();
  }
  static json::object query(engine::HostServices& s, std::string_view sql,
                            std::string_view params = "[]") {
    return ok(s.db_query(sql, params, in(5s)), sql);
  }
  static void expect_error(const Expected<std::string>& r, std::string_view code,
                           std::string_view what) {
    ASSERT_FALSE(r.ok()) << what << " succeeded: " << r.value();
    EXPECT_EQ(r.error().wire_code(), code) << what << ": " << r.error().message;
  }
  static std::string rows(const json::object& answer) {
    return answer.contains("rows") ? json::serialize(answer.at("rows")) : "<none>";
  }

  std::filesystem::path dir_;
};

// ---- 1. SQL functions and modules --------------------------------------------------------

TEST_F(AppDbSecurity, DangerousSqlFunctionsAreRefusedEvenWithTheDdlGrant) {
  HostRuntime rt(config());
  const char* refused[] = {
      "SELECT fts3_tokenizer('simple')",  // leaked the address of SQLite's tokenizer module
      "SELECT hex(fts3_tokenizer('simple'))",
      "SELECT FTS3_Tokenizer('simple')",                     // names are case-insensitive
      "SELECT fts3_tokenizer('evil', x'4141414141414141')",  // planted a pointer
      "SELECT load_extension('/tmp/nothing.so')",
      "SELECT sqlite_compileoption_used('ENABLE_FTS3')",
      "SELECT sqlite_compileoption_get(0)",
      "SELECT sqlite_source_id()",
      "SELECT sqlite_log(1, 'from a guest')",
      "SELECT rtreenode(2, x'00')",
      "SELECT rtreedepth(x'00')",
      "SELECT fts5(NULL)",
      "SELECT 1 WHERE fts3_tokenizer('simple') IS NOT NULL",
      "SELECT abs((SELECT fts3_tokenizer('simple')))",
  };
  for (bool ddl : {false, true}) {
    auto s = rt.for_invocation(fn("fn-a", ddl), {});
    for (const char* sql : refused) {
      auto r = s->db_query(sql, "[]", in(5s));
      expect_error(r, "not_authorized", sql);
      if (!r.ok()) {
        EXPECT_THAT(r.error().message, HasSubstr("SQL function")) << sql;
      }
    }
  }
  // A view or trigger cannot smuggle one in either: the statement that runs it is refused.
  auto ddl = rt.for_invocation(fn("fn-a", true), {});
  query(*ddl, "CREATE TABLE t (x)");
  (void)ddl->db_query("CREATE VIEW v AS SELECT fts3_tokenizer('simple') AS p", "[]", in(5s));
  (void)ddl->db_query(
      "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT fts3_tokenizer('x', x'4141414141414141'); "
      "END",
      "[]", in(5s));
  // (A view's functions are resolved as schema: refused as untrusted, an sql_error.)
  auto view = ddl->db_query("SELECT p FROM v", "[]", in(5s));
  EXPECT_FALSE(view.ok()) << view.value();
  expect_error(ddl->db_query("INSERT INTO t VALUES (1)", "[]", in(5s)), "not_authorized",
               "a trigger calling fts3_tokenizer");
}

TEST_F(AppDbSecurity, OrdinarySqlFunctionsAndOperatorsStillWork) {
  HostRuntime rt(config());
  auto s = rt.for_invocation(fn("fn-a"), {});
  json::object r =
      query(*s,
            "SELECT abs(-2), upper('x'), length('abc'), json_extract('{\"a\":1}', '$.a'), "
            "'{\"b\":2}' ->> '$.b', 'abc' LIKE 'a%', 'abc' GLOB 'a*', "
            "date('2024-01-02'), round(2.5), coalesce(NULL, 3), typeof(CURRENT_TIMESTAMP), "
            "sqrt(16), printf('%d', 7), hex(zeroblob(2)), length(randomblob(8))");
  EXPECT_EQ(rows(r), R"([[2,"X",3,1,2,1,1,"2024-01-02",3E0,3,"text",4E0,"7","0000",8]])");
  r = query(*s,
            "WITH n(i) AS (VALUES (1), (2), (3)) SELECT count(*), sum(i), group_concat(i), "
            "max(i), json_group_array(i) FROM n");
  EXPECT_EQ(rows(r), R"([[3,6,"1,2,3",3,"[1,2,3]"]])");
  r = query(*s, "SELECT value FROM json_each('[10, 20]')");
  EXPECT_EQ(rows(r), "[[10],[20]]");
  r = query(*s,
            "WITH n(i) AS (VALUES (1), (2)) SELECT i, row_number() OVER (ORDER BY i DESC) FROM n");
  EXPECT_EQ(rows(r), "[[2,1],[1,2]]");
}

TEST_F(AppDbSecurity, OnlyFts5RtreeAndJsonModulesRemain) {
  HostRuntime rt(config());
  auto ddl = rt.for_invocation(fn("fn-a", true), {});
  // FTS3/FTS4 (whose tokenizer interface is the hole above), dbstat and sqlite_stmt are gone.
  for (const char* sql :
       {"CREATE VIRTUAL TABLE t3 USING fts3(body)", "CREATE VIRTUAL TABLE t4 USING fts4(body)",
        "CREATE VIRTUAL TABLE tt USING fts3tokenize(simple)", "SELECT count(*) FROM dbstat",
        "SELECT count(*) FROM sqlite_stmt"}) {
    expect_error(ddl->db_query(sql, "[]", in(5s)), "sql_error", sql);
  }
  // FTS5 and R*Tree, with the grant, work — search and its auxiliary functions included.
  query(*ddl, "CREATE VIRTUAL TABLE docs USING fts5(body)");
  query(*ddl, "INSERT INTO docs (body) VALUES ('the quick brown fox'), ('lazy dogs')");
  json::object r = query(*ddl,
                         "SELECT highlight(docs, 0, '[', ']') FROM docs WHERE docs MATCH 'fox' "
                         "ORDER BY bm25(docs)");
  EXPECT_EQ(rows(r), R"([["the quick brown [fox]"]])");
  query(*ddl, "CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1)");
  query(*ddl, "INSERT INTO boxes VALUES (1, 0, 10)");
  EXPECT_EQ(rows(query(*ddl, "SELECT id FROM boxes WHERE x0 <= 5 AND x1 >= 5")), "[[1]]");
  // Without the grant no virtual table can be made at all.
  auto plain = rt.for_invocation(fn("fn-a"), {});
  expect_error(plain->db_query("CREATE VIRTUAL TABLE d2 USING fts5(body)", "[]", in(5s)),
               "not_authorized", "CREATE VIRTUAL TABLE without db:ddl");
}

TEST_F(AppDbSecurity, OnlyHarmlessPragmasEvenWithTheDdlGrant) {
  HostRuntime rt(config());
  auto ddl = rt.for_invocation(fn("fn-a", true), {});
  // hard_heap_limit/soft_heap_limit are process-wide: they would starve the platform's store.
  for (const char* sql :
       {"PRAGMA hard_heap_limit=1", "PRAGMA soft_heap_limit=1", "PRAGMA query_only=1",
        "PRAGMA journal_mode=OFF", "PRAGMA locking_mode=EXCLUSIVE", "PRAGMA cache_size=-2000000",
        "PRAGMA mmap_size=1000000000", "PRAGMA trusted_schema=1", "PRAGMA compile_options",
        "PRAGMA writable_schema=1", "PRAGMA temp_store_directory='/tmp'",
        "SELECT * FROM pragma_compile_options", "SELECT * FROM pragma_function_list"}) {
    expect_error(ddl->db_query(sql, "[]", in(5s)), "not_authorized", sql);
  }
  EXPECT_EQ(sqlite3_hard_heap_limit64(-1), 0);
  query(*ddl, "CREATE TABLE t (x)");
  EXPECT_EQ(rows(query(*ddl, "SELECT name FROM pragma_table_info('t')")), R"([["x"]])");
  query(*ddl, "PRAGMA user_version=3");
  EXPECT_EQ(rows(query(*ddl, "PRAGMA user_version")), "[[3]]");
}

TEST_F(AppDbSecurity, VacuumIntoCannotWriteAFile) {
  HostRuntime rt(config());
  auto ddl = rt.for_invocation(fn("fn-a", true), {});
  query(*ddl, "CREATE TABLE t (x)");
  std::filesystem::path out = dir_ / "copy.db";
  auto r = ddl->db_query("VACUUM INTO ?", json::serialize(json::array{out.string()}), in(5s));
  expect_error(r, "not_authorized", "VACUUM INTO");
  EXPECT_FALSE(std::filesystem::exists(out));
  expect_error(ddl->db_query("VACUUM", "[]", in(5s)), "not_authorized", "VACUUM");
}

// ---- 2. Memory -----------------------------------------------------------------------------

TEST_F(AppDbSecurity, LargeValuesAreRefusedBeforeTheyAreBuilt) {
  HostRuntime rt(config());  // db_max_bytes: 1 MiB
  auto s = rt.for_invocation(fn("fn-a"), {});
  query(*s, "SELECT 1");  // the connection is open: its own allocations are not counted below
  sqlite3_memory_highwater(1);
  for (const char* sql :
       {"SELECT randomblob(200000000)", "SELECT length(randomblob(200000000))",
        "SELECT zeroblob(2000000)", "SELECT hex(randomblob(600000))",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
        "SELECT length(group_concat(printf('%.1000c', 'x'))) FROM n"}) {
    auto r = s->db_query(sql, "[]", in(5s));
    expect_error(r, "too_large", sql);
  }
  // printf() stops at the limit (and answers NULL) instead of building 2 MB.
  EXPECT_EQ(rows(query(*s, "SELECT length(printf('%.2000000c', 'x'))")), "[[null]]");
  // SQLite allocated no more than a few answers' worth (it was 200 MB and more).
  EXPECT_LT(sqlite3_memory_highwater(0), 16 << 20);
  // A parameter past the cap is refused too, with the same code.
  std::string big(2 << 20, 'x');
  expect_error(
      s->db_query("SELECT length(?)", json::serialize(json::array{json::string(big)}), in(5s)),
      "too_large", "a 2 MiB parameter");
  // Values under the cap still come back; a row whose values together pass it is truncated.
  json::object r = query(*s, "SELECT length(randomblob(500000))");
  EXPECT_EQ(rows(r), "[[500000]]");
  r = query(*s, "SELECT randomblob(400000), randomblob(400000), randomblob(400000)");
  EXPECT_TRUE(r["truncated"].as_bool());
  EXPECT_EQ(rows(r), "[]");
}

// ---- 3. One database per function ------------------------------------------------------------

TEST_F(AppDbSecurity, AFunctionCannotSeeAnotherFunctionsTables) {
  HostRuntime rt(config());
  auto a = rt.for_invocation(fn("fn-a", true), {});
  query(*a, "CREATE TABLE secrets (v TEXT)");
  query(*a, "INSERT INTO secrets VALUES ('a''s secret')");
  auto b = rt.for_invocation(fn("fn-b"), {});
  auto r = b->db_query("SELECT v FROM secrets", "[]", in(5s));
  expect_error(r, "sql_error", "fn-b reading fn-a's table");
  EXPECT_EQ(rows(query(*b, "SELECT count(*) FROM sqlite_schema")), "[[0]]");
  // Even with the ddl grant, B's CREATE makes its own table, not A's.
  auto b_ddl = rt.for_invocation(fn("fn-b", true), {});
  query(*b_ddl, "CREATE TABLE secrets (v TEXT)");
  EXPECT_EQ(rows(query(*b_ddl, "SELECT count(*) FROM secrets")), "[[0]]");
  EXPECT_EQ(rows(query(*rt.for_invocation(fn("fn-a"), {}), "SELECT v FROM secrets")),
            R"([["a's secret"]])");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "app" / "fn-a.db"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "app" / "fn-b.db"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "app.db"));
  // An id that is no file name (or none) has no database.
  for (const char* id : {"", "../app", "a/b", "x.db"}) {
    expect_error(rt.for_invocation(fn(id), {})->db_query("SELECT 1", "[]", in(5s)), "unavailable",
                 std::string("function id '") + id + "'");
  }
}

TEST_F(AppDbSecurity, TheSharedScopeIsOneDatabaseForAll) {
  HostRuntime rt(config(AppDbScope::kShared));
  query(*rt.for_invocation(fn("fn-a", true), {}), "CREATE TABLE shared_notes (v TEXT)");
  query(*rt.for_invocation(fn("fn-b"), {}), "INSERT INTO shared_notes VALUES ('from b')");
  EXPECT_EQ(rows(query(*rt.for_invocation(fn("fn-a"), {}), "SELECT v FROM shared_notes")),
            R"([["from b"]])");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "app.db"));
}

// ---- 4. Nothing survives an invocation in a pooled connection ----------------------------------

TEST_F(AppDbSecurity, TempObjectsAndPragmasDoNotOutliveTheirInvocation) {
  for (AppDbScope scope : {AppDbScope::kShared, AppDbScope::kFunction}) {
    SCOPED_TRACE(scope == AppDbScope::kShared ? "shared" : "function");
    HostRuntime rt(config(scope));
    std::string table = scope == AppDbScope::kShared ? "notes_s" : "notes_f";
    query(*rt.for_invocation(fn("fn-a", true), {}), "CREATE TABLE " + table + " (v TEXT)");
    {
      auto a = rt.for_invocation(fn("fn-a", true), {});
      query(*a, "CREATE TEMP TABLE spy (v TEXT)");
      query(*a, "CREATE TEMP TRIGGER copy AFTER INSERT ON main." + table +
                    " BEGIN INSERT INTO spy VALUES (new.v); END");
      query(*a, "PRAGMA foreign_keys=ON");
      query(*a, "INSERT INTO " + table + " VALUES ('a')");
      EXPECT_EQ(rows(query(*a, "SELECT last_insert_rowid()")), "[[1]]");
    }  // the invocation ends
    // The next invocations (of another function when shared, of the same one otherwise) get
    // a connection as fresh as a new one.
    auto b = rt.for_invocation(fn(scope == AppDbScope::kShared ? "fn-b" : "fn-a", true), {});
    query(*b, "INSERT INTO " + table + " VALUES ('b''s row')");
    EXPECT_EQ(rows(query(*b, "SELECT count(*) FROM temp.sqlite_schema")), "[[0]]");
    expect_error(b->db_query("SELECT v FROM spy", "[]", in(5s)), "sql_error", "the spy table");
    EXPECT_EQ(rows(query(*b, "PRAGMA foreign_keys")), "[[0]]");
    auto c = rt.for_invocation(fn(scope == AppDbScope::kShared ? "fn-c" : "fn-a"), {});
    EXPECT_EQ(rows(query(*c, "SELECT last_insert_rowid()")), "[[0]]");
  }
}

// ---- 5. Transactions --------------------------------------------------------------------------

TEST_F(AppDbSecurity, ExplicitTransactionsAreRefused) {
  HostRuntime rt(config(AppDbScope::kShared));
  query(*rt.for_invocation(fn("fn-a", true), {}), "CREATE TABLE t (v TEXT)");
  auto a = rt.for_invocation(fn("fn-a", true), {});
  for (const char* sql :
       {"BEGIN", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE", "BEGIN DEFERRED TRANSACTION", "COMMIT",
        "END", "ROLLBACK", "SAVEPOINT s", "RELEASE s", "ROLLBACK TO s"}) {
    auto r = a->db_query(sql, "[]", in(5s));
    expect_error(r, "transaction_not_allowed", sql);
  }
  // So A holds no write lock between its calls: B writes at once.
  auto b = rt.for_invocation(fn("fn-b"), {});
  json::object r = ok(b->db_query("INSERT INTO t VALUES ('b')", "[]", in(1s)), "B's insert");
  EXPECT_EQ(r["rowsAffected"].as_int64(), 1);
  // Several rows still go in atomically as one statement.
  r = query(*a, "INSERT INTO t VALUES ('x'), ('y')");
  EXPECT_EQ(r["rowsAffected"].as_int64(), 2);
}

}  // namespace
}  // namespace nil::host
