// Secret redaction for what an execution records and answers (issue 4): a function may print a
// secret from its environment; its logs, output and error message must not carry it.
//
// Every occurrence of a secret value becomes "***". The output is JSON and must stay valid JSON,
// so it is redacted by value, not by text: it is parsed, every string (and object key) has the
// secret replaced, and a number whose text contains a secret becomes the string "***". Escapes
// cannot hide a secret there ("\u0073ecret" decodes before the match). Logs are text: the raw
// value and its JSON-escaped form (a function logging JSON) are both replaced.
//
// Secrets are at least 4 bytes (the API refuses shorter ones): shorter ones would match
// everywhere. Longer secrets are replaced first so that one containing another is masked whole.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nil::invoke {

class Redactor {
 public:
  explicit Redactor(std::vector<std::string> secrets);
  bool empty() const { return secrets_.empty(); }

  // Free text (logs, error messages).
  std::string text(std::string_view s) const;
  // JSON text; returned unchanged (same bytes) when it holds no secret. Text that is not JSON is
  // redacted as free text.
  std::string json(std::string s) const;

 private:
  std::vector<std::string> secrets_;  // longest first
  std::vector<std::string> escaped_;  // JSON-escaped forms (without quotes), same order
};

}  // namespace nil::invoke
