// The Idempotency-Key filter and its purge (api/idempotency.h).
#include "api/idempotency.h"

#include <algorithm>

#include "api/problem.h"
#include "api/routes/handler.h"
#include "common/log.h"
#include "common/util.h"

namespace nil::api {

namespace {

constexpr int64_t micros(std::chrono::microseconds d) { return d.count(); }

// Headers of an answer that describe this connection or this moment, not the answer: not stored
// (the replay gets its own).
bool is_connection_header(std::string_view name) {
  for (std::string_view skip : {"connection", "keep-alive", "content-length", "date",
                                "transfer-encoding", "set-cookie", "idempotent-replayed"}) {
    if (name.size() == skip.size() && std::equal(name.begin(), name.end(), skip.begin(),
                                                 [](char a, char b) { return (a | 0x20) == b; }))
      return true;
  }
  return false;
}

// What identifies "the same request": method, target (path and query, as sent) and body.
std::string fingerprint(const Request& req) {
  std::string text(req.method_string());
  text += '\n';
  text.append(req.target().data(), req.target().size());
  text += '\n';
  text += req.body();
  return sha256_hex(text);
}

std::string stored_headers(const Response& res) {
  std::string out;
  for (const auto& field : res) {
    std::string_view name(field.name_string().data(), field.name_string().size());
    if (is_connection_header(name)) continue;
    out.append(name).append(": ");
    out.append(field.value().data(), field.value().size());
    out += '\n';
  }
  return out;
}

Response replay(const Request& req, const store::IdempotencyRecord& r) {
  Response res{static_cast<http::status>(r.status), req.version()};
  std::string_view lines = r.headers;
  while (!lines.empty()) {
    size_t nl = lines.find('\n');
    std::string_view line = lines.substr(0, nl);
    lines = nl == std::string_view::npos ? std::string_view{} : lines.substr(nl + 1);
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos) continue;
    res.insert(line.substr(0, colon), line.substr(colon + 2));
  }
  res.set("Idempotent-Replayed", "true");
  res.keep_alive(req.keep_alive());
  res.body() = r.body;
  return res;
}

// 5xx and 429 say "not now", not "this is the answer": a retry with the same key must be able to
// succeed, so they are not kept.
bool is_kept(unsigned status) { return status < 500 && status != 429; }

}  // namespace

Expected<std::string_view> parse_idempotency_key(std::string_view header) {
  std::string_view key = header;
  if (key.size() >= 2 && key.front() == '"' && key.back() == '"')
    key = key.substr(1, key.size() - 2);
  if (key.empty())
    return make_error(ErrorCode::kInvalidIdempotencyKey, "the Idempotency-Key header is empty");
  if (key.size() > kMaxIdempotencyKeyLength) {
    return make_error(ErrorCode::kIdempotencyKeyTooLong,
                      "the Idempotency-Key header is " + std::to_string(key.size()) +
                          " characters long; at most " + std::to_string(kMaxIdempotencyKeyLength) +
                          " are allowed");
  }
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) {
      return make_error(ErrorCode::kInvalidIdempotencyKey,
                        "the Idempotency-Key header may hold only visible ASCII characters");
    }
  }
  return key;
}

Expected<Response> with_idempotency(routes::ApiCore& core, const Call& call, RouteHandler handler) {
  const Request& req = call.req;
  auto header = req.find("Idempotency-Key");
  if (header == req.end()) return handler(core, call);
  std::string_view key = NIL_TRY(
      parse_idempotency_key(std::string_view(header->value().data(), header->value().size())));
  const std::string scope =
      call.principal != nullptr ? "user:" + call.principal->user_id : std::string("anonymous");
  const std::string fp = fingerprint(req);
  store::Store& store = core.deps.store;
  store::IdempotencyClaim claim = NIL_TRY(store.claim_idempotency_key(
      scope, key, fp, micros(kIdempotencyKeyTtl), micros(kIdempotencyLease)));
  if (!claim.claimed) {
    const store::IdempotencyRecord& r = claim.record;
    if (r.fingerprint != fp) {
      return make_error(ErrorCode::kIdempotencyKeyReused,
                        "this Idempotency-Key was used for a different request (method, path or "
                        "body); use a new key for a new request");
    }
    if (!r.done) {
      Error e = make_error(ErrorCode::kIdempotencyKeyInUse,
                           "the first request with this Idempotency-Key is still running");
      e.retry_after_s = 1;
      return e;
    }
    return replay(req, r);
  }

  Expected<Response> answer = handler(core, call);
  // An Error is rendered exactly as Api::Impl::fail renders it, so the stored answer and the
  // answer sent are the same bytes; the Error itself goes back (fail logs 5xx).
  Response rendered =
      answer ? Response{} : problem(answer.error(), call.target(), req.version(), req.keep_alive());
  const Response& res = answer ? *answer : rendered;
  const unsigned status = res.result_int();
  if (is_kept(status)) {
    auto stored = store.complete_idempotency_key(claim.record, static_cast<int>(status),
                                                 stored_headers(res), res.body());
    if (!stored) {
      log::warn("idempotency key not stored", {{"error", stored.error().message}});
      (void)store.release_idempotency_key(claim.record);
    }
  } else if (auto released = store.release_idempotency_key(claim.record); !released) {
    log::warn("idempotency key not released", {{"error", released.error().message}});
  }
  return answer;
}

IdempotencyPurger::IdempotencyPurger(store::Store& store, std::chrono::milliseconds interval,
                                     int64_t batch)
    : store_(store),
      interval_(interval),
      batch_(batch),
      thread_([this](const std::stop_token& stop) { run(stop); }) {}

IdempotencyPurger::~IdempotencyPurger() { stop(); }

void IdempotencyPurger::stop() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void IdempotencyPurger::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    // Batches of bounded size keep each write transaction short; at most 100 a round, so a
    // huge backlog cannot hold the store's writer for long.
    for (int round = 0; round < 100 && !stop.stop_requested(); ++round) {
      auto n = store_.purge_idempotency_keys(batch_);
      if (!n) {
        log::warn("idempotency key purge failed", {{"error", n.error().message}});
        break;
      }
      if (*n < batch_) break;
    }
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, stop, interval_, [] { return false; });
  }
}

}  // namespace nil::api
