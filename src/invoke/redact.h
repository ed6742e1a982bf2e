// Secret redaction for what an execution records and answers (issue 4): a function may print a
// secret from its environment; its logs, output and error message must not carry it.
//
// Every occurrence of a secret value becomes "***". An occurrence is the secret's bytes, raw or
// in any JSON string spelling: `\uXXXX` escapes (surrogate pairs included) and the short escapes
// (`\"`, `\\`, `\n`, …) are decoded before matching, so "S\u0045CRET" is SECRET (issue 11).
//
// Output is JSON and must stay valid JSON, so it is redacted token by token, never through a
// DOM: the text is tokenised once and every string and key (decoded, and matched again with the
// rule above, for JSON nested inside a string) and every number (by the digits written) is
// checked. A DOM would keep one of two duplicate keys, and "{\"a\":\"SECRET\",\"a\":1}" would
// come back as written with the secret in the member the DOM dropped; 98765432109876543210123
// would become a double whose text no longer shows the digits. Token by token, every member of
// an object is kept, in order, duplicates included, with the secret masked in each. Output with
// no secret comes back byte for byte; output where a secret is spelled by the JSON structure
// itself (a secret like `a","b`) is replaced as a whole by "***".
//
// Logs and error excerpts are cut at a byte cap: the cut happens after redaction and never
// leaves part of a secret — an occurrence straddling the cap is masked whole. The engine
// therefore keeps `slack()` bytes of stderr past the cap (the longest spelling of a secret) so
// that an occurrence straddling the cap is seen whole.
//
// Redaction guards against a function printing a secret by mistake; it cannot stop a function
// that means to leak one (it could print it reversed or base64-encoded): such a function has the
// secret anyway, and http_fetch.
//
// Secrets are at least 4 bytes (the API refuses shorter ones): shorter ones would match
// everywhere. Overlapping occurrences are masked as one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nil::invoke {

class Redactor {
 public:
  explicit Redactor(std::vector<std::string> secrets);
  bool empty() const { return secrets_.empty(); }

  // Free text (error messages, logs below the cap).
  std::string text(std::string_view s) const;
  // JSON text; returned unchanged (same bytes) when it holds no secret. Text that is not JSON is
  // redacted as free text.
  std::string json(std::string s) const;
  // Logs as the engine kept them (up to cap + slack(), maybe with its "\n[logs truncated]"):
  // redacted and cut at `cap` bytes of what the function wrote, then "\n[logs truncated]".
  std::string logs(std::string_view s, size_t cap) const;
  // The first `n` bytes of `s`, redacted, never cut inside a secret.
  std::string excerpt(std::string_view s, size_t n) const;
  // How many bytes past a cap the longest spelling of a secret can reach (6 bytes a byte:
  // `\u00XX`); 0 without secrets.
  size_t slack() const { return slack_; }

 private:
  using Span = std::pair<size_t, size_t>;  // [begin, end) in the text's bytes
  std::vector<Span> spans(std::string_view s) const;
  bool contains(std::string_view s) const { return !spans(s).empty(); }
  // `s` up to `limit` bytes (moved to the end of a span straddling it), spans masked.
  static std::string mask(std::string_view s, const std::vector<Span>& spans, size_t limit);

  std::vector<std::string> secrets_;
  size_t slack_ = 0;
};

}  // namespace nil::invoke
