// nil::auth — who is calling, and what they may do (issue 5).
//
// - Credentials: API keys ("nil_" + 43 base64url characters = 32 random bytes) and browser
//   sessions (a random token in the nil_session cookie plus a CSRF token). Only SHA-256 hashes
//   of either are stored. A key is found by its non-secret prefix (the first 12 characters) and
//   then matched by comparing hashes in constant time over every candidate: knowing a prefix
//   gets an attacker nothing, and the comparison leaks no timing.
// - Passwords: argon2id via libsodium's crypto_pwhash_str (interactive limits).
// - can_access: the permission rule of seed 001, a pure function.
// - Authenticator: the request-path lookups. Keys are cached in memory (prefix → key hash and
//   principal) so the execute hot path costs one SHA-256 and a hash-map probe; every change that
//   affects a principal (revoke, user delete, role/grant change, membership change) invalidates
//   the cache at once. A key's last-used time is queued and written by a background thread, at
//   most once per key per touch interval.
// - RateLimiter (token buckets) and LoginThrottle (failed logins per username and per address).
//
// Time: every expiry, rate and throttle decision here reads the injected nil::Clock
// (common/clock.h), never std::chrono directly: now_micros() for what is compared with stored
// times (a key's expiresAt, a session's createdAt and lastSeenAt), steady_now() for token buckets
// and throttle windows. Production code passes SystemClock::instance() (the default); tests pass a
// ManualClock and advance() it instead of sleeping. The clock must outlive the object.
//
// Threads: every class here is thread-safe. Who calls: api (per request), nild (bootstrap, the
// `nild keys create` command).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/expected.h"
#include "store/store.h"

namespace nil::auth {

// The caller of one request.
struct Principal {
  enum class Method { kApiKey, kSession };

  std::string user_id;
  std::string username;
  store::Role role = store::Role::kDev;
  std::vector<std::string> grants;  // "deploy"
  std::vector<std::string> group_ids;
  Method method = Method::kApiKey;
  std::string credential_id;  // the API key id or the session id
  std::string csrf_hash_hex;  // sessions only: SHA-256 of the session's CSRF token

  bool is_admin() const { return role == store::Role::kAdmin; }
  bool has_grant(std::string_view g) const;
};

// Seed 001's rule: admin → always; allowedUsers and allowedGroups both empty → every
// authenticated user; otherwise the user is listed or is a member of a listed group.
bool can_access(const Principal& p, const store::AccessList& resource);

// Admins, and devs holding the "deploy" grant, may create functions (docs/security.md).
bool can_deploy(const Principal& p);

// Who may change a function's code or settings, or delete it (docs/security.md, "Managing a
// function"): admins; its owner (the user who created it); users listed in its `managers`.
// Seeing a function (can_access) is not enough: an empty access list lets everyone see it.
bool can_manage(const Principal& p, const store::Function& f);

// --- primitives ----------------------------------------------------------------------------------

// libsodium's sodium_init(), once per process; false if the library cannot start.
bool init_crypto();

// An argon2id hash string (self-describing: algorithm, limits and salt included).
Expected<std::string> hash_password(std::string_view password);
bool verify_password(const std::string& hash, std::string_view password);

// Constant-time equality of equal-length byte strings (sodium_memcmp); different lengths are
// unequal at once (lengths are not secret: every hash here has the same length).
bool constant_time_equal(std::string_view a, std::string_view b);

// `bytes` random bytes (libsodium's CSPRNG), base64url without padding.
std::string random_token(size_t bytes);

std::string sha256_raw(std::string_view data);  // 32 bytes

constexpr std::string_view kKeyPrefix = "nil_";
constexpr size_t kKeyLookupChars = 12;  // "nil_" + 8 characters: the stored, non-secret prefix

struct GeneratedKey {
  std::string token;     // shown once
  std::string prefix;    // token's first kKeyLookupChars characters
  std::string hash_hex;  // SHA-256 of the whole token
};
GeneratedKey generate_api_key();

// The lookup prefix of a well-formed key; nullopt for anything that is not "nil_" + 43
// base64url characters.
std::optional<std::string> api_key_prefix(std::string_view token);

// Where a request carries its credentials (api::Api::authenticate; fuzzed by fuzz_credentials).
// The token of an Authorization header value "Bearer <token>" (the scheme in any case, the
// spaces after it skipped; the token may be empty); nullopt when it is not a Bearer credential.
std::optional<std::string_view> bearer_token(std::string_view authorization);
// The value of the first `name=value` pair in a Cookie header value ("a=1; b=2"), or "".
std::string_view cookie_value(std::string_view cookie_header, std::string_view name);

// Index of the candidate whose hash is the token's, or -1. Compares against EVERY candidate in
// constant time (no early exit, no short-circuit on the prefix, which every candidate shares).
int match_api_key(std::string_view token, std::span<const std::string> candidate_hash_hex);

// A new key for `user_ref` (id or username), stored hashed; returns the row and the token.
struct CreatedKey {
  store::ApiKey key;
  std::string token;
};
Expected<CreatedKey> create_api_key(store::Store& store, std::string_view user_ref,
                                    std::string_view name, std::optional<int64_t> expires_at);

// First start: when the store has no user, creates `admin` with `password` (from
// NIL_ADMIN_PASSWORD) or, when that is empty, a generated one, returned so that the caller
// prints it once. nullopt when users existed or the password was given.
Expected<std::optional<std::string>> ensure_admin(store::Store& store, std::string_view password);

// --- request-path authentication ----------------------------------------------------------------

struct AuthSettings {
  std::chrono::milliseconds session_idle{30 * 60 * 1000};
  std::chrono::milliseconds session_absolute{12 * 60 * 60 * 1000};
  std::chrono::milliseconds key_touch_interval{60'000};  // last_used_at write period per key
};

struct LoginResult {
  store::User user;
  std::string session_token;  // the cookie value
  std::string csrf_token;
};

class Authenticator {
 public:
  Authenticator(store::Store& store, AuthSettings settings,
                const Clock& clock = SystemClock::instance());
  ~Authenticator();  // stop()
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // "nil_…" → its principal (shared with the cache: no copy on the hot path). unauthorized for
  // an unknown, malformed, revoked or expired key.
  Expected<std::shared_ptr<const Principal>> authenticate_key(std::string_view token);
  // The nil_session cookie's value → its principal; unauthorized when unknown or expired (an
  // expired session is deleted).
  Expected<std::shared_ptr<const Principal>> authenticate_session(std::string_view token);
  // The X-CSRF-Token header against the session's token, in constant time.
  static bool check_csrf(const Principal& p, std::string_view csrf_token);

