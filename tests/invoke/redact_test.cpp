#include "invoke/redact.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace nil::invoke {
namespace {

TEST(Redactor, TextReplacesRawAndEscapedForms) {
  Redactor r({"s3cr\"et", "token-123"});
  EXPECT_EQ(r.text("key=token-123 and token-123"), "key=*** and ***");
  EXPECT_EQ(r.text("raw s3cr\"et / json {\"k\":\"s3cr\\\"et\"}"), "raw *** / json {\"k\":\"***\"}");
  EXPECT_EQ(r.text("nothing here"), "nothing here");
}

TEST(Redactor, LongerSecretFirst) {
  Redactor r({"abcd", "abcdefgh"});
  EXPECT_EQ(r.text("xabcdefghx abcd"), "x***x ***");
}

TEST(Redactor, JsonStaysValidAndUnchangedWithoutSecrets) {
  Redactor r({"hunter22"});
  std::string clean = R"({ "a" : [1, 2.5, "x"] })";
  EXPECT_EQ(r.json(clean), clean);  // byte for byte
  std::string out = r.json(R"({"pw":"my hunter22!","nested":[{"hunter22":"k"}],"esc":"\u0068unter22"})");
  boost::json::value v = boost::json::parse(out);
  EXPECT_EQ(v.at("pw").as_string(), "my ***!");
  EXPECT_TRUE(v.at("nested").at(0).as_object().contains("***"));
  EXPECT_EQ(v.at("esc").as_string(), "***");
  EXPECT_EQ(out.find("hunter22"), std::string::npos);
}

TEST(Redactor, SecretWithQuotesInsideJsonString) {
  Redactor r({"a\"b\\c"});
  std::string out = r.json(R"({"v":"<a\"b\\c>"})");
  EXPECT_EQ(boost::json::parse(out).at("v").as_string(), "<***>");
}

TEST(Redactor, NumericSecretInANumber) {
  Redactor r({"987654"});
  std::string out = r.json(R"({"n":19876543,"m":1})");
  boost::json::value v = boost::json::parse(out);
  EXPECT_EQ(v.at("n").as_string(), "***");
  EXPECT_EQ(v.at("m").as_int64(), 1);
}

TEST(Redactor, NonJsonFallsBackToText) {
  Redactor r({"abcd1234"});
  EXPECT_EQ(r.json("not json abcd1234"), "not json ***");
}

TEST(Redactor, EmptySecretsIgnored) {
  Redactor r({""});
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.json("\"x\""), "\"x\"");
}

}  // namespace
}  // namespace nil::invoke
