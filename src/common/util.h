// Small shared primitives: ids, time, hashing, encodings. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nil {

// A random UUID v4 (OpenSSL's CSPRNG), lower-case, with dashes.
std::string new_uuid();
// A UUID v7 (RFC 9562): 48 bits of Unix milliseconds, then 74 CSPRNG bits; lower-case, with
// dashes. Ids made later sort after earlier ones (to the millisecond), so a table keyed by them
// appends at the right edge of its primary-key index instead of writing a random leaf page per
// row: execution records use them (the group-commit writer's main per-row cost otherwise).
std::string new_uuid_v7();
bool is_uuid(std::string_view s);

// Microseconds since the Unix epoch (system clock): the unit every stored timestamp uses.
int64_t now_micros();
// RFC 3339 in UTC with milliseconds: 2026-11-23T19:15:31.123Z
std::string format_rfc3339(int64_t micros);

std::string sha256_hex(std::string_view bytes);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(
    std::string_view text);  // standard alphabet; padding optional
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace nil
