// nil.db_query's defences through a real nild with its default settings (issue 11): each
// function its own database file, the FTS3 tokenizer and other dangerous SQL functions refused,
// values larger than an answer never built, explicit transactions refused. The guest is
// guests/host_calls.c, compiled by the server.
#include "harness.h"

namespace nil::it {
namespace {

std::string guest_source() {
  return read_file(source_dir() / "tests/integration/guests/host_calls.c");
}

std::string deploy(HttpClient& c, std::string_view prefix, json::object access) {
  json::object body{{"name", unique_name(prefix)}, {"language", "c"}, {"source", guest_source()}};
  for (auto& kv : access) body[kv.key()] = kv.value();
  auto r = c.post_json("/functions", body);
  EXPECT_EQ(r.status, 202) << c.describe_exchange();
  if (r.status != 202) return {};
  json::object f = wait_terminal(c, str(r.json(), "id"), nullptr, 120s);
  EXPECT_EQ(str(f, "status"), "READY") << json::serialize(f);
  return str(f, "id");
}

// One db_query of the guest: {"status": n, "result": "<answer or error JSON>"}.
json::value db(HttpClient& c, std::string_view id, std::string_view sql) {
  json::object e = execute(c, id, json::object{{"op", "db"}, {"a", sql}, {"b", ""}});
  EXPECT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  if (!e.contains("output")) return json::object{{"status", 0}, {"result", "{}"}};
  return e.at("output").at("call");
}
int status_of(const json::value& call) {
  return static_cast<int>(call.at("status").to_number<double>());
}
json::value answer(const json::value& call) { return json::parse(call.at("result").as_string()); }
std::string error_code(const json::value& call) {
  json::value a = answer(call);
  if (!a.is_object() || !a.as_object().contains("error")) return "";
  return str(a.at("error"), "code");
}

class AppDbDefences : public NildSuite<AppDbDefences> {
 protected:
  void SetUp() override {
    NildSuite::SetUp();
    if (!owner_.empty()) return;
    owner_ = deploy(http(), "dbowner", json::object{{"grants", json::array{"db:ddl"}}});
    other_ = deploy(http(), "dbother", json::object{});
    ASSERT_FALSE(owner_.empty());
    ASSERT_FALSE(other_.empty());
  }
  static inline std::string owner_, other_;
};

TEST_F(AppDbDefences, EachFunctionHasItsOwnDatabaseByDefault) {
  json::value c = db(http(), owner_, "CREATE TABLE IF NOT EXISTS private_notes (body TEXT)");
  ASSERT_GE(status_of(c), 0) << c;
  c = db(http(), owner_, "INSERT INTO private_notes VALUES ('owner only')");
  ASSERT_GE(status_of(c), 0) << c;
  EXPECT_EQ(answer(db(http(), owner_, "SELECT body FROM private_notes")).at("rows"),
            (json::array{json::array{"owner only"}}));
  // Another function, without grants, does not see the table at all.
  c = db(http(), other_, "SELECT body FROM private_notes");
  EXPECT_EQ(status_of(c), -7) << c;
  EXPECT_EQ(error_code(c), "sql_error") << c;
  EXPECT_EQ(answer(db(http(), other_, "SELECT count(*) FROM sqlite_schema")).at("rows"),
            (json::array{json::array{0}}));
  EXPECT_TRUE(std::filesystem::exists(nild().data_dir() / "app" / (owner_ + ".db")));
  EXPECT_FALSE(std::filesystem::exists(nild().data_dir() / "app.db"));
}

TEST_F(AppDbDefences, Fts3TokenizerAndOtherDangerousFunctionsAreRefused) {
  for (const std::string& id : {other_, owner_}) {
    for (const char* sql :
         {"SELECT fts3_tokenizer('simple')", "SELECT fts3_tokenizer('simple', x'4141414141414141')",
          "SELECT load_extension('/tmp/x.so')", "SELECT sqlite_compileoption_get(0)"}) {
      json::value c = db(http(), id, sql);
      EXPECT_EQ(status_of(c), -4) << sql << ": " << c;
      EXPECT_EQ(error_code(c), "not_authorized") << sql << ": " << c;
    }
  }
  json::value c = db(http(), owner_, "CREATE VIRTUAL TABLE fts3_docs USING fts3(body)");
  EXPECT_EQ(error_code(c), "sql_error") << c;  // no such module
}

TEST_F(AppDbDefences, HugeValuesAreRefusedWithTooLarge) {
  json::value c = db(http(), other_, "SELECT randomblob(200000000)");
  EXPECT_EQ(status_of(c), -6) << c;
  EXPECT_EQ(error_code(c), "too_large") << c;
  EXPECT_GE(status_of(db(http(), other_, "SELECT 1")), 0);
}

TEST_F(AppDbDefences, ExplicitTransactionsAreRefused) {
  for (const char* sql : {"BEGIN IMMEDIATE", "COMMIT", "SAVEPOINT s"}) {
    json::value c = db(http(), owner_, sql);
    EXPECT_EQ(status_of(c), -4) << sql << ": " << c;
    EXPECT_EQ(error_code(c), "transaction_not_allowed") << sql << ": " << c;
  }
}

}  // namespace
}  // namespace nil::it
