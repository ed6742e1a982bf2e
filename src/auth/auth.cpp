#include "auth/auth.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/log.h"
#include "common/util.h"

namespace nil::auth {

namespace {

Error unauthorized(std::string msg) { return make_error(ErrorCode::kUnauthorized, std::move(msg)); }

bool is_base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// "nil_" + base64url of 32 bytes without padding.
constexpr size_t kKeyTokenChars = 4 + 43;

}  // namespace

bool Principal::has_grant(std::string_view g) const {
  return std::find(grants.begin(), grants.end(), g) != grants.end();
}

bool can_access(const Principal& p, const store::AccessList& resource) {
  if (p.is_admin()) return true;
  if (resource.users.empty() && resource.groups.empty()) return true;
  if (std::find(resource.users.begin(), resource.users.end(), p.user_id) != resource.users.end()) {
    return true;
  }
  for (const auto& g : p.group_ids) {
    if (std::find(resource.groups.begin(), resource.groups.end(), g) != resource.groups.end()) {
      return true;
    }
  }
  return false;
}

bool can_deploy(const Principal& p) { return p.is_admin() || p.has_grant("deploy"); }

bool can_manage(const Principal& p, const store::Function& f) {
  if (p.is_admin()) return true;
  if (f.owner_id && !p.user_id.empty() && *f.owner_id == p.user_id) return true;
  return std::find(f.managers.begin(), f.managers.end(), p.user_id) != f.managers.end();
}

bool init_crypto() {
  static const bool kOk = sodium_init() >= 0;  // thread-safe once (magic static)
  return kOk;
}

Expected<std::string> hash_password(std::string_view password) {
  if (!init_crypto()) return make_error(ErrorCode::kCryptoError, "libsodium failed to start");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return make_error(ErrorCode::kCryptoError, "password hashing ran out of memory");
  }
  return std::string(out);
}

bool verify_password(const std::string& hash, std::string_view password) {
  if (!init_crypto() || hash.empty()) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_token(size_t bytes) {
  init_crypto();
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string out = base64url_encode(raw);
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::string sha256_raw(std::string_view data) {
  init_crypto();
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}

namespace {
std::string to_hex(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}
}  // namespace

GeneratedKey generate_api_key() {
  GeneratedKey k;
  k.token = std::string(kKeyPrefix) + random_token(32);
  k.prefix = k.token.substr(0, kKeyLookupChars);
  k.hash_hex = to_hex(sha256_raw(k.token));
  return k;
}

std::optional<std::string> api_key_prefix(std::string_view token) {
  if (token.size() != kKeyTokenChars || !token.starts_with(kKeyPrefix)) return std::nullopt;
  for (char c : token.substr(kKeyPrefix.size())) {
    if (!is_base64url_char(c)) return std::nullopt;
  }
  return std::string(token.substr(0, kKeyLookupChars));
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size()) return std::nullopt;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kBearer[i])
      return std::nullopt;
  }
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return token;
}

std::string_view cookie_value(std::string_view cookie_header, std::string_view name) {
  std::string_view v = cookie_header;
  while (!v.empty()) {
    size_t semi = v.find(';');
    std::string_view pair = v.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (semi == std::string_view::npos) break;
    v.remove_prefix(semi + 1);
  }
  return {};
}

int match_api_key(std::string_view token, std::span<const std::string> candidate_hash_hex) {
  std::string mine = to_hex(sha256_raw(token));
  int found = -1;
  for (size_t i = 0; i < candidate_hash_hex.size(); ++i) {
    // Every candidate is compared in full; the result is only selected, never branched out of.
    bool eq = constant_time_equal(mine, candidate_hash_hex[i]);
    found = eq ? static_cast<int>(i) : found;
  }
  return found;
}

Expected<CreatedKey> create_api_key(store::Store& store, std::string_view user_ref,
                                    std::string_view name, std::optional<int64_t> expires_at) {
  GeneratedKey g = generate_api_key();
  store::NewApiKey nk{std::string(name), std::string(user_ref), g.prefix, g.hash_hex, expires_at};
  store::ApiKey k = NIL_TRY(store.create_api_key(nk));
  return CreatedKey{std::move(k), std::move(g.token)};
}

