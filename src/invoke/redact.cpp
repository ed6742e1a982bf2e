#include "invoke/redact.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <cstdint>
#include <functional>
#include <optional>

namespace nil::invoke {

namespace json = boost::json;

namespace {

constexpr std::string_view kMask = "***";
constexpr std::string_view kTruncated = "\n[logs truncated]";

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The 4 hex digits at s[at..at+4) as a code unit, or -1.
long hex4(std::string_view s, size_t at) {
  if (at + 4 > s.size()) return -1;
  long v = 0;
  for (size_t i = 0; i < 4; ++i) {
    int h = hex(s[at + i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// `s` with its JSON string escapes decoded; byte i of the result came from raw bytes
// [from[i], to[i]) of `s`. Anything that is not a complete, valid escape stays as it is.
struct Decoded {
  std::string text;
  std::vector<size_t> from, to;
};

Decoded decode_escapes(std::string_view s) {
  Decoded d;
  d.text.reserve(s.size());
  auto emit = [&d](std::string_view bytes, size_t begin, size_t end) {
    for (char c : bytes) {
      d.text += c;
      d.from.push_back(begin);
      d.to.push_back(end);
    }
  };
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      emit(s.substr(i, 1), i, i + 1);
      ++i;
      continue;
    }
    char e = s[i + 1];
    const char* simple = nullptr;
    switch (e) {
      case '"':
        simple = "\"";
        break;
      case '\\':
        simple = "\\";
        break;
      case '/':
        simple = "/";
        break;
      case 'b':
        simple = "\b";
        break;
      case 'f':
        simple = "\f";
        break;
      case 'n':
        simple = "\n";
        break;
      case 'r':
        simple = "\r";
        break;
      case 't':
        simple = "\t";
        break;
      default:
        break;
    }
    if (simple != nullptr) {
      emit(simple, i, i + 2);
      i += 2;
      continue;
    }
    long u = e == 'u' ? hex4(s, i + 2) : -1;
    if (u >= 0 && (u < 0xD800 || u > 0xDFFF)) {
      std::string bytes;
      append_utf8(bytes, static_cast<uint32_t>(u));
      emit(bytes, i, i + 6);
      i += 6;
      continue;
    }
    if (u >= 0xD800 && u <= 0xDBFF && i + 7 < s.size() && s[i + 6] == '\\' && s[i + 7] == 'u') {
      long low = hex4(s, i + 8);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        std::string bytes;
        append_utf8(bytes, 0x10000 + ((static_cast<uint32_t>(u) - 0xD800) << 10) +
                               (static_cast<uint32_t>(low) - 0xDC00));
        emit(bytes, i, i + 12);
        i += 12;
        continue;
      }
    }
    emit(s.substr(i, 1), i, i + 1);  // not an escape: the backslash is itself
    ++i;
  }
  return d;
}

// Every occurrence of `what` in `in` (overlapping ones too), as [begin, end) in `in`.
template <typename F>
void find_all(std::string_view in, std::string_view what, F&& found) {
  for (size_t at = in.find(what); at != std::string_view::npos; at = in.find(what, at + 1)) {
    found(at, at + what.size());
  }
}

// A JSON string literal for `s` (valid UTF-8 from the parser, or masked text).
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

}  // namespace

Redactor::Redactor(std::vector<std::string> secrets) {
  std::erase_if(secrets, [](const std::string& s) { return s.empty(); });
  std::sort(secrets.begin(), secrets.end());
  secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
  for (const auto& s : secrets) slack_ = std::max(slack_, 6 * s.size());
  secrets_ = std::move(secrets);
}

std::vector<Redactor::Span> Redactor::spans(std::string_view s) const {
  std::vector<Span> found;
  if (secrets_.empty()) return found;
  for (const auto& secret : secrets_) {
    find_all(s, secret, [&](size_t b, size_t e) { found.emplace_back(b, e); });
  }
  if (s.find('\\') != std::string_view::npos) {
    Decoded d = decode_escapes(s);
    for (const auto& secret : secrets_) {
      find_all(d.text, secret,
               [&](size_t b, size_t e) { found.emplace_back(d.from[b], d.to[e - 1]); });
    }
  }
  if (found.empty()) return found;
  std::sort(found.begin(), found.end());
  std::vector<Span> merged{found.front()};
  for (size_t i = 1; i < found.size(); ++i) {
    if (found[i].first < merged.back().second) {
      merged.back().second = std::max(merged.back().second, found[i].second);
    } else {
      merged.push_back(found[i]);
    }
  }
  return merged;
}

std::string Redactor::mask(std::string_view s, const std::vector<Span>& spans, size_t limit) {
  limit = std::min(limit, s.size());
  std::string out;
  out.reserve(limit);
  size_t at = 0;
  for (const auto& [b, e] : spans) {
    if (b >= limit) break;  // starts past the cut: dropped with it
    out.append(s.substr(at, b - at));
    out.append(kMask);
    at = e;
    limit = std::max(limit, e);  // straddles the cut: masked whole, the cut moves past it
  }
  if (at < limit) out.append(s.substr(at, limit - at));
  return out;
}

std::string Redactor::text(std::string_view s) const {
  return mask(s, spans(s), std::string_view::npos);
}

std::string Redactor::excerpt(std::string_view s, size_t n) const {
  std::string_view head = s.substr(0, std::min(s.size(), n + slack_));
  return mask(head, spans(head), n);
}

std::string Redactor::logs(std::string_view s, size_t cap) const {
  if (s.size() <= cap) return text(s);
  return excerpt(s, cap) + std::string(kTruncated);
}

namespace {

// Re-serialises the JSON it is parsed from, token by token, with secrets masked in every
// string, key and number (basic_parser handler). Whitespace is dropped; numbers keep their text.
class RedactingWriter {
 public:
  // NOLINTBEGIN(readability-identifier-naming): names required by boost::json::basic_parser.
  static constexpr size_t max_object_size = size_t(-1);
  static constexpr size_t max_array_size = size_t(-1);
  static constexpr size_t max_key_size = size_t(-1);
  static constexpr size_t max_string_size = size_t(-1);
  // NOLINTEND(readability-identifier-naming)

