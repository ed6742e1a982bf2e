// nil::Expected<T> — the one error model of NIL.
//
// Expected failures (bad input, a missing row, a compile error) are values, never exceptions on
// the request path. An Error carries a stable code from the registry (common/error_codes.inc:
// its wire string is part of the public API, its HTTP status is applied in exactly one place,
// src/api/problem.cpp) and a human-readable message.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/error_code.h"

namespace nil {

struct Error {
  ErrorCode code = ErrorCode::kInternalError;
  std::string message;        // for humans; may change between versions
  int64_t retry_after_s = 0;  // a 429: the Retry-After header's seconds
  std::string foreign_code;   // ErrorCode::kForeign only: the wire code (the CLI's)

  // The wire string: for logs and JSON, never for comparisons (compare `code`).
  std::string_view wire_code() const {
    return code == ErrorCode::kForeign ? std::string_view(foreign_code) : to_string(code);
  }
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message), 0, {}};
}

// An error with a code this process does not define: the CLI's own codes and the codes a server
// answered it with. Server code uses make_error.
inline Error make_foreign_error(std::string code, std::string message) {
  return Error{ErrorCode::kForeign, std::move(message), 0, std::move(code)};
}

namespace detail {
[[noreturn]] inline void error_of_value() {
  std::fprintf(stderr, "NIL_CHECK failed: Expected::error() on a value\n");
  std::abort();
}

// Expected::value() on an error is our bug, not the caller's: say which error, then abort.
[[noreturn]] inline void value_of_error(const Error& e) {
  std::fprintf(stderr, "NIL_CHECK failed: Expected::value() on an error: %.*s: %s\n",
               static_cast<int>(e.wire_code().size()), e.wire_code().data(), e.message.c_str());
  std::abort();
}
}  // namespace detail

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Expected(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    if (!ok()) detail::value_of_error(*std::get_if<1>(&v_));
    return *std::get_if<0>(&v_);
  }
  const T& value() const& {
    if (!ok()) detail::value_of_error(*std::get_if<1>(&v_));
    return *std::get_if<0>(&v_);
  }
  T&& value() && {
    if (!ok()) detail::value_of_error(*std::get_if<1>(&v_));
    return std::move(*std::get_if<0>(&v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    if (ok()) detail::error_of_value();
    return *std::get_if<1>(&v_);
  }
  Error&& error() && {
    if (ok()) detail::error_of_value();
    return std::move(*std::get_if<1>(&v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace nil

// NIL_TRY(expr): evaluates an Expected; on error returns the error from the enclosing function,
// otherwise yields the value (GCC/Clang statement expression).
#define NIL_TRY(expr)                                                     \
  ({                                                                      \
    auto nil_try_result_ = (expr);                                        \
    if (!nil_try_result_.ok()) return std::move(nil_try_result_).error(); \
    std::move(nil_try_result_).value();                                   \
  })

#define NIL_TRY_VOID(expr)                                                \
  do {                                                                    \
    auto nil_try_result_ = (expr);                                        \
    if (!nil_try_result_.ok()) return std::move(nil_try_result_).error(); \
  } while (0)

// The assertion ladder:
//  - NIL_ASSERT(cond): our own invariants, checked in debug builds only.
//  - NIL_CHECK(cond, why): must never happen, checked always; aborts with the reason.
//  - user input is never asserted on: it gets an Error.
#define NIL_CHECK(cond, why)                                                                  \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "NIL_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   why);                                                                      \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

#ifdef NDEBUG
#define NIL_ASSERT(cond) ((void)0)
#else
#define NIL_ASSERT(cond) NIL_CHECK(cond, "debug assertion")
#endif
