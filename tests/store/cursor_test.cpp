// The list cursors of src/store/cursor.h on their own: every backend hands these to clients.
#include "store/cursor.h"

#include <gtest/gtest.h>

#include "common/util.h"

namespace nil::store::cursor {
namespace {

void expect_invalid(const Expected<int64_t>& r) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidCursor);
  EXPECT_EQ(http_status(r.error().code), 400);
}

TEST(SeqCursor, RoundTripsAndIsOpaque) {
  for (int64_t seq : {int64_t{0}, int64_t{1}, int64_t{42}, int64_t{9'007'199'254'740'993}}) {
    std::string c = encode_seq(kFunctions, seq);
    EXPECT_EQ(c.find("f1:"), std::string::npos) << "the cursor shows its plain text: " << c;
    auto back = decode_seq(c, kFunctions);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, seq);
  }
  EXPECT_EQ(encode_seq(kFunctions, 7), base64url_encode("f1:7"));
}

TEST(SeqCursor, NoCursorStartsAtTheBeginning) {
  auto r = decode_seq(std::nullopt, kUsers);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0);
}

TEST(SeqCursor, ACursorOfAnotherListIsRejected) {
  std::string functions = encode_seq(kFunctions, 5);
  expect_invalid(decode_seq(functions, kEnvironments));
  expect_invalid(decode_seq(functions, kUsers));
  expect_invalid(decode_seq(encode_seq(kGroups, 5), kApiKeys));
  expect_invalid(decode_seq(encode_execution({5, "id"}), kFunctions));
}

TEST(SeqCursor, MalformedCursorsAreRejected) {
  for (std::string raw : {"", "f1:", "f1:-1", "f1:12x", "f1: 1", "f1:99999999999999999999", "f2:1",
                          "F1:1", "f1:1:2"}) {
    SCOPED_TRACE(raw);
    expect_invalid(decode_seq(base64url_encode(raw), kFunctions));
  }
  expect_invalid(decode_seq(std::string("not base64!"), kFunctions));
  expect_invalid(decode_seq(std::string("f1:1"), kFunctions));  // plain text, not encoded
}

TEST(ExecutionCursor, RoundTripsTheKeysetKey) {
  ExecutionKey key{1'700'000'000'123'456, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"};
  std::string c = encode_execution(key);
  EXPECT_EQ(c, base64url_encode("e1:1700000000123456:" + key.id));
  auto back = decode_execution(c);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ(**back, key);

  // started_at may be anything a clock gave, negative included; the id keeps its colons.
  ExecutionKey odd{-5, "a:b"};
  auto odd_back = decode_execution(encode_execution(odd));
  ASSERT_TRUE(odd_back.ok());
  EXPECT_EQ(**odd_back, odd);
}

TEST(ExecutionCursor, NoCursorIsNoKey) {
  auto r = decode_execution(std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(ExecutionCursor, MalformedCursorsAreRejected) {
  for (std::string raw : {"", "e1:", "e1:5", "e1:5:", "e1::id", "e1:x:id", "e2:5:id", "f1:5"}) {
    SCOPED_TRACE(raw);
    auto r = decode_execution(base64url_encode(raw));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidCursor);
  }
}

}  // namespace
}  // namespace nil::store::cursor
