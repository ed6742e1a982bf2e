// The engine and the host together, without a server: a WAT guest calls nil.env, nil.http_fetch
// (a real local HTTP server) and nil.db_query (a real app.db) through the interpreter sandbox
// with the services of HostRuntime::for_invocation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <random>

#include "../engine/wat.h"
#include "engine/engine.h"
#include "host/host.h"
#include "test_http_server.h"

namespace nil::host {
namespace {

using ::testing::HasSubstr;

// Calls `call` on the strings at 1024 and 8192, then writes [status, answer] to stdout.
std::string guest(std::string_view call, std::string_view a, std::string_view b = "") {
  return engine::testing::wat_to_wasm(R"((module
  (import "nil" "env" (func $env (param i32 i32) (result i32)))
  (import "nil" "http_fetch" (func $fetch (param i32 i32) (result i32)))
  (import "nil" "db_query" (func $db (param i32 i32 i32 i32) (result i32)))
  (import "nil" "result_read" (func $read (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (data (i32.const 1024) ")" + engine::testing::wat_string(a) +
                                      R"(")
  (data (i32.const 8192) ")" + engine::testing::wat_string(b) +
                                      R"(")
  (func (export "_start") (local $status i32) (local $n i32)
    (local.set $status )" + std::string(call) +
                                      R"()
    (local.set $n (call $read (i32.const 65536) (i32.const 131072)))
    (i32.store (i32.const 0) (i32.const 65536))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
)");
}

class GuestTest : public ::testing::Test {
 protected:
  GuestTest() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("nil-guest-test-" + std::to_string(rd()));
    HostConfig cfg;
    cfg.app_db = dir_ / "app.db";
    cfg.app_db_scope = AppDbScope::kShared;  // several test "functions" share the kv table
    cfg.http_allow_private = true;
    runtime_ = std::make_unique<HostRuntime>(cfg);
  }
  ~GuestTest() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  engine::Result run(const std::string& wasm, const FunctionGrants& grants,
                     std::vector<std::pair<std::string, std::string>> env = {}) {
    auto prepared = sandbox_->prepare(wasm);
    EXPECT_TRUE(prepared.ok()) << prepared.error().message;
    if (!prepared.ok()) return {};
    auto services = runtime_->for_invocation(grants, std::move(env));
    engine::Invocation inv;
    inv.host = services.get();
    return sandbox_->invoke(*prepared.value(), inv);
  }

  std::filesystem::path dir_;
  std::unique_ptr<HostRuntime> runtime_;
  std::unique_ptr<engine::Sandbox> sandbox_ = engine::make_interpreter_sandbox();
  testing::TestHttpServer server_;
};

TEST_F(GuestTest, ReadsEnv) {
  auto r = run(guest("(call $env (i32.const 1024) (i32.const 6))", "CONFIG"), {},
               {{"CONFIG", R"({"mode":"test"})"}});
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_EQ(r.output, R"({"mode":"test"})");
}

TEST_F(GuestTest, FetchesFromALocalServer) {
  std::string req = R"({"url":")" + server_.url("/hello") + R"("})";
  FunctionGrants g;
  g.http_allow = {"127.0.0.1:" + std::to_string(server_.port())};
  auto r = run(
      guest("(call $fetch (i32.const 1024) (i32.const " + std::to_string(req.size()) + "))", req),
      g);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_THAT(r.output, HasSubstr(R"("body":"hello")"));
  ASSERT_EQ(r.host_calls.size(), 1u);
  EXPECT_EQ(r.host_calls[0].name, "http_fetch");
  EXPECT_EQ(r.host_calls[0].bytes_in, req.size());
  EXPECT_EQ(r.host_calls[0].bytes_out, r.output.size());
}

TEST_F(GuestTest, AFetchToAHostNotAllowedIsAnErrorTheGuestCanRead) {
  std::string req = R"({"url":")" + server_.url("/hello") + R"("})";
  auto r = run(
      guest("(call $fetch (i32.const 1024) (i32.const " + std::to_string(req.size()) + "))", req),
      {});
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_THAT(r.output, HasSubstr(R"("code":"host_not_allowed")"));
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(GuestTest, QueriesTheAppDb) {
  FunctionGrants ddl;
  ddl.db_ddl = true;
  std::string create = "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)";
  auto r = run(guest("(call $db (i32.const 1024) (i32.const " + std::to_string(create.size()) +
                         ") (i32.const 0) (i32.const 0))",
                     create),
               ddl);
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  std::string insert = "INSERT INTO kv VALUES (?, ?)";
  std::string params = R"(["a", "1'; DROP TABLE kv; --"])";
  r = run(guest("(call $db (i32.const 1024) (i32.const " + std::to_string(insert.size()) +
                    ") (i32.const 8192) (i32.const " + std::to_string(params.size()) + "))",
                insert, params),
          {});
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_THAT(r.output, HasSubstr(R"("rowsAffected":1)"));
  std::string select = "SELECT k, v FROM kv";
  r = run(guest("(call $db (i32.const 1024) (i32.const " + std::to_string(select.size()) +
                    ") (i32.const 0) (i32.const 0))",
                select),
          {});
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_THAT(r.output, HasSubstr(R"("rows":[["a","1'; DROP TABLE kv; --"]])"));
  std::string drop = "DROP TABLE kv";
  r = run(guest("(call $db (i32.const 1024) (i32.const " + std::to_string(drop.size()) +
                    ") (i32.const 0) (i32.const 0))",
                drop),
          {});
  ASSERT_TRUE(r.succeeded) << r.failure->message;
  EXPECT_THAT(r.output, HasSubstr(R"("code":"not_authorized")"));
}

}  // namespace
}  // namespace nil::host
