// Fuzz target: how a request's credentials are read — the Authorization header's Bearer scheme
// (auth::bearer_token), the API-key format (auth::api_key_prefix), the Cookie header
// (auth::cookie_value) — and then the real Authenticator over a real SQLite store holding one
// API key and one session, exactly as api::Api::authenticate drives it. The input is used as an
// Authorization value, as a Cookie header value, as a bare token, and as the 43 characters of a
// key (mapped onto base64url).
//
// Invariants checked (a violation aborts, which the fuzzer reports):
//   - bearer_token accepts exactly "bearer " in any case plus at least one more byte; the token
//     is the rest without its leading spaces;
//   - api_key_prefix accepts exactly "nil_" + 43 base64url characters and returns the first 12;
//     a key built from any 43 base64url characters is accepted (round trip);
//   - cookie_value returns a piece of the header that holds no ';', preceded by "name="; a pair
//     appended after any header without a matching pair is found again (round trip);
//   - only the stored key and the stored session's token authenticate, and as who they are;
//     a malformed key is refused before any lookup;
//   - match_api_key finds a token's own hash at its position among other hashes;
//   - check_csrf accepts the session's CSRF token and nothing that differs from it.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "auth/auth.h"
#include "store/store.h"

namespace {

void require(bool cond) {
  if (!cond) std::abort();
}

constexpr std::string_view kCookie = "nil_session";
constexpr std::string_view kBase64url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string hex_sha256(std::string_view s) {
  std::string raw = nil::auth::sha256_raw(s);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool well_formed_key(std::string_view t) {
  if (t.size() != 47 || t.substr(0, 4) != "nil_") return false;
  for (char c : t.substr(4)) {
    if (kBase64url.find(c) == std::string_view::npos) return false;
  }
  return true;
}

// One store, one user, one API key, one session for the whole run.
struct World {
  std::string dir;
  std::unique_ptr<nil::store::Store> store;
  std::unique_ptr<nil::auth::Authenticator> auth;
  std::string key;
  std::string session;
  std::string csrf;
  std::string user_id;

  World() {
    require(nil::auth::init_crypto());
    char tmpl[] = "/tmp/nil-fuzz-credentials-XXXXXX";
    require(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    auto s = nil::store::open_store("sqlite:" + dir + "/nil.db");
    require(s.ok());
    store = std::move(*s);
    auth = std::make_unique<nil::auth::Authenticator>(*store, nil::auth::AuthSettings{});
    auto admin = nil::auth::ensure_admin(*store, "fuzz-password-1");
    require(admin.ok());
    auto k = nil::auth::create_api_key(*store, "admin", "fuzz", std::nullopt);
    require(k.ok());
    key = k->token;
    auto l = auth->login("admin", "fuzz-password-1");
    require(l.ok());
    session = l->session_token;
    csrf = l->csrf_token;
    user_id = l->user.id;
  }
  ~World() {
    auth->stop();
    auth.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

World& world() {
  static World w;
  return w;
}

void check_bearer(std::string_view in) {
  auto token = nil::auth::bearer_token(in);
  bool scheme = in.size() > 7;
  for (size_t i = 0; scheme && i < 7; ++i) {
    char c = in[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    scheme = c == "bearer "[i];
  }
  require(token.has_value() == scheme);
  if (!token) return;
  std::string_view rest = in.substr(7);
  size_t spaces = rest.find_first_not_of(' ');
  require(*token == (spaces == std::string_view::npos ? std::string_view() : rest.substr(spaces)));
  require(token->empty() || token->front() != ' ');
  // The header as a client writes it, with this token, gives the token back.
  if (!token->empty()) require(nil::auth::bearer_token("Bearer " + std::string(*token)) == *token);
}

void check_key_format(std::string_view in) {
  auto prefix = nil::auth::api_key_prefix(in);
  require(prefix.has_value() == well_formed_key(in));
  if (prefix) require(*prefix == in.substr(0, 12));
  // Round trip: any 43 base64url characters after "nil_" are a well-formed key.
  std::string key = "nil_";
  for (size_t i = 0; i < 43; ++i) {
    key += kBase64url[i < in.size() ? static_cast<unsigned char>(in[i]) % 64 : i % 64];
  }
  auto p = nil::auth::api_key_prefix(key);
  require(p.has_value() && *p == key.substr(0, 12));
  require(!nil::auth::api_key_prefix(key + "A") && !nil::auth::api_key_prefix(key.substr(0, 46)));
}

void check_cookie(std::string_view in) {
  std::string_view v = nil::auth::cookie_value(in, kCookie);
  if (!v.empty()) {
    // A view into the header, right after "nil_session=", within one pair.
    require(v.data() >= in.data() + kCookie.size() + 1 &&
            v.data() + v.size() <= in.data() + in.size());
    size_t at = static_cast<size_t>(v.data() - in.data());
    require(in.substr(at - kCookie.size() - 1, kCookie.size() + 1) == "nil_session=");
    require(v.find(';') == std::string_view::npos);
    require(at + v.size() == in.size() || in[at + v.size()] == ';');
  }
  // Round trip: when the header names no nil_session pair, one appended to it is found.
  std::string value;
  for (char c : in.substr(0, 64)) {
    if (c != ';') value += c;
  }
  if (v.empty() && in.find("nil_session=") == std::string_view::npos) {
    std::string header = std::string(in) + "; nil_session=" + value;
    require(nil::auth::cookie_value(header, kCookie) == value);
  }
  std::string single = "nil_session=" + value;
  require(nil::auth::cookie_value(single, kCookie) == value);
}

void check_authenticator(std::string_view in) {
  World& w = world();
  // As api::Api::authenticate: a Bearer header first, else the session cookie.
  if (auto token = nil::auth::bearer_token(in)) {
    auto who = w.auth->authenticate_key(*token);
    require(who.ok() == (*token == w.key));
    if (who.ok())
      require((*who)->user_id == w.user_id &&
              (*who)->method == nil::auth::Principal::Method::kApiKey);
    if (!well_formed_key(*token))
      require(!who.ok() && who.error().code == nil::ErrorCode::kUnauthorized);
  }
  auto by_key = w.auth->authenticate_key(in);
  require(by_key.ok() == (in == w.key));
  std::string_view cookie = nil::auth::cookie_value(in, kCookie);
  if (!cookie.empty()) {
    auto who = w.auth->authenticate_session(cookie);
    require(who.ok() == (cookie == w.session));
    if (who.ok())
      require((*who)->user_id == w.user_id &&
              (*who)->method == nil::auth::Principal::Method::kSession);
  }
  auto by_session = w.auth->authenticate_session(in);
  require(by_session.ok() == (in == w.session));

  // The session's CSRF token, and nothing else.
  static const std::shared_ptr<const nil::auth::Principal> session =
      *w.auth->authenticate_session(w.session);
  require(nil::auth::Authenticator::check_csrf(*session, w.csrf));
  require(nil::auth::Authenticator::check_csrf(*session, in) == (in == w.csrf));

  // match_api_key: the input's own hash, placed among others, is found where it is.
  std::string mine = hex_sha256(in);
  std::string others[3] = {hex_sha256("a"), mine, hex_sha256(w.key)};
  if (in != "a" && in != w.key) require(nil::auth::match_api_key(in, others) == 1);
  std::string none[2] = {hex_sha256(std::string(in) + "x"), ""};
  require(nil::auth::match_api_key(in, none) == -1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_bearer(in);
  check_key_format(in);
  check_cookie(in);
  check_authenticator(in);
  return 0;
}
