// Fuzz target: the deploy form's multipart parser. Input layout: first line = Content-Type
// value, the rest = body.
#include <cstdint>
#include <string_view>

#include "api/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string_view ct = in.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  if (auto boundary = nil::api::multipart_boundary(ct)) {
    auto parts = nil::api::parse_multipart(body, *boundary);
    if (parts.ok()) {
      for (const auto& p : *parts) {
        if (p.name.empty()) __builtin_trap();  // the parser promises named parts
      }
    }
  }
  return 0;
}
