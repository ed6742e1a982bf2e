// Secret redaction through a real nild (issue 11): a function compiled by the server prints its
// secret where a naive redaction misses it — duplicate JSON keys, an escaped spelling, across
// the 64 KiB log cap, across the cut of the invalid_output excerpt — and neither the answer nor
// the stored execution carries any spelling of it.
#include "harness.h"

namespace nil::it {
namespace {

constexpr std::string_view kSecret = "sk-redact-7c1e9a4b2d";

// No spelling of the secret: its bytes, or the tail a \u escape of its second byte leaves.
::testing::AssertionResult free_of_secret(std::string_view text) {
  if (text.find(kSecret) != std::string_view::npos) {
    return ::testing::AssertionFailure() << "the secret is there: " << text.substr(0, 400);
  }
  if (text.find(kSecret.substr(2)) != std::string_view::npos) {
    return ::testing::AssertionFailure() << "an escaped spelling is there: " << text.substr(0, 400);
  }
  // Its first half: what a cut through the secret would leave.
  if (text.find(kSecret.substr(0, 5)) != std::string_view::npos) {
    return ::testing::AssertionFailure() << "part of the secret is there";
  }
  return ::testing::AssertionSuccess();
}

class Redaction : public NildSuite<Redaction> {
 protected:
  void SetUp() override {
    NildSuite::SetUp();
    if (!fn_.empty()) return;
    std::string env = unique_name("redact");
    auto r = http().post_json(
        "/environments",
        json::object{{"name", env},
                     {"vars", json::array{json::object{
                                  {"key", "TOKEN"}, {"value", kSecret}, {"secret", true}}}}});
    ASSERT_EQ(r.status, 201) << r.describe();
    std::string source = read_file(source_dir() / "tests/integration/guests/redaction.c");
    auto f = http().post_json("/functions", json::object{{"name", unique_name("leaky")},
                                                         {"language", "c"},
                                                         {"source", source},
                                                         {"environments", json::array{env}}});
    ASSERT_EQ(f.status, 202) << f.describe();
    json::object done = wait_terminal(http(), str(f.json(), "id"), nullptr, 120s);
    ASSERT_EQ(str(done, "status"), "READY") << json::serialize(done);
    fn_ = str(done, "id");
  }

  // Runs one mode; checks the answer and the stored execution hold no spelling of the secret.
  json::object run(std::string_view mode) {
    auto answer = http().post_json("/functions/" + fn_ + "/execute", json::object{{"mode", mode}});
    EXPECT_EQ(answer.status, 200) << answer.describe();
    EXPECT_TRUE(free_of_secret(answer.body)) << mode;
    json::object e = answer.json().as_object();
    auto stored = get_execution(http(), str(e, "executionId"));
    EXPECT_EQ(stored.status, 200) << stored.describe();
    EXPECT_TRUE(free_of_secret(stored.body)) << mode;
    return stored.json().as_object();
  }

  static inline std::string fn_;
};

TEST_F(Redaction, DuplicateKeysDoNotHideTheSecret) {
  auto answer = http().post_json("/functions/" + fn_ + "/execute", json::object{{"mode", "dup"}});
  // Every member is kept, the secret masked in it.
  EXPECT_NE(answer.body.find(R"("output":{"a":"***","a":1})"), std::string::npos)
      << answer.describe();
  json::object e = run("dup");
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
  EXPECT_TRUE(e.at("output").is_object()) << json::serialize(e);
}

TEST_F(Redaction, AnEscapedSpellingWithDuplicateKeysDoesNotHideTheSecret) {
  json::object e = run("escdup");
  ASSERT_EQ(str(e, "status"), "SUCCEEDED") << json::serialize(e);
}

TEST_F(Redaction, ASecretStraddlingTheLogCapIsMaskedWhole) {
  for (std::string_view mode : {"logcap", "logcapesc"}) {
    json::object e = run(mode);
    ASSERT_EQ(str(e, "status"), "SUCCEEDED") << mode;
    std::string logs = str(e, "logs");
    EXPECT_EQ(logs, std::string(65536 - 5, 'x') + "***\n[logs truncated]") << mode;
  }
}

TEST_F(Redaction, TheInvalidOutputExcerptIsCutAfterRedaction) {
  json::object e = run("notjson");
  ASSERT_EQ(str(e, "status"), "FAILED") << json::serialize(e);
  const json::value& error = e.at("error");
  EXPECT_EQ(str(error, "type"), "invalid_output");
  std::string message = str(error, "message");
  EXPECT_TRUE(message.ends_with(std::string(195, 'x') + "***")) << message;
}

}  // namespace
}  // namespace nil::it
