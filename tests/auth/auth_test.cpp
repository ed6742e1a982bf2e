// Unit tests of nil::auth: the canAccess truth table, the token primitives (constant-time
// comparison, prefix lookup that never authenticates on the prefix alone), password hashing,
// the Authenticator against a real SQLite store (revocation and expiry at once), and the limiters.
// Time is a ManualClock (common/clock.h) handed to the Authenticator and the limiters: expiry is
// reached by advance(), to the microsecond, never by sleeping.
#include "auth/auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "common/clock.h"
#include "common/util.h"
#include "store/store.h"

namespace nil::auth {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using store::AccessList;
using store::Role;

Principal user(std::string id, Role role, std::vector<std::string> groups = {}) {
  Principal p;
  p.user_id = std::move(id);
  p.username = p.user_id;
  p.role = role;
  p.group_ids = std::move(groups);
  return p;
}

// Seed 001: admin → always; both lists empty → public; else user listed or in a listed group.
TEST(CanAccess, TruthTable) {
  struct Row {
    const char* what;
    Role role;
    std::vector<std::string> user_groups;
    AccessList acl;
    bool expected;
  };
  const std::vector<Row> rows = {
      {"admin, empty lists", Role::kAdmin, {}, {{}, {}}, true},
      {"admin, listed elsewhere only", Role::kAdmin, {}, {{"u2"}, {"g2"}}, true},
      {"admin, not in users list", Role::kAdmin, {}, {{"u2"}, {}}, true},
      {"dev, empty lists (public)", Role::kDev, {}, {{}, {}}, true},
      {"dev, listed user", Role::kDev, {}, {{"u1"}, {}}, true},
      {"dev, listed among others", Role::kDev, {}, {{"u3", "u1"}, {}}, true},
      {"dev, not listed", Role::kDev, {}, {{"u2"}, {}}, false},
      {"dev, member of listed group", Role::kDev, {"g1"}, {{}, {"g1"}}, true},
      {"dev, member of one of listed groups", Role::kDev, {"g9", "g1"}, {{}, {"g2", "g1"}}, true},
      {"dev, member of other group", Role::kDev, {"g3"}, {{}, {"g1"}}, false},
      {"dev, no groups, group list", Role::kDev, {}, {{}, {"g1"}}, false},
      {"dev, user list other, group matches", Role::kDev, {"g1"}, {{"u2"}, {"g1"}}, true},
      {"dev, user matches, group list other", Role::kDev, {"g5"}, {{"u1"}, {"g1"}}, true},
      {"dev, neither matches", Role::kDev, {"g5"}, {{"u2"}, {"g1"}}, false},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(can_access(user("u1", r.role, r.user_groups), r.acl), r.expected) << r.what;
  }
}

TEST(CanDeploy, AdminsAndDeployGrant) {
  EXPECT_TRUE(can_deploy(user("a", Role::kAdmin)));
  EXPECT_FALSE(can_deploy(user("d", Role::kDev)));
  Principal d = user("d", Role::kDev);
  d.grants = {"deploy"};
  EXPECT_TRUE(can_deploy(d));
}

TEST(Tokens, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abcdef", "abcdef"));
  EXPECT_FALSE(constant_time_equal("abcdef", "abcdeg"));  // last byte differs
  EXPECT_FALSE(constant_time_equal("bbcdef", "abcdef"));  // first byte differs
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));       // lengths differ
  std::string a(32, '\x00'), b(32, '\x00');
  b[31] = '\x01';
  EXPECT_FALSE(constant_time_equal(a, b));
}

TEST(Tokens, GeneratedKeyShape) {
  GeneratedKey k = generate_api_key();
  EXPECT_TRUE(k.token.starts_with("nil_"));
  EXPECT_EQ(k.token.size(), 47u);
  EXPECT_EQ(k.prefix, k.token.substr(0, 12));
  EXPECT_EQ(k.hash_hex, sha256_hex(k.token));
  EXPECT_EQ(api_key_prefix(k.token), k.prefix);
  EXPECT_NE(generate_api_key().token, k.token);
  EXPECT_FALSE(api_key_prefix("nil_short"));
  EXPECT_FALSE(api_key_prefix("xyz_" + k.token.substr(4)));
  EXPECT_FALSE(api_key_prefix(k.token.substr(0, 46) + "!"));
}