  // `redact` answers the masked text of a decoded string, or nullopt when it holds no secret;
  // `number_hit` whether a number's text holds one.
  template <typename R, typename N>
  RedactingWriter(R redact, N number_hit) : redact_(redact), number_hit_(number_hit) {}

  std::string out;
  bool hit = false;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return open('['); }
  bool on_array_end(size_t, json::error_code&) { return close(']'); }
  bool on_object_begin(json::error_code&) { return open('{'); }
  bool on_object_end(size_t, json::error_code&) { return close('}'); }
  bool on_string_part(json::string_view s, size_t, json::error_code&) { return part(s); }
  bool on_string(json::string_view s, size_t, json::error_code&) { return string(s, false); }
  bool on_key_part(json::string_view s, size_t, json::error_code&) { return part(s); }
  bool on_key(json::string_view s, size_t, json::error_code&) { return string(s, true); }
  bool on_number_part(json::string_view s, json::error_code&) { return part(s); }
  bool on_int64(int64_t, json::string_view s, json::error_code&) { return number(s); }
  bool on_uint64(uint64_t, json::string_view s, json::error_code&) { return number(s); }
  bool on_double(double, json::string_view s, json::error_code&) { return number(s); }
  bool on_bool(bool b, json::error_code&) { return literal(b ? "true" : "false"); }
  bool on_null(json::error_code&) { return literal("null"); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  // A comma before every value but the first of its container, none after a key.
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out += ',';
      first_.back() = false;
    }
  }
  bool open(char c) {
    separate();
    out += c;
    first_.push_back(true);
    return true;
  }
  bool close(char c) {
    first_.pop_back();
    out += c;
    return true;
  }
  bool part(json::string_view s) {
    buf_.append(s.data(), s.size());
    return true;
  }
  bool string(json::string_view s, bool key) {
    buf_.append(s.data(), s.size());
    separate();
    if (auto masked = redact_(buf_)) {
      hit = true;
      append_json_string(out, *masked);
    } else {
      append_json_string(out, buf_);
    }
    buf_.clear();
    if (key) {
      out += ':';
      after_key_ = true;
    }
    return true;
  }
  bool number(json::string_view s) {
    buf_.append(s.data(), s.size());
    separate();
    if (number_hit_(buf_)) {
      hit = true;
      out += "\"***\"";
    } else {
      out += buf_;
    }
    buf_.clear();
    return true;
  }
  bool literal(std::string_view s) {
    separate();
    out += s;
    return true;
  }

  std::function<std::optional<std::string>(std::string_view)> redact_;
  std::function<bool(std::string_view)> number_hit_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
  std::string buf_;  // the string, key or number being received in parts
};

}  // namespace

std::string Redactor::json(std::string s) const {
  if (secrets_.empty()) return s;
  auto redact = [this](std::string_view str) -> std::optional<std::string> {
    auto found = spans(str);
    if (found.empty()) return std::nullopt;
    return mask(str, found, std::string_view::npos);
  };
  auto number_hit = [this](std::string_view num) { return contains(num); };
  json::parse_options opts;
  opts.max_depth = size_t(-1);  // the writer keeps no recursion; the engine bounds the size
  json::basic_parser<RedactingWriter> parser(opts, redact, number_hit);
  json::error_code ec;
  parser.write_some(false, s.data(), s.size(), ec);
  if (ec) return text(s);
  RedactingWriter& w = parser.handler();
  // No token holds a secret: the text is returned as written, unless the secret is spelled by
  // the structure across tokens (then, as when the re-written text still holds it, the whole
  // output goes: masking part of the structure would not leave JSON).
  if (!w.hit && !contains(s)) return s;
  if (contains(w.out)) return std::string("\"") + std::string(kMask) + "\"";
  return std::move(w.out);
}

}  // namespace nil::invoke
