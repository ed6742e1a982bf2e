// nil::api router — the route table: method + path pattern → handler, with each route's
// authentication requirement and CSRF rule declared beside it (src/api/routes/table.cpp).
//
// Paths are normalised once, here: the target is parsed as origin-form (malformed_request
// otherwise), segments are percent-decoded, and one trailing slash is ignored ("/functions/" is
// "/functions"). A pattern segment "{name}" matches any one segment; where several patterns
// match, the one whose first differing segment is a literal wins ("/functions/v1/{ref}" over
// "/functions/{ref}/execute"). A path no pattern matches is 404 route_not_found; a pattern
// without the request's method is 405 method_not_allowed with an Allow header listing the
// pattern's methods in table order. The order of checks around them (credentials before 404 and
// 405 except on public paths) lives in Api::Impl::dispatch.
//
// Built once before serving; match() is const and called from every I/O thread.
#pragma once

#include <array>
#include <boost/url/url_view.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_server.h"
#include "auth/auth.h"
#include "common/expected.h"

namespace nil::api {

namespace routes {
struct ApiCore;
}

// Who may call a route.
enum class Access : uint8_t {
  kPublic,     // no credentials are read (health, login); 405 is answered without them
  kAnonymous,  // with or without credentials (the v1 call of a public function)
  kPrincipal,  // any authenticated principal
  kAdmin,      // an admin; others get 403 forbidden (after 404/405)
};

// Whether a session-authenticated call must echo the X-CSRF-Token from login.
enum class Csrf : uint8_t {
  kNotRequired,  // reads (GET, HEAD), and public routes
  kRequired,     // state changes: a cookie rides along on cross-site requests
};

// Where a route's handler runs when requests are served on the I/O loops (work_threads 0; see
// api.h): inline, or on the offload pool so that it holds up no other connection of its loop.
enum class Runs : uint8_t {
  kInline,
  kOffloadUnlessFast,  // executes: inline only when the function named by the first path
                       // parameter recently took under 1 ms (Invoker::recent_ms)
  kOffload,            // password hashing (argon2id: tens of ms of a core)
};

// The values of a matched pattern's "{…}" segments, in order; views into the request's segments.
class PathParams {
 public:
  static constexpr size_t kMax = 4;
  std::string_view operator[](size_t i) const {
    return i < size_ ? values_[i] : std::string_view{};
  }
  size_t size() const { return size_; }
  void push(std::string_view v) {
    if (size_ < kMax) values_[size_++] = v;
  }

 private:
  std::array<std::string_view, kMax> values_{};
  size_t size_ = 0;
};

// What a handler gets.
struct Call {
  const Request& req;
  const boost::urls::url_view& url;
  PathParams params;
  const auth::Principal* principal =
      nullptr;  // null only on kPublic and anonymous kAnonymous calls

  const auth::Principal& who() const { return *principal; }  // routes with kPrincipal or kAdmin
  std::string_view target() const { return {req.target().data(), req.target().size()}; }
};

using RouteHandler = Expected<Response> (*)(routes::ApiCore&, const Call&);

struct Route {
  http::verb method;
  std::string_view pattern;  // "/functions/{ref}/execute"
  Access access;
  Csrf csrf;
  RouteHandler handler;
  Runs runs = Runs::kInline;
};

// A table line; the CSRF rule follows from the method unless given.
constexpr Route route(http::verb method, std::string_view pattern, Access access,
                      RouteHandler handler, Runs runs = Runs::kInline) {
  bool changes = method == http::verb::post || method == http::verb::put ||
                 method == http::verb::patch || method == http::verb::delete_;
  return Route{method,  pattern,
               access,  changes && access != Access::kPublic ? Csrf::kRequired : Csrf::kNotRequired,
               handler, runs};
}

// A request target after normalisation.
struct Target {
  boost::urls::url_view url;
  std::vector<std::string> segments;  // percent-decoded, without a trailing empty one
};
Expected<Target> parse_target(std::string_view target);

struct RouteMatch {
  const Route* route = nullptr;  // the pattern and the method matched
  bool path_found = false;       // a pattern matched (route null: 405)
  bool public_path = false;      // the pattern's routes are all kPublic
  std::string_view allow;        // the pattern's methods, "GET, POST"
  PathParams params;
};

class Router {
 public:
  explicit Router(std::vector<Route> routes);  // CHECKs that no pattern+method appears twice

  RouteMatch match(http::verb method, const std::vector<std::string>& segments) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Pattern {
    std::vector<std::string_view> segments;  // "{…}" kept as is
    std::vector<bool> is_param;
    uint32_t rank = 0;  // literal segments, the first one highest: the more specific wins
    std::vector<size_t> routes;
    std::string allow;
    bool public_only = true;
  };
  std::vector<Route> routes_;
  std::vector<Pattern> patterns_;
};

// 405 with the Allow header.
Response method_not_allowed(const Request& req, std::string_view allow);

}  // namespace nil::api