// The prefix is not secret: a token that shares it but differs after it must match nothing, and
// every candidate is compared (the match is found wherever it sits among same-prefix rows).
TEST(Tokens, MatchNeverAuthenticatesOnThePrefix) {
  GeneratedKey k = generate_api_key();
  std::string forged = k.prefix + std::string(47 - 12, 'A');
  ASSERT_EQ(api_key_prefix(forged), k.prefix);
  std::vector<std::string> hashes = {sha256_hex("other-1"), k.hash_hex, sha256_hex("other-2")};
  EXPECT_EQ(match_api_key(forged, hashes), -1);
  EXPECT_EQ(match_api_key(k.token, hashes), 1);
  std::string last_char_changed = k.token;
  last_char_changed.back() = last_char_changed.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(match_api_key(last_char_changed, hashes), -1);
  std::vector<std::string> at_end = {sha256_hex("x"), sha256_hex("y"), k.hash_hex};
  EXPECT_EQ(match_api_key(k.token, at_end), 2);
  EXPECT_EQ(match_api_key(k.token, {}), -1);
}

// Where a request carries credentials: "Authorization: Bearer <key>" and the nil_session cookie.
TEST(Credentials, BearerToken) {
  EXPECT_EQ(bearer_token("Bearer nil_abc"), "nil_abc");
  EXPECT_EQ(bearer_token("bEARER   nil_abc"), "nil_abc");  // scheme in any case, spaces skipped
  EXPECT_EQ(bearer_token("Bearer   "), "");                // a Bearer credential, empty token
  EXPECT_FALSE(bearer_token("Bearer "));                   // nothing after the scheme
  EXPECT_FALSE(bearer_token("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(bearer_token("Bearernil_abc"));
}

TEST(Credentials, CookieValue) {
  EXPECT_EQ(cookie_value("nil_session=abc", "nil_session"), "abc");
  EXPECT_EQ(cookie_value("theme=dark;  nil_session=abc; lang=en", "nil_session"), "abc");
  EXPECT_EQ(cookie_value("nil_sessionX=1; nil_session=two; nil_session=three", "nil_session"),
            "two");
  EXPECT_EQ(cookie_value("xnil_session=1", "nil_session"), "");
  EXPECT_EQ(cookie_value("nil_session", "nil_session"), "");
  EXPECT_EQ(cookie_value("", "nil_session"), "");
}

TEST(Passwords, HashAndVerify) {
  auto h = hash_password("correct horse");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->starts_with("$argon2id$"));
  EXPECT_TRUE(verify_password(*h, "correct horse"));
  EXPECT_FALSE(verify_password(*h, "correct horsE"));
  EXPECT_FALSE(verify_password("", "x"));
  EXPECT_NE(*hash_password("correct horse"), *h);  // salted
}

TEST(RateLimiter, BurstThenRetryAfter) {
  ManualClock clock;
  RateLimiter off(0, 0, clock);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(off.acquire("k"), 0);
  RateLimiter rl(0.5, 3, clock);  // one token every 2 s
  EXPECT_EQ(rl.acquire("k"), 0);
  EXPECT_EQ(rl.acquire("k"), 0);
  EXPECT_EQ(rl.acquire("k"), 0);
  EXPECT_EQ(rl.acquire("k"), 2);      // the time stands still: a whole token is 2 s away
  EXPECT_EQ(rl.acquire("other"), 0);  // buckets are per key
}

TEST(RateLimiter, RefillsAsTheClockAdvances) {
  ManualClock clock;
  RateLimiter rl(0.5, 3, clock);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(rl.acquire("k"), 0);
  ASSERT_EQ(rl.acquire("k"), 2);
  // Advances of whole half-seconds keep the token arithmetic exact in binary floating point.
  clock.advance(seconds(1));  // half a token back
  EXPECT_EQ(rl.acquire("k"), 1);
  clock.advance(milliseconds(500));  // three quarters: still short of a whole token
  EXPECT_EQ(rl.acquire("k"), 1);
  clock.advance(milliseconds(500));  // exactly one token
  EXPECT_EQ(rl.acquire("k"), 0);
  EXPECT_EQ(rl.acquire("k"), 2);
  // A long pause refills up to the burst, not beyond it.
  clock.advance(hours(1));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rl.acquire("k"), 0) << i;
  EXPECT_EQ(rl.acquire("k"), 2);
}

