// The router over the real route table (src/api/routes/table.cpp): which pattern a path picks,
// its parameters, the Allow list of a 405, and path normalisation. The order of checks around
// it (401 before 404 and so on) is tested over HTTP in tests/integration/.
#include "api/router.h"

#include <gtest/gtest.h>

#include "api/routes/handler.h"

namespace nil::api {
namespace {

using http::verb;

struct Resolved {
  bool path_found = false;
  std::string pattern;  // "" when no route matched the method
  std::string allow;
  std::vector<std::string> params;
  bool public_path = false;
};

Resolved resolve(const Router& router, verb method, std::string_view target) {
  auto t = parse_target(target);
  EXPECT_TRUE(t.ok()) << target;
  if (!t.ok()) return {};
  RouteMatch m = router.match(method, t->segments);
  Resolved r;
  r.path_found = m.path_found;
  r.pattern = m.route ? std::string(m.route->pattern) : "";
  r.allow = std::string(m.allow);
  for (size_t i = 0; i < m.params.size(); ++i) r.params.emplace_back(m.params[i]);
  r.public_path = m.public_path;
  return r;
}

TEST(Router, TheTableResolvesEveryPathAsBefore) {
  const Router router(routes::route_table());
  struct Case {
    verb method;
    std::string_view target;
    std::string_view pattern;  // "" = 405 (path found) or 404
    std::string_view allow;
    std::vector<std::string> params;
  } cases[] = {
      {verb::get, "/healthz", "/healthz", "GET, HEAD", {}},
      {verb::head, "/readyz", "/readyz", "GET, HEAD", {}},
      {verb::post, "/healthz", "", "GET, HEAD", {}},
      {verb::post, "/auth/login", "/auth/login", "POST", {}},
      {verb::get, "/functions", "/functions", "GET, POST", {}},
      {verb::patch, "/functions", "", "GET, POST", {}},
      {verb::get, "/functions/hello", "/functions/{ref}", "GET, PUT, DELETE", {"hello"}},
      {verb::get, "/functions/v1", "/functions/{ref}", "GET, PUT, DELETE", {"v1"}},
      {verb::post, "/functions/hello/execute", "/functions/{ref}/execute", "POST", {"hello"}},
      {verb::get, "/functions/hello/execute", "", "POST", {"hello"}},
      {verb::get, "/functions/hello/executions", "/functions/{ref}/executions", "GET", {"hello"}},
      // The v1 segment wins over a function named "v1": /functions/v1/execute calls "execute".
      {verb::post, "/functions/v1/execute", "/functions/v1/{ref}", "POST", {"execute"}},
      {verb::get, "/functions/v1/executions", "", "POST", {"executions"}},
      {verb::post, "/functions/v1/deploy", "/functions/v1/deploy", "POST", {}},
      {verb::get, "/functions/v1/deploy", "", "POST", {}},
      {verb::post, "/functions/v1/hello", "/functions/v1/{ref}", "POST", {"hello"}},
      {verb::get, "/executions/e1", "/executions/{id}", "GET", {"e1"}},
      {verb::delete_, "/environments/prod", "/environments/{ref}", "GET, PUT, DELETE", {"prod"}},
      {verb::patch, "/environments/prod", "", "GET, PUT, DELETE", {"prod"}},
      {verb::get, "/users/ann", "/users/{ref}", "GET, PUT, DELETE", {"ann"}},
      {verb::get, "/groups/ops", "/groups/{ref}", "GET, DELETE", {"ops"}},
      {verb::post, "/groups/ops/members", "/groups/{ref}/members", "GET, POST", {"ops"}},
      {verb::delete_,
       "/groups/ops/members/ann",
       "/groups/{ref}/members/{user}",
       "DELETE",
       {"ops", "ann"}},
      {verb::get, "/api-keys/k1", "", "DELETE", {"k1"}},
      {verb::get, "/admin/queues", "/admin/queues", "GET", {}},
      {verb::post, "/auth/logout", "/auth/logout", "POST", {}},
      {verb::get, "/auth/me", "/auth/me", "GET", {}},
  };
  for (const auto& c : cases) {
    Resolved r = resolve(router, c.method, c.target);
    EXPECT_TRUE(r.path_found) << c.target;
    EXPECT_EQ(r.pattern, c.pattern) << c.target;
    EXPECT_EQ(r.allow, c.allow) << c.target;
    EXPECT_EQ(r.params, c.params) << c.target;
  }
}

TEST(Router, UnknownPathsAreNotFound) {
  const Router router(routes::route_table());
  for (std::string_view t :
       {"/", "/no/such/route", "/functions/a/b/c", "/functions/a/b", "/users/a/b", "/groups/a/b",
        "/groups/a/members/b/c", "/api-keys/a/b", "/auth", "/healthz/x"}) {
    EXPECT_FALSE(resolve(router, verb::get, t).path_found) << t;
  }
}

TEST(Router, OnlyHealthAndLoginArePublic) {
  const Router router(routes::route_table());
  EXPECT_TRUE(resolve(router, verb::get, "/healthz").public_path);
  EXPECT_TRUE(resolve(router, verb::delete_, "/readyz").public_path);
  EXPECT_TRUE(resolve(router, verb::get, "/auth/login").public_path);
  EXPECT_FALSE(resolve(router, verb::post, "/functions/v1/hello").public_path);
  EXPECT_FALSE(resolve(router, verb::get, "/auth/me").public_path);
  for (const Route& r : router.routes()) {
    bool changes = r.method == verb::post || r.method == verb::put || r.method == verb::delete_;
    // Every authenticated state change checks the CSRF token of a session.
    EXPECT_EQ(r.csrf == Csrf::kRequired, changes && r.access != Access::kPublic) << r.pattern;
  }
}

TEST(Router, PathsAreNormalisedOnce) {
  const Router router(routes::route_table());
  // A trailing slash is ignored, segments are percent-decoded, the query is not part of the path.
  EXPECT_EQ(resolve(router, verb::get, "/functions/").pattern, "/functions");
  EXPECT_EQ(resolve(router, verb::get, "/functions/hello/?limit=5").params,
            std::vector<std::string>{"hello"});
  EXPECT_EQ(resolve(router, verb::get, "/functions/a%2Fb").params, std::vector<std::string>{"a/b"});
  EXPECT_EQ(resolve(router, verb::get, "/functions/he%6Clo/executions").params,
            std::vector<std::string>{"hello"});
  EXPECT_EQ(resolve(router, verb::get, "/healthz?x=1").pattern, "/healthz");
  auto bad = parse_target("no-slash");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kMalformedRequest);
}

Expected<Response> unused(routes::ApiCore&, const Call&) {
  return make_error(ErrorCode::kInternalError, "x");
}

TEST(Router, TheMoreLiteralPatternWins) {
  const Router router({route(verb::get, "/a/{x}/c", Access::kPrincipal, unused),
                       route(verb::get, "/{y}/b/c", Access::kPrincipal, unused),
                       route(verb::post, "/a/b/{z}", Access::kPrincipal, unused)});
  // All three match /a/b/c; the one whose first differing segment is literal wins, and its
  // methods decide between the route and 405.
  Resolved r = resolve(router, verb::get, "/a/b/c");
  EXPECT_EQ(r.pattern, "");
  EXPECT_EQ(r.allow, "POST");
  EXPECT_EQ(resolve(router, verb::post, "/a/b/c").params, std::vector<std::string>{"c"});
  EXPECT_EQ(resolve(router, verb::get, "/a/x/c").pattern, "/a/{x}/c");
  EXPECT_EQ(resolve(router, verb::get, "/z/b/c").pattern, "/{y}/b/c");
}

TEST(RouterDeathTest, AmbiguousTablesAreRefused) {
  EXPECT_DEATH(Router({route(verb::get, "/a/{x}", Access::kPrincipal, unused),
                       route(verb::post, "/a/{y}", Access::kPrincipal, unused)}),
               "ambiguous");
  EXPECT_DEATH(Router({route(verb::get, "/a", Access::kPrincipal, unused),
                       route(verb::get, "/a", Access::kAdmin, unused)}),
               "method listed twice");
}

}  // namespace
}  // namespace nil::api