  // invalid_credentials on a wrong username or password (the same answer for both).
  Expected<LoginResult> login(std::string_view username, std::string_view password);
  Expected<void> logout(const Principal& p);

  // Cached principals change: a key revoked, a user deleted or changed, a membership changed.
  void invalidate_key(std::string_view key_id);
  void invalidate_all();

  // Writes queued last-used times now (GET /api-keys calls it so that it reads them).
  void flush_last_used();
  void stop();

  // The clock every decision here reads (the API's limiters share it).
  const Clock& clock() const { return clock_; }

 private:
  struct CachedKey {
    std::string key_id;
    std::string hash_raw;  // 32 bytes
    std::optional<int64_t> expires_at;
    std::shared_ptr<const Principal> principal;
    std::shared_ptr<std::atomic<int64_t>> last_touch;  // when its use was last queued (µs)
  };
  Expected<Principal> principal_for(const store::User& u, Principal::Method m, std::string cred);
  void note_use(const CachedKey& k, int64_t now);
  void run_flusher();

  store::Store& store_;
  AuthSettings settings_;
  const Clock& clock_;

  std::shared_mutex mu_;
  uint64_t generation_ = 0;
  std::unordered_map<std::string, std::vector<CachedKey>> by_prefix_;

  std::mutex touch_mu_;
  std::condition_variable touch_cv_;
  std::unordered_map<std::string, int64_t> pending_touch_;
  bool stopping_ = false;
  std::thread flusher_;
};

// --- limits --------------------------------------------------------------------------------------

// Bounds the password hashes (argon2id: 64 MiB and tens of ms of a core each) running at once.
// try_acquire() never waits: past the bound the caller answers 429 at once.
class HashSlots {
 public:
  explicit HashSlots(int max) : max_(max < 1 ? 1 : max) {}
  class Permit {
   public:
    explicit Permit(HashSlots* s) : slots_(s) {}
    Permit(Permit&& o) noexcept : slots_(std::exchange(o.slots_, nullptr)) {}
    Permit& operator=(Permit&&) = delete;
    ~Permit() {
      if (slots_) slots_->used_.fetch_sub(1);
    }

   private:
    HashSlots* slots_;
  };
  std::optional<Permit> try_acquire() {
    int used = used_.load();
    while (used < max_) {
      if (used_.compare_exchange_weak(used, used + 1)) return Permit(this);
    }
    return std::nullopt;
  }
  int max() const { return max_; }

 private:
  int max_;
  std::atomic<int> used_{0};
};

// Token buckets by key: `rate` tokens per second up to `burst`. rate 0 disables the limiter.
class RateLimiter {
 public:
  RateLimiter(double rate, double burst, const Clock& clock = SystemClock::instance());
  bool enabled() const { return rate_ > 0; }
  // 0 when a token was taken; otherwise whole seconds until one is available (≥ 1).
  int64_t acquire(std::string_view key);

 private:
  struct Bucket {
    double tokens;
    Clock::SteadyTime last;
  };
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  double rate_;
  double burst_;
  const Clock& clock_;
  Shard shards_[kShards];
};

// Failed logins counted per username and per client address over a window; past the limit
// further attempts are refused (login_throttled) until the window since the first failure ends.
class LoginThrottle {
 public:
  LoginThrottle(int max_per_user, int max_per_address, std::chrono::milliseconds window,
                const Clock& clock = SystemClock::instance());
  // 0 when an attempt may proceed, otherwise seconds until it may (≥ 1).
  int64_t blocked_for(std::string_view username, std::string_view address);
  void failure(std::string_view username, std::string_view address);
  void success(std::string_view username);

 private:
  struct Counter {
    int failures = 0;
    Clock::SteadyTime since;
  };
  int64_t blocked(std::unordered_map<std::string, Counter>& m, const std::string& k, int max,
                  Clock::SteadyTime now);
  void count(std::unordered_map<std::string, Counter>& m, const std::string& k,
             Clock::SteadyTime now);

  int max_user_;
  int max_address_;
  std::chrono::milliseconds window_;
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Counter> users_;
  std::unordered_map<std::string, Counter> addresses_;
};

}  // namespace nil::auth
