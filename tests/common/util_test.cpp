#include "common/util.h"

#include <gtest/gtest.h>

#include <set>

#include "common/expected.h"

namespace nil {
namespace {

TEST(Uuid, IsVersion4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_uuid();
    ASSERT_TRUE(is_uuid(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(is_uuid("hello"));
  EXPECT_FALSE(is_uuid("0123456789abcdef0123456789abcdef0123"));
  EXPECT_FALSE(is_uuid("ABCDEF01-2345-4678-9abc-def012345678"));  // upper case is not ours
}

TEST(Uuid, Version7IsTimeOrderedAndUnique) {
  std::set<std::string> seen;
  std::string previous_ms;
  for (int i = 0; i < 1000; ++i) {
    int64_t before_ms = now_micros() / 1000;
    std::string id = new_uuid_v7();
    int64_t after_ms = now_micros() / 1000;
    ASSERT_TRUE(is_uuid(id)) << id;
    EXPECT_EQ(id[14], '7') << id;
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    // The first 48 bits are the Unix time in milliseconds when the id was made.
    int64_t ms = std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
    EXPECT_GE(ms, before_ms) << id;
    EXPECT_LE(ms, after_ms) << id;
    // Lexical order follows time: an id never sorts before one made in an earlier millisecond.
    std::string this_ms = id.substr(0, 13);
    EXPECT_GE(this_ms, previous_ms) << id;
    previous_ms = this_ms;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Time, Rfc3339) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(1'795'000'000'123'456), "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    auto std_enc = base64_encode(bytes);
    auto url_enc = base64url_encode(bytes);
    ASSERT_EQ(base64_decode(std_enc), bytes);
    ASSERT_EQ(base64url_decode(url_enc), bytes);
    EXPECT_EQ(url_enc.find('='), std::string::npos);
    bytes.push_back(static_cast<char>(i * 37));
  }
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_EQ(base64_decode("aGVsbG8"), "hello");  // padding optional
  EXPECT_FALSE(base64_decode("a*b="));
  EXPECT_FALSE(base64_decode("a"));
}

Expected<int> half(int x) {
  if (x % 2) return make_error(ErrorCode::kInvalidField, "odd number");
  return x / 2;
}
Expected<int> quarter(int x) {
  int h = NIL_TRY(half(x));
  return NIL_TRY(half(h));
}

TEST(ExpectedTest, TryPropagatesErrors) {
  ASSERT_TRUE(quarter(8).ok());
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidField);
}

}  // namespace
}  // namespace nil