Expected<std::optional<std::string>> ensure_admin(store::Store& store, std::string_view password) {
  if (NIL_TRY(store.count_users()) > 0) return std::optional<std::string>{};
  std::string pw(password);
  bool generated = pw.empty();
  if (generated) pw = random_token(18);  // 24 characters, 144 bits
  std::string hash =
      NIL_TRY(hash_password(pw));  // not inside the braces (see parse_new_environment)
  store::NewUser nu{"admin", std::move(hash), store::Role::kAdmin, {}};
  auto created = store.create_user(nu);
  // Two processes bootstrapping at once (nild and `nild keys create`): the loser finds the name
  // taken, which is fine.
  if (!created && created.error().code != ErrorCode::kNameTaken) return created.error();
  if (!created || !generated) return std::optional<std::string>{};
  return std::optional<std::string>(std::move(pw));
}

// --- Authenticator -------------------------------------------------------------------------------

Authenticator::Authenticator(store::Store& store, AuthSettings settings, const Clock& clock)
    : store_(store), settings_(settings), clock_(clock) {
  init_crypto();
  flusher_ = std::thread([this] { run_flusher(); });
}

Authenticator::~Authenticator() { stop(); }

void Authenticator::stop() {
  {
    std::lock_guard lk(touch_mu_);
    if (stopping_ && !flusher_.joinable()) return;
    stopping_ = true;
  }
  touch_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  flush_last_used();
}

Expected<Principal> Authenticator::principal_for(const store::User& u, Principal::Method m,
                                                 std::string cred) {
  Principal p;
  p.user_id = u.id;
  p.username = u.username;
  p.role = u.role;
  p.grants = u.grants;
  for (const auto& g : u.groups) p.group_ids.push_back(g.id);
  p.method = m;
  p.credential_id = std::move(cred);
  return p;
}

Expected<std::shared_ptr<const Principal>> Authenticator::authenticate_key(std::string_view token) {
  auto prefix = api_key_prefix(token);
  if (!prefix) return unauthorized("malformed API key (expected nil_ followed by 43 characters)");
  const int64_t now = clock_.now_micros();
  const std::string hash = sha256_raw(token);

  auto check = [&](const std::vector<CachedKey>& keys) -> const CachedKey* {
    const CachedKey* hit = nullptr;
    for (const auto& k : keys) {
      bool eq = constant_time_equal(hash, k.hash_raw);
      hit = eq ? &k : hit;
    }
    return hit;
  };

  uint64_t generation;
  {
    std::shared_lock lk(mu_);
    auto it = by_prefix_.find(*prefix);
    if (it != by_prefix_.end()) {
      if (const CachedKey* k = check(it->second)) {
        if (k->expires_at && *k->expires_at <= now) return unauthorized("the API key has expired");
        note_use(*k, now);
        return k->principal;
      }
    }
    generation = generation_;
  }

  // Not cached: the store has every key with this prefix; only live ones are cached.
  std::vector<store::ApiKey> rows = NIL_TRY(store_.find_api_keys_by_prefix(*prefix));
  std::vector<std::string> hashes;
  hashes.reserve(rows.size());
  for (const auto& r : rows) hashes.push_back(r.hash_hex);
  int i = match_api_key(token, hashes);
  if (i < 0) return unauthorized("unknown API key");
  const store::ApiKey& row = rows[static_cast<size_t>(i)];
  if (row.revoked) return unauthorized("the API key has been revoked");
  if (row.expires_at && *row.expires_at <= now) return unauthorized("the API key has expired");
  auto user = store_.get_user(row.user_id);
  if (!user) {
    if (user.error().code == ErrorCode::kUserNotFound)
      return unauthorized("the API key's user no longer exists");
    return user.error();
  }
  auto principal = std::make_shared<const Principal>(
      NIL_TRY(principal_for(*user, Principal::Method::kApiKey, row.id)));
  CachedKey entry{row.id, hash, row.expires_at, principal,
                  std::make_shared<std::atomic<int64_t>>(0)};
  note_use(entry, now);
  {
    std::unique_lock lk(mu_);
    // A revoke or change that raced this load must not be undone by caching its result.
    if (generation == generation_) {
      auto& list = by_prefix_[*prefix];
      bool present = false;
      for (const auto& k : list) present |= k.key_id == entry.key_id;
      if (!present) list.push_back(entry);
    }
  }
  return std::shared_ptr<const Principal>(std::move(principal));
}

