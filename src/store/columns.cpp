#include "store/columns.h"

#include <sstream>

#include "common/util.h"
#include "store/errors.h"

namespace nil::store::columns {

std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += '\n';
    out += i;
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

Expected<FunctionStatus> parse_function_status(std::string_view s) {
  for (auto v : {FunctionStatus::kPending, FunctionStatus::kCompiling, FunctionStatus::kReady,
                 FunctionStatus::kFailed}) {
    if (s == to_string(v)) return v;
  }
  return errors::corrupt("function status", s);
}

Expected<CompileJobState> parse_job_state(std::string_view s) {
  for (auto v : {CompileJobState::kPending, CompileJobState::kRunning}) {
    if (s == to_string(v)) return v;
  }
  return errors::corrupt("compile job state", s);
}

Expected<ExecutionStatus> parse_execution_status(std::string_view s) {
  for (auto v : {ExecutionStatus::kSucceeded, ExecutionStatus::kFailed, ExecutionStatus::kQueued,
                 ExecutionStatus::kRunning}) {
    if (s == to_string(v)) return v;
  }
  return errors::corrupt("execution status", s);
}

Expected<Role> parse_stored_role(std::string_view s) {
  auto role = parse_role(s);
  if (!role) return errors::corrupt("user role", s);
  return *role;
}

std::string format_retry(const RetryPolicy& r) {
  return std::to_string(r.max_attempts) + " " + std::string(to_string(r.backoff)) + " " +
         std::to_string(r.initial_delay_ms) + " " + std::to_string(r.max_delay_ms) + " " +
         std::to_string(r.max_event_age_s);
}

std::string new_callback_secret() {
  // Two random UUIDs carry 244 CSPRNG bits; their SHA-256 is the 32-byte key.
  std::string hex = sha256_hex(new_uuid() + new_uuid());
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return "whsec_" + base64_encode(bytes);
}

Expected<RetryPolicy> parse_retry(std::string_view s) {
  RetryPolicy r;
  if (s.empty()) return r;
  std::istringstream in{std::string(s)};
  std::string backoff;
  uint64_t attempts = 0, initial = 0, max_delay = 0, age = 0;
  if (!(in >> attempts >> backoff >> initial >> max_delay >> age) ||
      (backoff != "exponential" && backoff != "fixed"))
    return errors::corrupt("retry policy", s);
  r.max_attempts = static_cast<uint32_t>(attempts);
  r.backoff = backoff == "fixed" ? Backoff::kFixed : Backoff::kExponential;
  r.initial_delay_ms = static_cast<uint32_t>(initial);
  r.max_delay_ms = static_cast<uint32_t>(max_delay);
  r.max_event_age_s = static_cast<uint32_t>(age);
  return r;
}

}  // namespace nil::store::columns
