#include "store/errors.h"

#include <string>

namespace nil::store::errors {
namespace {

std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '\'';
  out += s;
  out += '\'';
  return out;
}

}  // namespace

Error function_not_found(std::string_view ref) {
  return make_error(ErrorCode::kFunctionNotFound, "no function with id or name " + quoted(ref));
}

Error function_not_ready(std::string_view ref, std::string_view status) {
  return make_error(ErrorCode::kFunctionNotReady,
                    "function " + quoted(ref) + " is " + std::string(status) + ", not READY");
}

Error execution_not_found(std::string_view id) {
  return make_error(ErrorCode::kExecutionNotFound, "no execution with id " + quoted(id));
}

Error dead_letter_not_found(std::string_view execution_id) {
  return make_error(ErrorCode::kDeadLetterNotFound,
                    "no dead letter with execution id " + quoted(execution_id));
}

Error environment_not_found(std::string_view ref) {
  return make_error(ErrorCode::kEnvironmentNotFound,
                    "no environment with id or name " + quoted(ref));
}

Error user_not_found(std::string_view ref) {
  return make_error(ErrorCode::kUserNotFound, "no user with id or username " + quoted(ref));
}

Error group_not_found(std::string_view ref) {
  return make_error(ErrorCode::kGroupNotFound, "no group with id or name " + quoted(ref));
}

Error api_key_not_found(std::string_view id) {
  return make_error(ErrorCode::kApiKeyNotFound, "no API key with id " + quoted(id));
}

Error session_not_found() { return make_error(ErrorCode::kSessionNotFound, "no such session"); }

Error not_a_member(std::string_view user_ref, std::string_view group_name) {
  return make_error(ErrorCode::kNotAMember,
                    "user " + quoted(user_ref) + " is not a member of group " + quoted(group_name));
}

Error name_taken(std::string_view what, std::string_view name) {
  std::string article =
      what.empty() || std::string_view("aeiou").find(what[0]) == std::string_view::npos ? "a "
                                                                                        : "an ";
  return make_error(ErrorCode::kNameTaken,
                    article + std::string(what) + " named " + quoted(name) + " already exists");
}

Error unknown_user(std::string_view ref) {
  return make_error(ErrorCode::kUnknownUser, "no user with id or username " + quoted(ref));
}

Error unknown_group(std::string_view ref) {
  return make_error(ErrorCode::kUnknownGroup, "no group with id or name " + quoted(ref));
}

Error unknown_environment(std::string_view ref) {
  return make_error(ErrorCode::kUnknownEnvironment,
                    "no environment with id or name " + quoted(ref));
}

Error duplicate_env_key(std::string_view key) {
  return make_error(ErrorCode::kDuplicateEnvKey, "key " + quoted(key) + " appears twice");
}

Error environment_in_use(std::string_view name, std::string_view function_names) {
  return make_error(
      ErrorCode::kEnvironmentInUse,
      "environment " + quoted(name) + " is attached to functions: " + std::string(function_names));
}

Error invalid_cursor() {
  return make_error(ErrorCode::kInvalidCursor, "the cursor is not one this server produced");
}

Error corrupt(std::string_view what, std::string_view value) {
  return storage_error("unexpected " + std::string(what) + " " + quoted(value) +
                       " in the database");
}

Error storage_error(std::string message) {
  return make_error(ErrorCode::kStorageError, std::move(message));
}

}  // namespace nil::store::errors
