#include "api/router.h"

#include <boost/url/parse.hpp>
#include <cstdio>
#include <cstdlib>

#include "api/problem.h"

namespace nil::api {

namespace {

Error invalid(ErrorCode code, std::string msg) { return make_error(code, std::move(msg)); }

std::vector<std::string_view> split_pattern(std::string_view pattern) {
  std::vector<std::string_view> out;
  if (!pattern.empty() && pattern.front() == '/') pattern.remove_prefix(1);
  while (!pattern.empty()) {
    size_t slash = pattern.find('/');
    out.push_back(pattern.substr(0, slash));
    if (slash == std::string_view::npos) break;
    pattern.remove_prefix(slash + 1);
  }
  return out;
}

[[noreturn]] void bad_table(std::string_view what, std::string_view pattern) {
  std::fprintf(stderr, "route table: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(pattern.size()), pattern.data());
  std::abort();
}

}  // namespace

Expected<Target> parse_target(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return invalid(ErrorCode::kMalformedRequest, "malformed request target");
  Target t{*parsed, {}};
  for (auto s : t.url.segments()) t.segments.push_back(s);
  if (!t.segments.empty() && t.segments.back().empty())
    t.segments.pop_back();  // tolerate a trailing slash
  return t;
}

Router::Router(std::vector<Route> routes) : routes_(std::move(routes)) {
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Route& r = routes_[i];
    Pattern* p = nullptr;
    const std::vector<std::string_view> segments = split_pattern(r.pattern);
    for (auto& existing : patterns_) {
      if (existing.segments == segments) p = &existing;
    }
    if (!p) {
      Pattern np;
      np.segments = segments;
      if (np.segments.size() > 16) bad_table("too many segments", r.pattern);
      size_t params = 0;
      for (size_t s = 0; s < np.segments.size(); ++s) {
        bool param = np.segments[s].starts_with('{') && np.segments[s].ends_with('}');
        np.is_param.push_back(param);
        if (param) ++params;
        if (!param) np.rank |= 1u << (15 - s);
      }
      if (params > PathParams::kMax) bad_table("too many parameters", r.pattern);
      for (const auto& other : patterns_) {
        if (other.rank == np.rank && other.segments.size() == np.segments.size()) {
          bool same = true;
          for (size_t s = 0; s < np.segments.size() && same; ++s) {
            same = np.is_param[s] || np.segments[s] == other.segments[s];
          }
          if (same) bad_table("ambiguous with another pattern", r.pattern);
        }
      }
      patterns_.push_back(std::move(np));
      p = &patterns_.back();
    }
    for (size_t j : p->routes) {
      if (routes_[j].method == r.method) bad_table("method listed twice", r.pattern);
    }
    p->routes.push_back(i);
    if (!p->allow.empty()) p->allow += ", ";
    p->allow += std::string(http::to_string(r.method));
    p->public_only = p->public_only && r.access == Access::kPublic;
  }
}

RouteMatch Router::match(http::verb method, const std::vector<std::string>& segments) const {
  const Pattern* best = nullptr;
  for (const auto& p : patterns_) {
    if (p.segments.size() != segments.size() || (best && best->rank >= p.rank)) continue;
    bool ok = true;
    for (size_t s = 0; s < segments.size() && ok; ++s)
      ok = p.is_param[s] || p.segments[s] == segments[s];
    if (ok) best = &p;
  }
  RouteMatch m;
  if (!best) return m;
  m.path_found = true;
  m.public_path = best->public_only;
  m.allow = best->allow;
  for (size_t s = 0; s < segments.size(); ++s) {
    if (best->is_param[s]) m.params.push(segments[s]);
  }
  for (size_t i : best->routes) {
    if (routes_[i].method == method) m.route = &routes_[i];
  }
  return m;
}

Response method_not_allowed(const Request& req, std::string_view allow) {
  Response res = problem(
      make_error(ErrorCode::kMethodNotAllowed,
                 std::string(req.method_string()) +
                     " is not allowed here (allowed: " + std::string(allow) + ")"),
      std::string_view(req.target().data(), req.target().size()), req.version(), req.keep_alive());
  res.set(http::field::allow, allow);
  return res;
}

}  // namespace nil::api
