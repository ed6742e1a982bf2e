// The error-code registry (src/common/error_codes.inc) against its documentation, both ways:
// every code of a scope is in that scope's table (with the same status where the table has one),
// and every code a table documents is in the registry with that scope.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/expected.h"

namespace nil {
namespace {

std::string read_doc(const std::string& relative) {
  std::ifstream in(std::string(NIL_TEST_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(in) << "cannot read " << relative;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '|') {
      while (!cell.empty() && cell.back() == ' ') cell.pop_back();
      size_t b = cell.find_first_not_of(' ');
      out.push_back(b == std::string::npos ? "" : cell.substr(b));
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return out;
}

// The `backticked` words of a cell.
std::vector<std::string> codes_in(const std::string& cell) {
  std::vector<std::string> out;
  for (size_t a = cell.find('`'); a != std::string::npos; a = cell.find('`', a)) {
    size_t b = cell.find('`', a + 1);
    if (b == std::string::npos) break;
    out.push_back(cell.substr(a + 1, b - a - 1));
    a = b + 1;
  }
  return out;
}

// The cells of each row of the first Markdown table after offset `at` of `doc`.
std::vector<std::vector<std::string>> first_table_after(const std::string& doc, size_t at) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(doc.substr(at + 1));
  std::string line;
  bool in_table = false;
  while (std::getline(lines, line)) {
    if (line.rfind("|", 0) != 0) {
      if (in_table) break;
      continue;
    }
    in_table = true;
    rows.push_back(cells(line));
  }
  return rows;
}

// The rows of the first table after the line that starts with `heading`: code → status (0 when
// the table has no status column). A code documented twice must have one status.
std::multimap<std::string, int> table_after(const std::string& doc, const std::string& heading,
                                            bool has_status) {
  std::multimap<std::string, int> out;
  size_t at = doc.find("\n" + heading);
  EXPECT_NE(at, std::string::npos) << "no " << heading;
  if (at == std::string::npos) return out;
  for (const std::vector<std::string>& c : first_table_after(doc, at)) {
    if (c.size() < 2 || c[0].empty() || c[0] == "code" || c[0].rfind("---", 0) == 0) continue;
    for (const std::string& code : codes_in(c[0]))
      out.emplace(code, has_status ? std::stoi(c[1]) : 0);
  }
  return out;
}

std::set<std::string> registry_codes(ErrorScope scope) {
  std::set<std::string> out;
  for (const ErrorCodeInfo& c : kErrorCodes) {
    if (c.scope == scope) out.insert(std::string(c.wire));
  }
  return out;
}

const ErrorCodeInfo* find(const std::string& wire) {
  for (const ErrorCodeInfo& c : kErrorCodes) {
    if (c.wire == wire) return &c;
  }
  return nullptr;
}

void expect_documented(const std::multimap<std::string, int>& table, ErrorScope scope,
                       bool has_status, const std::string& where) {
  ASSERT_FALSE(table.empty()) << where;
  for (const std::string& code : registry_codes(scope)) {
    auto [b, e] = table.equal_range(code);
    EXPECT_NE(b, e) << code << " is in error_codes.inc but not in " << where;
    for (auto it = b; has_status && it != e; ++it) {
      EXPECT_EQ(it->second, http_status(find(code)->code))
          << code << ": " << where << " and error_codes.inc disagree";
    }
  }
  for (const auto& [code, status] : table) {
    const ErrorCodeInfo* c = find(code);
    ASSERT_NE(c, nullptr) << code << " is documented in " << where << " but not in error_codes.inc";
    EXPECT_EQ(c->scope, scope) << code << " is documented in " << where << " but has another scope";
  }
}

TEST(ErrorCodes, HttpProblemCodesMatchDocsErrorsBothWays) {
  std::string doc = read_doc("docs/errors.md");
  expect_documented(table_after(doc, "`code` is stable", true), ErrorScope::kHttp, true,
                    "docs/errors.md (HTTP table)");
}

TEST(ErrorCodes, ModuleValidationCodesMatchDocsErrors) {
  std::string doc = read_doc("docs/errors.md");
  expect_documented(table_after(doc, "## Module validation", false), ErrorScope::kModule, false,
                    "docs/errors.md (Module validation)");
}

TEST(ErrorCodes, InternalCodesMatchDocsErrors) {
  std::string doc = read_doc("docs/errors.md");
  expect_documented(table_after(doc, "## Codes inside the server", true), ErrorScope::kInternal,
                    true, "docs/errors.md (Codes inside the server)");
}

TEST(ErrorCodes, HostCallCodesMatchDocsAbi) {
  std::string doc = read_doc("docs/abi.md");
  std::multimap<std::string, int> table;
  // The status-number table: | n | codes | when |.
  size_t at = doc.find("\n**Status numbers**");
  ASSERT_NE(at, std::string::npos);
  for (const std::vector<std::string>& c : first_table_after(doc, at)) {
    if (c.size() < 2) continue;
    for (const std::string& code : codes_in(c[1])) table.emplace(code, 0);
  }
  expect_documented(table, ErrorScope::kHost, false, "docs/abi.md (status numbers)");
}

TEST(ErrorCodes, WireCodesAreUniqueAndSnakeCase) {
  std::set<std::string_view> seen;
  for (const ErrorCodeInfo& c : kErrorCodes) {
    EXPECT_TRUE(seen.insert(c.wire).second) << c.wire << " twice";
    ASSERT_FALSE(c.wire.empty());
    EXPECT_TRUE(std::islower(static_cast<unsigned char>(c.wire[0]))) << c.wire;
    for (char ch : c.wire)
      EXPECT_TRUE(std::islower(static_cast<unsigned char>(ch)) ||
                  std::isdigit(static_cast<unsigned char>(ch)) || ch == '_')
          << c.wire;
    EXPECT_EQ(to_string(c.code), c.wire);
    EXPECT_GE(c.http_status, 400) << c.wire;
    EXPECT_LT(c.http_status, 600) << c.wire;
    EXPECT_FALSE(c.meaning.empty()) << c.wire;
  }
  EXPECT_EQ(seen.size(), kErrorCodeCount);
}

TEST(ErrorCodes, ErrorsCarryTheirWireCode) {
  Error e = make_error(ErrorCode::kFunctionNotFound, "no function 'x'");
  EXPECT_EQ(e.code, ErrorCode::kFunctionNotFound);
  EXPECT_EQ(e.wire_code(), "function_not_found");
  Error f = make_foreign_error("http_418", "a teapot");
  EXPECT_EQ(f.code, ErrorCode::kForeign);
  EXPECT_EQ(f.wire_code(), "http_418");
  std::ostringstream os;
  os << ErrorCode::kNameTaken;
  EXPECT_EQ(os.str(), "name_taken");
}

Expected<int> fails() { return make_error(ErrorCode::kStorageError, "disk on fire"); }

TEST(ExpectedDeathTest, ValueOfAnErrorIsACheckedFailureNamingTheError) {
  EXPECT_DEATH((void)fails().value(),
               "Expected::value\\(\\) on an error: storage_error: disk on fire");
  const Expected<int> r = fails();
  EXPECT_DEATH((void)*r, "storage_error: disk on fire");
  Expected<std::string> s = make_error(ErrorCode::kInvalidField, "bad");
  EXPECT_DEATH((void)s->size(), "invalid_field: bad");
}

TEST(ExpectedDeathTest, ErrorOfAValueIsACheckedFailure) {
  Expected<int> r = 1;
  EXPECT_DEATH((void)r.error(), "Expected::error\\(\\) on a value");
}

}  // namespace
}  // namespace nil
