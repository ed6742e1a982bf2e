// How values that have no column type of their own are stored, shared by every backend:
// enum states as upper-case text, token lists as newline-separated text. A value this build
// cannot parse back is a storage_error (the database was written by something else).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "store/store.h"

namespace nil::store::columns {

// functions.http_allow / grants, users.grants: newline-separated tokens ('' is the empty list).
// The API admits no whitespace in a token.
std::string join_lines(const std::vector<std::string>& items);
std::vector<std::string> split_lines(std::string_view text);

Expected<FunctionStatus> parse_function_status(std::string_view s);
Expected<CompileJobState> parse_job_state(std::string_view s);
Expected<ExecutionStatus> parse_execution_status(std::string_view s);
Expected<Role> parse_stored_role(std::string_view s);

// functions.retry: "maxAttempts backoff initialDelayMs maxDelayMs maxEventAgeS"
// ("3 exponential 60000 300000 21600"); '' reads as the defaults.
std::string format_retry(const RetryPolicy& r);
// A fresh callback signing key: "whsec_" + base64 of 32 bytes from the CSPRNG.
std::string new_callback_secret();
Expected<RetryPolicy> parse_retry(std::string_view s);

}  // namespace nil::store::columns
