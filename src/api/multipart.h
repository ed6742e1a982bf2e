// multipart/form-data (RFC 7578) parsing for the deploy form. Pure function over bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"

namespace nil::api {

struct FormPart {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
  std::string data;
};

// Extracts the boundary parameter from a Content-Type value; nullopt if absent.
std::optional<std::string> multipart_boundary(std::string_view content_type);
// Errors: invalid_multipart.
Expected<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary);

}  // namespace nil::api