TEST(LoginThrottle, PerUserAndPerAddress) {
  ManualClock clock;
  LoginThrottle t(3, 5, minutes(1), clock);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t.blocked_for("alice", "1.1.1.1"), 0);
    t.failure("alice", "1.1.1.1");
  }
  EXPECT_EQ(t.blocked_for("alice", "2.2.2.2"), 60);  // the user, from anywhere, for the window
  EXPECT_EQ(t.blocked_for("bob", "2.2.2.2"), 0);
  t.failure("bob", "1.1.1.1");
  t.failure("carol", "1.1.1.1");
  EXPECT_EQ(t.blocked_for("dave", "1.1.1.1"), 60);  // the address, for anyone
  t.success("alice");
  EXPECT_EQ(t.blocked_for("alice", "3.3.3.3"), 0);
}

// Refused until the window since the FIRST failure has passed, to the microsecond; then the
// count starts again from zero.
TEST(LoginThrottle, BlockEndsWithTheWindow) {
  ManualClock clock;
  LoginThrottle t(3, 100, minutes(1), clock);
  t.failure("alice", "1.1.1.1");
  clock.advance(seconds(20));
  t.failure("alice", "1.1.1.1");
  t.failure("alice", "1.1.1.1");
  EXPECT_EQ(t.blocked_for("alice", "1.1.1.1"), 40);  // 60 s from the first failure, not the last
  clock.advance(seconds(39));
  EXPECT_EQ(t.blocked_for("alice", "1.1.1.1"), 1);
  clock.advance(milliseconds(999) + microseconds(999));
  EXPECT_EQ(t.blocked_for("alice", "1.1.1.1"), 1);  // 1 µs left, rounded up to a second
  clock.advance(microseconds(1));
  EXPECT_EQ(t.blocked_for("alice", "1.1.1.1"), 0);  // the window is over
  // A new window: two failures are under the limit again.
  t.failure("alice", "1.1.1.1");
  t.failure("alice", "1.1.1.1");
  EXPECT_EQ(t.blocked_for("alice", "1.1.1.1"), 0);
  t.failure("alice", "1.1.1.1");
  EXPECT_EQ(t.blocked_for("alice", "1.1.1.1"), 60);
}

// --- Authenticator against a real store ----------------------------------------------------------

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nil-auth-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto s = store::open_store("sqlite:" + dir_ + "/nil.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    auto u = store_->create_user({"dana", "x", Role::kDev, {}});
    ASSERT_TRUE(u.ok());
    user_id_ = u->id;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void set_password() {
    ASSERT_TRUE(store_
                    ->update_user("dana", store::UserUpdate{*hash_password("pw-dana-1"),
                                                            std::nullopt, std::nullopt})
                    .ok());
  }
  bool session_in_store(const LoginResult& l) {
    return store_->get_session_by_token_hash(sha256_hex(l.session_token)).ok();
  }
  ManualClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::string user_id_;
};

TEST_F(AuthenticatorTest, KeyAuthenticatesAndRevocationIsImmediate) {
  Authenticator a(*store_, {}, clock_);
  auto k = create_api_key(*store_, "dana", "ci", std::nullopt);
  ASSERT_TRUE(k.ok());
  auto p = a.authenticate_key(k->token);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ((*p)->user_id, user_id_);
  EXPECT_EQ((*p)->method, Principal::Method::kApiKey);
  ASSERT_TRUE(a.authenticate_key(k->token).ok());  // now cached
  ASSERT_TRUE(store_->revoke_api_key(k->key.id).ok());
  a.invalidate_key(k->key.id);
  auto after = a.authenticate_key(k->token);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ErrorCode::kUnauthorized);
}

TEST_F(AuthenticatorTest, SamePrefixWrongSecretIsRejectedEvenWhenCached) {
  Authenticator a(*store_, {}, clock_);
  auto k = create_api_key(*store_, "dana", "ci", std::nullopt);
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(a.authenticate_key(k->token).ok());  // cached under its prefix
  std::string forged = k->key.prefix + std::string(47 - 12, 'Z');
  auto r = a.authenticate_key(forged);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized);
}

