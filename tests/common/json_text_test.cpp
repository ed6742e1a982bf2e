// common/json_text.h: the JSON the API answers with and the CLI prints.
#include "common/json_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

namespace nil {
namespace {

namespace json = boost::json;

TEST(JsonText, DoublesArePlainDecimalsNotExponents) {
  EXPECT_EQ(to_json_text(json::value(0.5)), "0.5");
  EXPECT_EQ(to_json_text(json::value(2.0)), "2");
  EXPECT_EQ(to_json_text(json::value(0.1 + 0.2)), "0.30000000000000004");  // shortest round trip
}

TEST(JsonText, DecimalsRoundAndPrintFixed) {
  EXPECT_EQ(to_json_text(json::value(1.23456), 3), "1.235");
  EXPECT_EQ(to_json_text(json::value(0.0004), 3), "0");
  EXPECT_EQ(to_json_text(json::value(1e-7), 3), "0");
  // Past what a small buffer holds in fixed form: still all digits, nothing cut off.
  std::string big = to_json_text(json::value(1e300), 3);
  EXPECT_EQ(big.size(), 301u);
  EXPECT_EQ(big.substr(0, 2), "10");
}

TEST(JsonText, NonFiniteIsNull) {
  EXPECT_EQ(to_json_text(json::value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(to_json_text(json::value(std::nan(""))), "null");
}

TEST(JsonText, StructureAndEverythingElseAsBoostWritesIt) {
  json::value v = json::parse(R"({"a":[1,-2,true,null,"x\"y"],"b":{"c":1.5},"":"é"})");
  EXPECT_EQ(to_json_text(v), R"({"a":[1,-2,true,null,"x\"y"],"b":{"c":1.5},"":"é"})");
  EXPECT_EQ(json::parse(to_json_text(v, 3)), v);
}

}  // namespace
}  // namespace nil
