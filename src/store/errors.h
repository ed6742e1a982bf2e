// The errors every store backend returns, built in one place so that a code and its message
// read the same whichever backend answers (docs/storage.md lists them).
//
// `storage_error` is the backend's own failure (I/O, lock timeout, corrupt value); everything
// else is the caller's: a missing row, a taken name, a bad reference or cursor.
#pragma once

#include <string>
#include <string_view>

#include "common/expected.h"

namespace nil::store::errors {

Error function_not_found(std::string_view ref);
Error function_not_ready(std::string_view ref, std::string_view status);
Error execution_not_found(std::string_view id);
Error dead_letter_not_found(std::string_view execution_id);
Error environment_not_found(std::string_view ref);
Error user_not_found(std::string_view ref);
Error group_not_found(std::string_view ref);
Error api_key_not_found(std::string_view id);
Error session_not_found();
Error not_a_member(std::string_view user_ref, std::string_view group_name);

// `what` names the kind of resource in the message: "function", "environment", "user", "group".
Error name_taken(std::string_view what, std::string_view name);

Error unknown_user(std::string_view ref);
Error unknown_group(std::string_view ref);
Error unknown_environment(std::string_view ref);
Error duplicate_env_key(std::string_view key);
Error environment_in_use(std::string_view name, std::string_view function_names);

Error invalid_cursor();

// A value read back that this build cannot interpret (a status it does not know).
Error corrupt(std::string_view what, std::string_view value);
Error storage_error(std::string message);

}  // namespace nil::store::errors
