#include "common/error_code.h"

#include <ostream>

namespace nil {

namespace {

constexpr bool rows_in_enum_order() {
  for (size_t i = 0; i < kErrorCodeCount; ++i) {
    if (static_cast<size_t>(kErrorCodes[i].code) != i) return false;
  }
  return true;
}
static_assert(rows_in_enum_order(), "kErrorCodes[i] must describe ErrorCode i");

}  // namespace

std::ostream& operator<<(std::ostream& os, ErrorCode code) {
  if (code == ErrorCode::kForeign) return os << "(foreign)";
  return os << to_string(code);
}

}  // namespace nil
