#include "api/problem.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace nil::api {
namespace {

TEST(Problem, StatusesComeFromTheRegistry) {
  EXPECT_EQ(status_for(ErrorCode::kInvalidField), http::status::bad_request);
  EXPECT_EQ(status_for(ErrorCode::kUnauthorized), http::status::unauthorized);
  EXPECT_EQ(status_for(ErrorCode::kForbidden), http::status::forbidden);
  EXPECT_EQ(status_for(ErrorCode::kFunctionNotFound), http::status::not_found);
  EXPECT_EQ(status_for(ErrorCode::kMethodNotAllowed), http::status::method_not_allowed);
  EXPECT_EQ(status_for(ErrorCode::kNameTaken), http::status::conflict);
  EXPECT_EQ(status_for(ErrorCode::kBodyTooLarge), http::status::payload_too_large);
  EXPECT_EQ(status_for(ErrorCode::kUnsupportedMediaType), http::status::unsupported_media_type);
  EXPECT_EQ(status_for(ErrorCode::kRateLimited), http::status::too_many_requests);
  EXPECT_EQ(status_for(ErrorCode::kStorageError), http::status::internal_server_error);
  EXPECT_EQ(status_for(ErrorCode::kUnsupportedTransferEncoding), http::status::not_implemented);
  EXPECT_EQ(status_for(ErrorCode::kFunctionFailed), http::status::bad_gateway);
  EXPECT_EQ(status_for(ErrorCode::kShuttingDown), http::status::service_unavailable);
}

// The registry's title is the status's reason phrase, as problem+json always said.
TEST(Problem, EveryTitleIsTheReasonPhraseOfItsStatus) {
  for (const ErrorCodeInfo& c : kErrorCodes) {
    EXPECT_EQ(c.title, http::obsolete_reason(static_cast<http::status>(c.http_status))) << c.wire;
  }
}

TEST(Problem, AnExplicitStatusKeepsTheCode) {
  Response res =
      problem(http::status::request_header_fields_too_large, ErrorCode::kMalformedRequest,
              "request header is too large", "", 11, false);
  EXPECT_EQ(
      res.body(),
      R"({"type":"urn:nil:problem:malformed_request","title":"Request Header Fields Too Large",)"
      R"("status":431,"detail":"request header is too large","code":"malformed_request"})");
}

TEST(Problem, UnauthorizedNamesTheSchemeAndRateLimitedSaysWhenToComeBack) {
  Response r401 = problem(make_error(ErrorCode::kUnauthorized, "no key"), "/x", 11, true);
  EXPECT_EQ(r401[http::field::www_authenticate], "Bearer realm=\"nil\"");
  Error e = make_error(ErrorCode::kRateLimited, "slow down");
  e.retry_after_s = 7;
  Response r429 = problem(e, "/x", 11, true);
  EXPECT_EQ(r429.result(), http::status::too_many_requests);
  EXPECT_EQ(r429[http::field::retry_after], "7");
  e.retry_after_s = 0;  // never "0": a client would retry at once
  EXPECT_EQ(problem(e, "/x", 11, true)[http::field::retry_after], "1");
}

TEST(Problem, Rfc9457Document) {
  Response res = problem(make_error(ErrorCode::kNameTaken, "taken \"x\""), "/functions", 11, true);
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