TEST_F(AuthenticatorTest, ExpiredKeyAndRoleChangeAfterInvalidate) {
  Authenticator a(*store_, {}, clock_);
  auto expired = create_api_key(*store_, "dana", "old", clock_.now_micros() - 1000);
  ASSERT_TRUE(expired.ok());
  EXPECT_FALSE(a.authenticate_key(expired->token).ok());
  auto k = create_api_key(*store_, "dana", "ci", std::nullopt);
  ASSERT_TRUE(a.authenticate_key(k->token).ok());
  ASSERT_TRUE(
      store_->update_user("dana", store::UserUpdate{std::nullopt, Role::kAdmin, std::nullopt})
          .ok());
  a.invalidate_all();
  auto p = a.authenticate_key(k->token);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE((*p)->is_admin());
}

// expiresAt is the first instant at which the key no longer works (`expires_at <= now`).
TEST_F(AuthenticatorTest, KeyExpiresAtItsExpiresAt) {
  const int64_t expires_at = clock_.now_micros() + 3'600'000'000;  // in an hour
  auto k = create_api_key(*store_, "dana", "ci", expires_at);
  ASSERT_TRUE(k.ok());
  Authenticator a(*store_, {}, clock_);
  clock_.advance(hours(1) - microseconds(1));
  ASSERT_EQ(clock_.now_micros(), expires_at - 1);
  auto before = a.authenticate_key(k->token);  // first lookup: from the store
  ASSERT_TRUE(before.ok()) << before.error().message;
  a.invalidate_all();  // the next lookup goes to the store again
  clock_.advance(microseconds(1));
  auto at = a.authenticate_key(k->token);
  ASSERT_FALSE(at.ok());
  EXPECT_EQ(at.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(at.error().message, "the API key has expired");
}

// The key cache holds the expiry with the principal: a cached key expires on time, without any
// invalidation.
TEST_F(AuthenticatorTest, CachedKeyExpiresToo) {
  const int64_t expires_at = clock_.now_micros() + 3'600'000'000;
  auto k = create_api_key(*store_, "dana", "ci", expires_at);
  ASSERT_TRUE(k.ok());
  Authenticator a(*store_, {}, clock_);
  ASSERT_TRUE(a.authenticate_key(k->token).ok());  // loaded and cached
  clock_.advance(minutes(59));
  EXPECT_TRUE(a.authenticate_key(k->token).ok());  // from the cache
  clock_.advance(minutes(1) - microseconds(1));
  EXPECT_TRUE(a.authenticate_key(k->token).ok()) << "one microsecond before expiresAt";
  clock_.advance(microseconds(1));
  auto at = a.authenticate_key(k->token);
  ASSERT_FALSE(at.ok()) << "the cache outlived the key's expiry";
  EXPECT_EQ(at.error().code, ErrorCode::kUnauthorized);
  clock_.advance(hours(24));
  EXPECT_FALSE(a.authenticate_key(k->token).ok());
}

// lastUsedAt is the clock's time of the use, written at most once per key_touch_interval.
TEST_F(AuthenticatorTest, LastUsedIsRecordedOffThePath) {
  AuthSettings s;
  s.key_touch_interval = minutes(1);
  Authenticator a(*store_, s, clock_);
  auto k = create_api_key(*store_, "dana", "ci", std::nullopt);
  EXPECT_FALSE(store_->get_api_key(k->key.id)->last_used_at.has_value());
  const int64_t first = clock_.now_micros();
  ASSERT_TRUE(a.authenticate_key(k->token).ok());
  a.flush_last_used();
  EXPECT_EQ(store_->get_api_key(k->key.id)->last_used_at, first);
  clock_.advance(minutes(1) - microseconds(1));  // inside the interval: not written again
  ASSERT_TRUE(a.authenticate_key(k->token).ok());
  a.flush_last_used();
  EXPECT_EQ(store_->get_api_key(k->key.id)->last_used_at, first);
  clock_.advance(microseconds(1));
  ASSERT_TRUE(a.authenticate_key(k->token).ok());
  a.flush_last_used();
  EXPECT_EQ(store_->get_api_key(k->key.id)->last_used_at, first + 60'000'000);
}

TEST_F(AuthenticatorTest, SessionLoginAndCsrf) {
  set_password();
  Authenticator a(*store_, {}, clock_);
  EXPECT_EQ(a.login("dana", "wrong").error().code, ErrorCode::kInvalidCredentials);
  EXPECT_EQ(a.login("nobody", "pw-dana-1").error().code, ErrorCode::kInvalidCredentials);
  auto l = a.login("dana", "pw-dana-1");
  ASSERT_TRUE(l.ok()) << l.error().message;
  auto stored = store_->get_session_by_token_hash(sha256_hex(l->session_token));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->created_at, clock_.now_micros());
  EXPECT_EQ(stored->last_seen_at, clock_.now_micros());
  auto p = a.authenticate_session(l->session_token);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(Authenticator::check_csrf(**p, l->csrf_token));
  EXPECT_FALSE(Authenticator::check_csrf(**p, l->session_token));
  EXPECT_FALSE(Authenticator::check_csrf(**p, ""));
}

