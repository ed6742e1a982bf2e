#include "store/columns.h"

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
  for (auto v : {ExecutionStatus::kSucceeded, ExecutionStatus::kFailed}) {
    if (s == to_string(v)) return v;
  }
  return errors::corrupt("execution status", s);
}

Expected<Role> parse_stored_role(std::string_view s) {
  auto role = parse_role(s);
  if (!role) return errors::corrupt("user role", s);
  return *role;
}

}  // namespace nil::store::columns
