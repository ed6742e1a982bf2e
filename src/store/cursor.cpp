#include "store/cursor.h"

#include <charconv>

#include "common/util.h"
#include "store/errors.h"

namespace nil::store::cursor {
namespace {

bool parse_int64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string encode_seq(std::string_view kind, int64_t seq) {
  return base64url_encode(std::string(kind) + std::to_string(seq));
}

Expected<int64_t> decode_seq(const std::optional<std::string>& cursor, std::string_view kind) {
  if (!cursor) return int64_t{0};
  auto raw = base64url_decode(*cursor);
  if (!raw || !raw->starts_with(kind)) return errors::invalid_cursor();
  int64_t seq = 0;
  if (!parse_int64(std::string_view(*raw).substr(kind.size()), seq) || seq < 0) {
    return errors::invalid_cursor();
  }
  return seq;
}

std::string encode_execution(const ExecutionKey& key) {
  return base64url_encode("e1:" + std::to_string(key.started_at) + ":" + key.id);
}

Expected<std::optional<ExecutionKey>> decode_execution(const std::optional<std::string>& cursor) {
  if (!cursor) return std::optional<ExecutionKey>{};
  auto raw = base64url_decode(*cursor);
  if (!raw || !raw->starts_with("e1:")) return errors::invalid_cursor();
  std::string_view rest = std::string_view(*raw).substr(3);
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return errors::invalid_cursor();
  ExecutionKey key;
  if (!parse_int64(rest.substr(0, colon), key.started_at)) return errors::invalid_cursor();
  key.id = std::string(rest.substr(colon + 1));
  if (key.id.empty()) return errors::invalid_cursor();
  return std::optional<ExecutionKey>(std::move(key));
}

}  // namespace nil::store::cursor