void Authenticator::note_use(const CachedKey& k, int64_t now) {
  int64_t last = k.last_touch->load(std::memory_order_relaxed);
  int64_t interval =
      std::chrono::duration_cast<std::chrono::microseconds>(settings_.key_touch_interval).count();
  if (last != 0 && now - last < interval) return;
  if (!k.last_touch->compare_exchange_strong(last, now)) return;  // another thread queued it
  std::lock_guard lk(touch_mu_);
  pending_touch_[k.key_id] = now;
}

void Authenticator::run_flusher() {
  std::unique_lock lk(touch_mu_);
  while (!stopping_) {
    // A short period: the first use of a key shows up within about a second; later uses are
    // already thinned to one per key_touch_interval by note_use.
    touch_cv_.wait_for(lk, std::chrono::seconds(1));
    if (pending_touch_.empty()) continue;
    auto batch = std::move(pending_touch_);
    pending_touch_.clear();
    lk.unlock();
    std::vector<std::pair<std::string, int64_t>> uses(batch.begin(), batch.end());
    if (auto r = store_.touch_api_keys(uses); !r) {
      log::warn("could not record API key use", {{"error", r.error().message}});
    }
    lk.lock();
  }
}

void Authenticator::flush_last_used() {
  std::unordered_map<std::string, int64_t> batch;
  {
    std::lock_guard lk(touch_mu_);
    batch.swap(pending_touch_);
  }
  if (batch.empty()) return;
  std::vector<std::pair<std::string, int64_t>> uses(batch.begin(), batch.end());
  if (auto r = store_.touch_api_keys(uses); !r) {
    log::warn("could not record API key use", {{"error", r.error().message}});
  }
}

void Authenticator::invalidate_key(std::string_view key_id) {
  std::unique_lock lk(mu_);
  ++generation_;
  for (auto it = by_prefix_.begin(); it != by_prefix_.end();) {
    auto& list = it->second;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const CachedKey& k) { return k.key_id == key_id; }),
               list.end());
    it = list.empty() ? by_prefix_.erase(it) : std::next(it);
  }
}

void Authenticator::invalidate_all() {
  std::unique_lock lk(mu_);
  ++generation_;
  by_prefix_.clear();
}

Expected<std::shared_ptr<const Principal>> Authenticator::authenticate_session(
    std::string_view token) {
  if (token.empty() || token.size() > 128) return unauthorized("invalid session");
  auto s = store_.get_session_by_token_hash(to_hex(sha256_raw(token)));
  if (!s) {
    if (s.error().code == ErrorCode::kSessionNotFound)
      return unauthorized("the session is unknown or has ended");
    return s.error();
  }
  const int64_t now = clock_.now_micros();
  const int64_t idle =
      std::chrono::duration_cast<std::chrono::microseconds>(settings_.session_idle).count();
  const int64_t absolute =
      std::chrono::duration_cast<std::chrono::microseconds>(settings_.session_absolute).count();
  if (now - s->created_at >= absolute || now - s->last_seen_at >= idle) {
    (void)store_.delete_session(s->id);
    return unauthorized("the session has expired; log in again");
  }
  // Idle expiry needs last_seen_at, but a write per request is wasteful: refresh it once a
  // quarter of the idle timeout has passed (at most once a minute).
  if (now - s->last_seen_at >= std::min<int64_t>(idle / 4, 60'000'000)) {
    (void)store_.touch_session(s->id, now);
  }
  auto user = store_.get_user(s->user_id);
  if (!user) {
    if (user.error().code == ErrorCode::kUserNotFound)
      return unauthorized("the session's user no longer exists");
    return user.error();
  }
  Principal p = NIL_TRY(principal_for(*user, Principal::Method::kSession, s->id));
  p.csrf_hash_hex = s->csrf_hash_hex;
  return std::shared_ptr<const Principal>(std::make_shared<const Principal>(std::move(p)));
}

bool Authenticator::check_csrf(const Principal& p, std::string_view csrf_token) {
  if (p.method != Principal::Method::kSession || csrf_token.empty() || p.csrf_hash_hex.empty())
    return false;
  auto expected = from_hex(p.csrf_hash_hex);
  if (!expected) return false;
  return constant_time_equal(sha256_raw(csrf_token), *expected);
}

