#include "api/multipart.h"

#include <algorithm>
#include <cctype>

namespace nil::api {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Value of parameter `key` in a header value like `form-data; name="x"; filename="y"`.
std::optional<std::string> header_param(std::string_view value, std::string_view key) {
  size_t pos = 0;
  while (pos < value.size()) {
    size_t semi = value.find(';', pos);
    std::string_view item =
        trim(value.substr(pos, semi == std::string_view::npos ? value.npos : semi - pos));
    pos = semi == std::string_view::npos ? value.size() : semi + 1;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    if (lower(trim(item.substr(0, eq))) != key) continue;
    std::string_view v = trim(item.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
  return std::nullopt;
}

Error bad(std::string msg) { return make_error(ErrorCode::kInvalidMultipart, std::move(msg)); }

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  std::string_view ct = content_type;
  size_t semi = ct.find(';');
  if (lower(trim(ct.substr(0, semi))) != "multipart/form-data" || semi == std::string_view::npos) {
    return std::nullopt;
  }
  auto b = header_param(ct.substr(semi + 1), "boundary");
  if (!b || b->empty() || b->size() > 200) return std::nullopt;
  return b;
}

Expected<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary) {
  const std::string delim = "--" + std::string(boundary);
  std::vector<FormPart> parts;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos) return bad("no multipart boundary found in the body");
  pos += delim.size();
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") return bad("malformed boundary line");
    pos += 2;
    size_t header_end = body.find("\r\n\r\n", pos);
    if (header_end == std::string_view::npos) return bad("part headers not terminated");
    FormPart part;
    std::string_view headers = body.substr(pos, header_end - pos);
    size_t hp = 0;
    while (hp <= headers.size()) {
      size_t eol = headers.find("\r\n", hp);
      std::string_view line =
          headers.substr(hp, eol == std::string_view::npos ? headers.npos : eol - hp);
      hp = eol == std::string_view::npos ? headers.size() + 1 : eol + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string key = lower(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (key == "content-disposition") {
        auto name = header_param(value, "name");
        if (!name) return bad("part without a name");
        part.name = *name;
        part.filename = header_param(value, "filename");
      } else if (key == "content-type") {
        part.content_type = std::string(value);
      }
    }
    if (part.name.empty()) return bad("part without Content-Disposition name");
    size_t data_start = header_end + 4;
    size_t next = body.find("\r\n" + delim, data_start);
    if (next == std::string_view::npos) return bad("part not terminated by the boundary");
    part.data = std::string(body.substr(data_start, next - data_start));
    parts.push_back(std::move(part));
    pos = next + 2 + delim.size();
  }
}

}  // namespace nil::api
