// The store test fixture: every test in store_test.cpp runs against each backend listed in
// store_backends(), through open_store(url) only, so the same suite specifies every backend.
//
// A backend gives each test a fresh, empty store URL. SQLite: a file in a new temp directory.
// PostgreSQL: a fresh database per test (CREATE DATABASE, dropped after) on the server named by
// NIL_TEST_POSTGRES_URL, or by the URL file that scripts/test-postgres wrote into
// NIL_TEST_POSTGRES_DIR (tests/store/CMakeLists.txt: CTest starts that server as a fixture and
// runs the ".../postgres" tests as their own configuration). No server is a FAILURE, never a skip.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "store/store.h"

namespace nil::store::testing {

class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  virtual std::string url() const = 0;
};

class SqliteTestDatabase final : public TestDatabase {
 public:
  SqliteTestDatabase() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nil-store-XXXXXX").string();
    char* dir = mkdtemp(tmpl.data());
    if (dir == nullptr) ADD_FAILURE() << "mkdtemp failed";
    dir_ = tmpl;
  }
  ~SqliteTestDatabase() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string url() const override { return "sqlite:" + path(); }
  std::string path() const { return dir_ + "/nil.db"; }

 private:
  std::string dir_;
};

class PostgresTestDatabase final : public TestDatabase {
 public:
  PostgresTestDatabase() {
    admin_url_ = server_url();
    if (admin_url_.empty()) {
      ADD_FAILURE() << "no test PostgreSQL: set NIL_TEST_POSTGRES_URL, or run through ctest "
                       "(scripts/test-postgres start DIR, NIL_TEST_POSTGRES_DIR=DIR)";
      return;
    }
    std::random_device rd;
    name_ = "nil_test_" + std::to_string(rd()) + std::to_string(rd());
    if (!admin("CREATE DATABASE " + name_)) name_.clear();
  }
  ~PostgresTestDatabase() override {
    if (!name_.empty()) admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  // The server's URL with this test's database as its path.
  std::string url() const override {
    if (name_.empty()) return "postgresql://nil-test-postgres-unavailable.invalid/none";
    size_t slash = admin_url_.rfind('/');
    return admin_url_.substr(0, slash + 1) + name_;
  }

  static std::string server_url() {
    if (const char* u = getenv("NIL_TEST_POSTGRES_URL"); u != nullptr && *u != '\0') return u;
    if (const char* d = getenv("NIL_TEST_POSTGRES_DIR"); d != nullptr && *d != '\0') {
      std::ifstream in(std::string(d) + "/url");
      std::string url;
      std::getline(in, url);
      return url;
    }
    return {};
  }

 private:
  // Runs one statement on the server's maintenance database (names here are ours, not input).
  bool admin(const std::string& sql) const {
    PGconn* c = PQconnectdb(admin_url_.c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (!ok) {
      ADD_FAILURE() << "test PostgreSQL at " << admin_url_ << ": " << PQerrorMessage(c);
    } else {
      PGresult* r = PQexec(c, sql.c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      if (!ok) ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
      PQclear(r);
    }
    PQfinish(c);
    return ok;
  }

  std::string admin_url_;
  std::string name_;
};

struct Backend {
  std::string name;
  std::unique_ptr<TestDatabase> (*make)();
};
// A WAT function with an empty module and every other field left at its default.
inline NewFunction wat_function(std::string name) {
  NewFunction f;
  f.name = std::move(name);
  f.language = "wat";
  f.source = "(module)";
  return f;
}

inline void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

inline std::vector<Backend> store_backends() {
  return {
      {"sqlite",
       []() -> std::unique_ptr<TestDatabase> { return std::make_unique<SqliteTestDatabase>(); }},
      // Registered as its own CTest configuration with the server fixture (CMakeLists.txt).
      {"postgres",
       []() -> std::unique_ptr<TestDatabase> { return std::make_unique<PostgresTestDatabase>(); }},
  };
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = GetParam().make();
    reopen();
  }

  // Closes the store (like a process exit) and opens it again from the same URL.
  void reopen() {
    store_.reset();
    auto s = open_store(db_->url());
    ASSERT_TRUE(s.ok()) << s.error().code << ": " << s.error().message;
    store_ = std::move(s).value();
  }

  // Another store on the same database, as a second node (or a restarted process) would open
  // it while this one keeps running.
  std::unique_ptr<Store> open_another() {
    auto s = open_store(db_->url());
    EXPECT_TRUE(s.ok()) << s.error().code << ": " << s.error().message;
    return s.ok() ? std::move(s).value() : nullptr;
  }

  Store& store() { return *store_; }
  const TestDatabase& db() const { return *db_; }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

// Unwraps an Expected or fails the test (in a function returning void).
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                                         \
  auto lhs##_result_ = (expr);                                                                  \
  ASSERT_TRUE(lhs##_result_.ok()) << #expr << " failed: " << lhs##_result_.error().code << ": " \
                                  << lhs##_result_.error().message;                             \
  auto lhs = std::move(lhs##_result_).value()

// The Expected failed with this code.
template <typename T>
void expect_error(const Expected<T>& r, ErrorCode code) {
  ASSERT_FALSE(r.ok()) << "expected error " << code;
  EXPECT_EQ(r.error().code, code) << r.error().message;
}

}  // namespace nil::store::testing