Expected<LoginResult> Authenticator::login(std::string_view username, std::string_view password) {
  auto user = store_.get_user(username);
  if (!user && user.error().code != ErrorCode::kUserNotFound) return user.error();
  // An unknown user costs the same hash as a wrong password, so timing does not tell them apart.
  // (The dummy hash is made on the first unknown-user attempt, not on every first login.)
  bool ok = false;
  if (user) {
    ok = verify_password(user->password_hash, password);
  } else {
    static const std::string kDummy = hash_password("not a password").value();
    (void)verify_password(kDummy, password);
  }
  if (!user || !ok) {
    return make_error(ErrorCode::kInvalidCredentials, "wrong username or password");
  }
  LoginResult r;
  r.session_token = random_token(32);
  r.csrf_token = random_token(32);
  const int64_t now = clock_.now_micros();
  store::Session s{
      new_uuid(), user->id, to_hex(sha256_raw(r.session_token)), to_hex(sha256_raw(r.csrf_token)),
      now,        now};
  NIL_TRY_VOID(store_.create_session(s));
  r.user = std::move(user).value();
  // Housekeeping: drop sessions that can no longer be used. authenticate_session refuses a
  // session once `now - t >= limit`, i.e. t <= now - limit; the store deletes `t < bound`.
  const int64_t idle =
      std::chrono::duration_cast<std::chrono::microseconds>(settings_.session_idle).count();
  const int64_t absolute =
      std::chrono::duration_cast<std::chrono::microseconds>(settings_.session_absolute).count();
  (void)store_.delete_expired_sessions(now - absolute + 1, now - idle + 1);
  return r;
}

Expected<void> Authenticator::logout(const Principal& p) {
  if (p.method != Principal::Method::kSession) return {};
  return store_.delete_session(p.credential_id);
}

// --- RateLimiter ---------------------------------------------------------------------------------

RateLimiter::RateLimiter(double rate, double burst, const Clock& clock)
    : rate_(rate), burst_(std::max(1.0, burst)), clock_(clock) {}

int64_t RateLimiter::acquire(std::string_view key) {
  if (rate_ <= 0) return 0;
  const Clock::SteadyTime now = clock_.steady_now();
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  std::lock_guard lk(shard.mu);
  auto [it, inserted] = shard.buckets.try_emplace(std::string(key), Bucket{burst_, now});
  Bucket& b = it->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
    b.last = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) / rate_)));
}

// --- LoginThrottle -------------------------------------------------------------------------------

LoginThrottle::LoginThrottle(int max_per_user, int max_per_address,
                             std::chrono::milliseconds window, const Clock& clock)
    : max_user_(max_per_user), max_address_(max_per_address), window_(window), clock_(clock) {}

int64_t LoginThrottle::blocked(std::unordered_map<std::string, Counter>& m, const std::string& k,
                               int max, Clock::SteadyTime now) {
  auto it = m.find(k);
  if (it == m.end()) return 0;
  if (now - it->second.since >= window_) {
    m.erase(it);
    return 0;
  }
  if (it->second.failures < max) return 0;
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(it->second.since + window_ - now);
  return std::max<int64_t>(1, (left.count() + 999) / 1000);
}

void LoginThrottle::count(std::unordered_map<std::string, Counter>& m, const std::string& k,
                          Clock::SteadyTime now) {
  auto [it, inserted] = m.try_emplace(k, Counter{0, now});
  if (!inserted && now - it->second.since >= window_) it->second = Counter{0, now};
  ++it->second.failures;
}

int64_t LoginThrottle::blocked_for(std::string_view username, std::string_view address) {
  if (max_user_ <= 0 && max_address_ <= 0) return 0;
  const Clock::SteadyTime now = clock_.steady_now();
  std::lock_guard lk(mu_);
  int64_t a = max_user_ > 0 ? blocked(users_, std::string(username), max_user_, now) : 0;
  int64_t b = max_address_ > 0 ? blocked(addresses_, std::string(address), max_address_, now) : 0;
  return std::max(a, b);
}

void LoginThrottle::failure(std::string_view username, std::string_view address) {
  const Clock::SteadyTime now = clock_.steady_now();
  std::lock_guard lk(mu_);
  // Failures under ever-new usernames must not grow the maps without bound: past a size, drop
  // every counter whose window is over.
  constexpr size_t kPurgeAbove = 10'000;
  for (auto* m : {&users_, &addresses_}) {
    if (m->size() < kPurgeAbove) continue;
    std::erase_if(*m, [&](const auto& kv) { return now - kv.second.since >= window_; });
  }
  count(users_, std::string(username), now);
  count(addresses_, std::string(address), now);
}

void LoginThrottle::success(std::string_view username) {
  std::lock_guard lk(mu_);
  users_.erase(std::string(username));
}

}  // namespace nil::auth
