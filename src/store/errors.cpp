#include "store/errors.h"

#include <string>

namespace nil::store::errors {
namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

Error function_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "function_not_found",
                    "no function with id or name " + quoted(ref));
}

Error function_not_ready(std::string_view ref, std::string_view status) {
  return make_error(ErrorKind::kConflict, "function_not_ready",
                    "function " + quoted(ref) + " is " + std::string(status) + ", not READY");
}

Error execution_not_found(std::string_view id) {
  return make_error(ErrorKind::kNotFound, "execution_not_found",
                    "no execution with id " + quoted(id));
}

Error environment_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "environment_not_found",
                    "no environment with id or name " + quoted(ref));
}

Error user_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "user_not_found",
                    "no user with id or username " + quoted(ref));
}

Error group_not_found(std::string_view ref) {
  return make_error(ErrorKind::kNotFound, "group_not_found",
                    "no group with id or name " + quoted(ref));
}

Error api_key_not_found(std::string_view id) {
  return make_error(ErrorKind::kNotFound, "api_key_not_found", "no API key with id " + quoted(id));
}

Error session_not_found() {
  return make_error(ErrorKind::kNotFound, "session_not_found", "no such session");
}

Error not_a_member(std::string_view user_ref, std::string_view group_name) {
  return make_error(ErrorKind::kNotFound, "not_a_member",
                    "user " + quoted(user_ref) + " is not a member of group " + quoted(group_name));
}

Error name_taken(std::string_view what, std::string_view name) {
  std::string article = what.empty() || std::string_view("aeiou").find(what[0]) ==
                                            std::string_view::npos
                            ? "a "
                            : "an ";
  return make_error(ErrorKind::kConflict, "name_taken",
                    article + std::string(what) + " named " + quoted(name) + " already exists");
}

Error unknown_user(std::string_view ref) {
  return make_error(ErrorKind::kInvalidInput, "unknown_user",
                    "no user with id or username " + quoted(ref));
}

Error unknown_group(std::string_view ref) {
  return make_error(ErrorKind::kInvalidInput, "unknown_group",
                    "no group with id or name " + quoted(ref));
}

Error unknown_environment(std::string_view ref) {
  return make_error(ErrorKind::kInvalidInput, "unknown_environment",
                    "no environment with id or name " + quoted(ref));
}

Error duplicate_env_key(std::string_view key) {
  return make_error(ErrorKind::kInvalidInput, "duplicate_env_key",
                    "key " + quoted(key) + " appears twice");
}

Error environment_in_use(std::string_view name, std::string_view function_names) {
  return make_error(ErrorKind::kConflict, "environment_in_use",
                    "environment " + quoted(name) + " is attached to functions: " +
                        std::string(function_names));
}

Error invalid_cursor() {
  return make_error(ErrorKind::kInvalidInput, "invalid_cursor",
                    "the cursor is not one this server produced");
}

Error corrupt(std::string_view what, std::string_view value) {
  return storage_error("unexpected " + std::string(what) + " " + quoted(value) +
                       " in the database");
}

Error storage_error(std::string message) {
  return make_error(ErrorKind::kInternal, "storage_error", std::move(message));
}

}  // namespace nil::store::errors
