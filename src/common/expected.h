// nil::Expected<T> — the one error model of NIL.
//
// Expected failures (bad input, a missing row, a compile error) are values, never exceptions on
// the request path. An Error carries a kind (which the API maps to an HTTP status in exactly one
// place: src/api/problem.cpp), a stable snake_case code that is part of the public API, and a
// human-readable message.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace nil {

enum class ErrorKind {
  kInvalidInput,  // the caller sent something wrong (400)
  kNotFound,      // no such resource (404)
  kConflict,      // the resource's state forbids it (409)
  kTooLarge,      // over a size limit (413)
  kUnsupported,   // wrong media type (415)
  kUnavailable,   // shutting down, overloaded (503)
  kUnauthenticated,  // no or bad credentials (401)
  kForbidden,     // authenticated, but not allowed (403)
  kRateLimited,   // too many requests (429, with retry_after_s)
  kInternal,      // our bug or the machine's fault (500)
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string code;     // stable snake_case, documented in docs/errors.md
  std::string message;  // for humans; may change between versions
  int64_t retry_after_s = 0;  // kRateLimited: the Retry-After header's seconds
};

inline Error make_error(ErrorKind kind, std::string code, std::string message) {
  return Error{kind, std::move(code), std::move(message), 0};
}

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Expected(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

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
#define NIL_TRY(expr)                                      \
  ({                                                       \
    auto nil_try_result_ = (expr);                         \
    if (!nil_try_result_.ok()) return std::move(nil_try_result_).error(); \
    std::move(nil_try_result_).value();                    \
  })

#define NIL_TRY_VOID(expr)                                 \
  do {                                                     \
    auto nil_try_result_ = (expr);                         \
    if (!nil_try_result_.ok()) return std::move(nil_try_result_).error(); \
  } while (0)

// The assertion ladder:
//  - NIL_ASSERT(cond): our own invariants, checked in debug builds only.
//  - NIL_CHECK(cond, why): must never happen, checked always; aborts with the reason.
//  - user input is never asserted on: it gets an Error.
#define NIL_CHECK(cond, why)                                                       \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "NIL_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   #cond, why);                                                    \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

#ifdef NDEBUG
#define NIL_ASSERT(cond) ((void)0)
#else
#define NIL_ASSERT(cond) NIL_CHECK(cond, "debug assertion")
#endif
