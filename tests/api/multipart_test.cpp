#include "api/multipart.h"

#include <gtest/gtest.h>

namespace nil::api {
namespace {

TEST(Multipart, BoundaryFromContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"x y\""), "x y");
  EXPECT_FALSE(multipart_boundary("multipart/form-data"));
  EXPECT_FALSE(multipart_boundary("application/json; boundary=abc"));
  EXPECT_FALSE(multipart_boundary(""));
}

TEST(Multipart, ParsesFieldsAndBinaryFile) {
  static constexpr char kWasm[] = "\0asm\x01\0\0\0\r\n--not-the-boundary";
  std::string wasm(kWasm, sizeof kWasm - 1);
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nhello\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"h.wasm\"\r\n"
      "Content-Type: application/wasm\r\n\r\n" +
      wasm + "\r\n--XyZ--\r\n";
  auto parts = parse_multipart(body, "XyZ");
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "name");
  EXPECT_EQ((*parts)[0].data, "hello");
  EXPECT_FALSE((*parts)[0].filename);
  EXPECT_EQ((*parts)[1].name, "wasm");
  EXPECT_EQ((*parts)[1].filename, "h.wasm");
  EXPECT_EQ((*parts)[1].content_type, "application/wasm");
  EXPECT_EQ((*parts)[1].data, wasm);
}

TEST(Multipart, RejectsMalformedBodies) {
  const char* bad[] = {
      "",                                                                         // nothing
      "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",  // no closing
      "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",              // no name
      "--XyZ\r\nno header end",                                                   // headers open
      "--XyZgarbage",                                                             // bad line
  };
  for (const char* b : bad) {
    auto r = parse_multipart(b, "XyZ");
    ASSERT_FALSE(r.ok()) << b;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidMultipart);
  }
}

}  // namespace
}  // namespace nil::api