// A session ends once session_idle has passed since its last recorded activity: one
// microsecond before it still works (and records the activity); exactly at it, it is refused and
// deleted.
TEST_F(AuthenticatorTest, SessionIdlesOutExactlyAtTheIdleTimeout) {
  set_password();
  AuthSettings s;
  s.session_idle = minutes(30);
  s.session_absolute = hours(12);
  Authenticator a(*store_, s, clock_);
  auto active = a.login("dana", "pw-dana-1");
  auto idle = a.login("dana", "pw-dana-1");  // same instant: the clock has not moved
  ASSERT_TRUE(active.ok());
  ASSERT_TRUE(idle.ok());

  clock_.advance(minutes(30) - microseconds(1));
  ASSERT_TRUE(a.authenticate_session(active->session_token).ok()) << "1 µs before the timeout";
  const int64_t seen = clock_.now_micros();
  EXPECT_EQ(store_->get_session_by_token_hash(sha256_hex(active->session_token))->last_seen_at,
            seen);

  clock_.advance(microseconds(1));  // exactly 30 min since both logins
  auto expired = a.authenticate_session(idle->session_token);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthorized);
  EXPECT_FALSE(session_in_store(*idle)) << "an expired session is deleted, not just refused";
  // The other one was active 1 µs ago.
  ASSERT_TRUE(a.authenticate_session(active->session_token).ok());

  // Its idle time counts from the recorded activity: exactly 30 min after it, it ends too.
  clock_.advance(minutes(30) - microseconds(1));
  EXPECT_EQ(clock_.now_micros(), seen + 30LL * 60 * 1'000'000);
  EXPECT_FALSE(a.authenticate_session(active->session_token).ok());
  EXPECT_FALSE(session_in_store(*active));
}

// last_seen_at is written at most once per quarter of the idle timeout (at most a minute), not on
// every request; idle expiry counts from the recorded time.
TEST_F(AuthenticatorTest, SessionActivityIsRecordedAtMostOncePerQuarterIdle) {
  set_password();
  AuthSettings s;
  s.session_idle = minutes(2);  // a quarter: 30 s
  Authenticator a(*store_, s, clock_);
  auto l = a.login("dana", "pw-dana-1");
  ASSERT_TRUE(l.ok());
  const int64_t login_at = clock_.now_micros();
  auto last_seen = [&] {
    return store_->get_session_by_token_hash(sha256_hex(l->session_token))->last_seen_at;
  };
  clock_.advance(seconds(30) - microseconds(1));
  ASSERT_TRUE(a.authenticate_session(l->session_token).ok());
  EXPECT_EQ(last_seen(), login_at);  // not recorded yet
  clock_.advance(microseconds(1));
  ASSERT_TRUE(a.authenticate_session(l->session_token).ok());
  EXPECT_EQ(last_seen(), login_at + 30'000'000);
}

TEST_F(AuthenticatorTest, SessionAbsoluteExpiryDespiteActivity) {
  set_password();
  AuthSettings s;
  s.session_idle = minutes(10);
  s.session_absolute = hours(1);
  Authenticator a(*store_, s, clock_);
  auto l = a.login("dana", "pw-dana-1");
  ASSERT_TRUE(l.ok());
  for (int i = 0; i < 6; ++i) {  // active every 9 min, well inside the idle timeout
    clock_.advance(minutes(9));
    ASSERT_TRUE(a.authenticate_session(l->session_token).ok()) << "after " << (i + 1) * 9 << " min";
  }
  clock_.advance(minutes(6) - microseconds(1));  // 1 µs short of an hour since login
  ASSERT_TRUE(a.authenticate_session(l->session_token).ok());
  clock_.advance(microseconds(1));
  auto expired = a.authenticate_session(l->session_token);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthorized);
  // An expired session is gone from the store, not just refused.
  EXPECT_EQ(store_->get_session_by_token_hash(sha256_hex(l->session_token)).error().code,
            ErrorCode::kSessionNotFound);
}

