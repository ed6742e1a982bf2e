#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/problem.h"

namespace nil::api {
namespace {

TEST(Problem, EveryKindHasItsStatus) {
  EXPECT_EQ(status_for(ErrorKind::kInvalidInput), http::status::bad_request);
  EXPECT_EQ(status_for(ErrorKind::kNotFound), http::status::not_found);
  EXPECT_EQ(status_for(ErrorKind::kConflict), http::status::conflict);
  EXPECT_EQ(status_for(ErrorKind::kTooLarge), http::status::payload_too_large);
  EXPECT_EQ(status_for(ErrorKind::kUnsupported), http::status::unsupported_media_type);
  EXPECT_EQ(status_for(ErrorKind::kUnavailable), http::status::service_unavailable);
  EXPECT_EQ(status_for(ErrorKind::kInternal), http::status::internal_server_error);
  EXPECT_EQ(status_for(ErrorKind::kUnauthenticated), http::status::unauthorized);
  EXPECT_EQ(status_for(ErrorKind::kForbidden), http::status::forbidden);
  EXPECT_EQ(status_for(ErrorKind::kRateLimited), http::status::too_many_requests);
}

TEST(Problem, UnauthorizedNamesTheSchemeAndRateLimitedSaysWhenToComeBack) {
  Response r401 = problem(make_error(ErrorKind::kUnauthenticated, "unauthorized", "no key"), "/x", 11, true);
  EXPECT_EQ(r401[http::field::www_authenticate], "Bearer realm=\"nil\"");
  Error e = make_error(ErrorKind::kRateLimited, "rate_limited", "slow down");
  e.retry_after_s = 7;
  Response r429 = problem(e, "/x", 11, true);
  EXPECT_EQ(r429.result(), http::status::too_many_requests);
  EXPECT_EQ(r429[http::field::retry_after], "7");
  e.retry_after_s = 0;  // never "0": a client would retry at once
  EXPECT_EQ(problem(e, "/x", 11, true)[http::field::retry_after], "1");
}

TEST(Problem, Rfc9457Document) {
  Response res = problem(make_error(ErrorKind::kConflict, "name_taken", "taken \"x\""), "/functions", 11, true);
  EXPECT_EQ(res.result(), http::status::conflict);
  EXPECT_EQ(res[http::field::content_type], "application/problem+json");
  auto v = boost::json::parse(res.body()).as_object();
  EXPECT_EQ(v["type"], "urn:nil:problem:name_taken");
  EXPECT_EQ(v["title"], "Conflict");
  EXPECT_EQ(v["status"], 409);
  EXPECT_EQ(v["detail"], "taken \"x\"");
  EXPECT_EQ(v["code"], "name_taken");
  EXPECT_EQ(v["instance"], "/functions");
}

}  // namespace
}  // namespace nil::api
