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
  std::string out =
      r.json(R"({"pw":"my hunter22!","nested":[{"hunter22":"k"}],"esc":"\u0068unter22"})");
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

// ---- issue 11: no spelling of a secret survives --------------------------------------------

// True when `out` still holds the secret in any JSON spelling: a second pass finds nothing to
// mask (the redactor is idempotent on clean output) and the raw bytes are not there.
::testing::AssertionResult clean(const Redactor& r, const std::string& out,
                                 std::string_view secret) {
  if (out.find(secret) != std::string::npos) return ::testing::AssertionFailure() << "raw: " << out;
  if (r.json(out) != out) return ::testing::AssertionFailure() << "a spelling survives: " << out;
  return ::testing::AssertionSuccess();
}

TEST(Redactor, DuplicateKeysCannotHideASecret) {
  Redactor r({"SECRET-1"});
  std::string out = r.json(R"({"a":"SECRET-1","a":1})");
  EXPECT_TRUE(clean(r, out, "SECRET-1"));
  EXPECT_TRUE(boost::json::parse(out).is_object()) << out;
  EXPECT_EQ(out, R"({"a":"***","a":1})");  // every member kept, in order; only the secret masked
  // The duplicate that wins in a DOM may be either one.
  EXPECT_TRUE(clean(r, r.json(R"({"a":1,"a":"x SECRET-1"})"), "SECRET-1"));
  EXPECT_TRUE(clean(r, r.json(R"([{"k":{"a":"SECRET-1","a":2}}])"), "SECRET-1"));
  // Duplicate keys that are themselves the secret.
  EXPECT_TRUE(clean(r, r.json(R"({"SECRET-1":1,"SECRET-1":2})"), "SECRET-1"));
}

TEST(Redactor, EscapedSpellingsCannotHideASecret) {
  Redactor r({"SECRET-1"});
  for (const char* in : {R"({"a":"S\u0045CRET-1","a":1})", R"({"a":"\u0053\u0045\u0043RET-1"})",
                         R"(["S\u0045CRET\u002d1"])", R"({"S\u0045CRET-1":true,"S\u0045CRET-1":0})",
                         // A JSON document inside a string: the inner escapes are matched too.
                         R"({"inner":"{\"k\":\"S\\u0045CRET-1\"}"})"}) {
    std::string out = r.json(in);
    EXPECT_TRUE(clean(r, out, "SECRET-1")) << in;
    EXPECT_EQ(out.find("\\u0045CRET"), std::string::npos) << out;
    EXPECT_EQ(out.find("CRET-1"), std::string::npos) << out;
  }
  // Non-ASCII secrets, escaped as \u and as a surrogate pair.
  Redactor v({"p\xc3\xa4ss\xf0\x9f\x98\x80"});
  std::string out = v.json(R"({"x":"p\u00e4ss\ud83d\ude00"})");
  EXPECT_EQ(boost::json::parse(out).at("x").as_string(), "***") << out;
  EXPECT_EQ(v.text(R"(log p\u00e4ss\ud83d\ude00 end)"), "log *** end");
}

TEST(Redactor, DeeplyNestedOutputIsRedactedByValueToo) {
  Redactor r({"SECRET-1"});
  std::string in = std::string(100, '[') + "\"S\\u0045CRET-1\"" + std::string(100, ']');
  std::string out = r.json(in);
  EXPECT_TRUE(clean(r, out, "SECRET-1")) << out;
  EXPECT_EQ(out, std::string(100, '[') + "\"***\"" + std::string(100, ']'));
}

TEST(Redactor, NumbersAreMatchedByTheirOwnDigits) {
  Redactor r({"98765432109876543210"});
  // Past 64 bits: a DOM keeps it as a double whose text differs from the digits written.
  for (const char* in : {"[98765432109876543210123]", "{\"n\":0.98765432109876543210}",
                         "[1.98765432109876543210e5]"}) {
    std::string out = r.json(in);
    EXPECT_TRUE(clean(r, out, "98765432109876543210")) << in << " -> " << out;
  }
  EXPECT_EQ(r.json("[1, 98765432109876543210123, 2.50]"), R"([1,"***",2.50])");
}

TEST(Redactor, ASecretSpelledByTheJsonStructureMasksTheWholeOutput) {
  Redactor r({"a\",\"b"});
  EXPECT_EQ(r.json(R"(["a","b"])"), "\"***\"");
  EXPECT_EQ(r.json(R"(["a", "b"])"), R"(["a", "b"])");  // not the secret's bytes: untouched
}

TEST(Redactor, TextMasksEscapedSpellings) {
  Redactor r({"SECRET-1"});
  EXPECT_EQ(r.text(R"(got {"t":"S\u0045CRET-1"} and S\u0045CRET\u002d1 and SECRET-1)"),
            R"(got {"t":"***"} and *** and ***)");
  EXPECT_EQ(r.text("a lone \\ or \\q or \\u12 or \\ud800 stays"),
            "a lone \\ or \\q or \\u12 or \\ud800 stays");
}

TEST(Redactor, LogsAreCutAfterRedactionNeverThroughASecret) {
  Redactor r({"SECRET-1"});
  EXPECT_GE(r.slack(), 6u * 8u);  // every byte of the secret as a \uXXXX escape
  std::string pad(95, 'x');
  // The secret straddles the cap of 100 bytes: masked whole, then the marker.
  EXPECT_EQ(r.logs(pad + "SECRET-1 and more\n", 100), pad + "***\n[logs truncated]");
  EXPECT_EQ(r.logs(pad + "S\\u0045CRET-1 and more\n", 100), pad + "***\n[logs truncated]");
  // A secret wholly before the cap, text after it cut as usual.
  // The cap counts the bytes written (masks only shorten what is kept).
  EXPECT_EQ(r.logs("SECRET-1" + pad + "yyyy", 100),
            "***" + std::string(92, 'x') + "\n[logs truncated]");
  // Within the cap: not cut, no marker.
  EXPECT_EQ(r.logs("ab SECRET-1", 100), "ab ***");
  EXPECT_EQ(r.logs(std::string(100, 'z'), 100), std::string(100, 'z'));
  // What the engine hands over when it cut at cap + slack itself: the same result.
  std::string engine_cut = pad + "SECRET-1" + std::string(200, 'q');
  engine_cut.resize(100 + r.slack());
  EXPECT_EQ(r.logs(engine_cut + "\n[logs truncated]", 100), pad + "***\n[logs truncated]");
}

TEST(Redactor, ExcerptsAreCutAfterRedaction) {
  Redactor r({"SECRET-1"});
  std::string pad(195, 'x');
  EXPECT_EQ(r.excerpt(pad + "SECRET-1 tail", 200), pad + "***");
  EXPECT_EQ(r.excerpt("short SECRET-1", 200), "short ***");
}

}  // namespace
}  // namespace nil::invoke