// A login deletes the sessions that can no longer be used — idle, or past their absolute
// lifetime — even when nobody presents them again; and none that can still be used.
TEST_F(AuthenticatorTest, LoginDeletesExpiredSessions) {
  set_password();
  AuthSettings s;
  s.session_idle = minutes(10);
  s.session_absolute = hours(1);
  Authenticator a(*store_, s, clock_);
  auto old = a.login("dana", "pw-dana-1");  // kept active until its absolute lifetime ends
  ASSERT_TRUE(old.ok());
  clock_.advance(minutes(5));
  ASSERT_TRUE(a.authenticate_session(old->session_token).ok());
  auto idle = a.login("dana", "pw-dana-1");  // never used again
  ASSERT_TRUE(idle.ok());

  clock_.advance(minutes(10) - microseconds(1));
  ASSERT_TRUE(a.authenticate_session(old->session_token).ok());
  ASSERT_TRUE(a.login("dana", "pw-dana-1").ok());
  EXPECT_TRUE(session_in_store(*idle)) << "1 µs before its idle timeout";
  clock_.advance(microseconds(1));
  ASSERT_TRUE(a.login("dana", "pw-dana-1").ok());
  EXPECT_FALSE(session_in_store(*idle)) << "at its idle timeout";
  EXPECT_TRUE(session_in_store(*old));

  // 15 min since `old` was created; keep it active up to 1 µs before its hour is over.
  for (int i = 0; i < 8; ++i) {
    clock_.advance(minutes(5));
    ASSERT_TRUE(a.authenticate_session(old->session_token).ok());
  }
  clock_.advance(minutes(5) - microseconds(1));
  ASSERT_TRUE(a.authenticate_session(old->session_token).ok());
  ASSERT_TRUE(a.login("dana", "pw-dana-1").ok());
  EXPECT_TRUE(session_in_store(*old)) << "1 µs before its absolute lifetime ends";
  clock_.advance(microseconds(1));
  ASSERT_TRUE(a.login("dana", "pw-dana-1").ok());
  EXPECT_FALSE(session_in_store(*old)) << "at the end of its absolute lifetime";
}

TEST_F(AuthenticatorTest, LogoutEndsTheSession) {
  set_password();
  Authenticator a(*store_, {}, clock_);
  auto l = a.login("dana", "pw-dana-1");
  ASSERT_TRUE(l.ok());
  auto p = a.authenticate_session(l->session_token);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(a.logout(**p).ok());
  EXPECT_EQ(a.authenticate_session(l->session_token).error().code, ErrorCode::kUnauthorized);
}

TEST_F(AuthenticatorTest, EnsureAdminOnlyOnAnEmptyStore) {
  // The fixture's store already has a user: nothing happens.
  auto r = ensure_admin(*store_, "");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(store_->get_user("admin").error().code, ErrorCode::kUserNotFound);

  // An empty store: admin with the given password, or a generated one returned once.
  auto given = store::open_store("sqlite:" + dir_ + "/given.db");
  ASSERT_TRUE(given.ok());
  auto g = ensure_admin(**given, "chosen-password");
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->has_value());
  auto admin = (*given)->get_user("admin");
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_TRUE(verify_password(admin->password_hash, "chosen-password"));
  auto fresh = store::open_store("sqlite:" + dir_ + "/fresh.db");
  ASSERT_TRUE(fresh.ok());
  auto generated = ensure_admin(**fresh, "");
  ASSERT_TRUE(generated.ok());
  ASSERT_TRUE(generated->has_value());
  EXPECT_GE((*generated)->size(), 20u);
  EXPECT_TRUE(verify_password((*fresh)->get_user("admin")->password_hash, **generated));
  EXPECT_FALSE(ensure_admin(**fresh, "")->has_value());  // only once
}

}  // namespace
}  // namespace nil::auth
