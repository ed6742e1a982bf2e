#include "api/views.h"

#include <boost/json.hpp>

#include "api/problem.h"
#include "common/json_text.h"
#include "common/util.h"

namespace nil::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kSecretMask = "***";

json::array string_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::string(s));
  return a;
}

json::array id_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::value(s));
  return a;
}

json::value stored_json(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  return ec ? json::value(*text) : v;
}

json::value error_json(const std::optional<store::ExecutionError>& e) {
  if (!e) return nullptr;
  return json::object{{"type", e->type}, {"message", e->message}};
}

}  // namespace

std::string to_json_text(const json::value& v) { return nil::to_json_text(v, 3); }

json::value optional_string(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

json::value optional_time(const std::optional<int64_t>& t) {
  return t ? json::value(format_rfc3339(*t)) : json::value(nullptr);
}

json::object user_json(const store::User& u) {
  json::array groups;
  for (const auto& g : u.groups) groups.push_back(json::object{{"id", g.id}, {"name", g.name}});
  json::array grants;
  for (const auto& g : u.grants) grants.push_back(json::value(g));
  return json::object{{"id", u.id},
                      {"username", u.username},
                      {"role", store::to_string(u.role)},
                      {"grants", std::move(grants)},
                      {"groups", std::move(groups)},
                      {"createdAt", format_rfc3339(u.created_at)}};
}

json::array members_json(const store::Group& g) {
  json::array members;
  for (const auto& m : g.members)
    members.push_back(json::object{{"id", m.id}, {"username", m.username}});
  return members;
}

json::object group_json(const store::Group& g) {
  return json::object{{"id", g.id},
                      {"name", g.name},
                      {"members", members_json(g)},
                      {"createdAt", format_rfc3339(g.created_at)}};
}

json::object api_key_json(const store::ApiKey& k) {
  return json::object{{"id", k.id},
                      {"name", k.name},
                      {"userId", k.user_id},
                      {"username", k.username},
                      {"prefix", k.prefix},
                      {"createdAt", format_rfc3339(k.created_at)},
                      {"expiresAt", optional_time(k.expires_at)},
                      {"lastUsedAt", optional_time(k.last_used_at)},
                      {"revoked", k.revoked}};
}

json::object environment_json(const store::Environment& e) {
  json::array vars;
  for (const auto& v : e.vars) {
    vars.push_back(json::object{{"key", v.key},
                                {"value", v.secret ? kSecretMask : std::string_view(v.value)},
                                {"secret", v.secret}});
  }
  json::object o;
  o["id"] = e.id;
  o["name"] = e.name;
  o["vars"] = std::move(vars);
  json::array users, groups;
  for (const auto& u : e.allowed.users) users.push_back(json::value(u));
  for (const auto& g : e.allowed.groups) groups.push_back(json::value(g));
  o["allowedUsers"] = std::move(users);
  o["allowedGroups"] = std::move(groups);
  o["createdAt"] = format_rfc3339(e.created_at);
  o["updatedAt"] = format_rfc3339(e.updated_at);
  return o;
}

json::object function_json(const store::Function& f, std::string_view tier) {
  json::object o;
  o["id"] = f.id;
  o["name"] = f.name;
  o["language"] = f.language;
  o["status"] = store::to_string(f.status);
  o["compileError"] = optional_string(f.compile_error);
  o["wasmSha256"] = optional_string(f.wasm_sha256);
  o["version"] = f.version;
  o["createdAt"] = format_rfc3339(f.created_at);
  o["updatedAt"] = format_rfc3339(f.updated_at);
  json::object limits{{"timeoutMs", f.limits.timeout_ms}, {"memoryMb", f.limits.memory_mb}};
  // The admission limits appear once set, so a function without them reads as before.
  if (f.limits.max_concurrency > 0) limits["maxConcurrency"] = f.limits.max_concurrency;
  if (f.limits.max_queue_ms) limits["maxQueueMs"] = *f.limits.max_queue_ms;
  o["limits"] = std::move(limits);
  o["retry"] = json::object{{"maxAttempts", f.retry.max_attempts},
                            {"backoff", store::to_string(f.retry.backoff)},
                            {"initialDelayMs", f.retry.initial_delay_ms},
                            {"maxDelayMs", f.retry.max_delay_ms},
                            {"maxEventAgeS", f.retry.max_event_age_s}};
  o["environments"] = string_array(f.access.environments);
  o["httpAllow"] = string_array(f.access.http_allow);
  o["grants"] = string_array(f.access.grants);
  o["allowedUsers"] = id_array(f.allowed.users);
  o["allowedGroups"] = id_array(f.allowed.groups);
  o["public"] = f.is_public;
  o["ownerId"] = optional_string(f.owner_id);
  o["managers"] = id_array(f.managers);
  o["tier"] = tier;
  return o;
}

json::object execution_json(const store::Execution& e) {
  json::object o;
  o["id"] = e.id;
  o["functionId"] = e.function_id;
  o["status"] = store::to_string(e.status);
  o["input"] = stored_json(e.input);
  o["output"] = stored_json(e.output);
  o["error"] = error_json(e.error);
  o["logs"] = e.logs;
  o["durationMs"] = e.duration_ms;
  o["startedAt"] = format_rfc3339(e.started_at);
  const bool pending =
      e.status == store::ExecutionStatus::kQueued || e.status == store::ExecutionStatus::kRunning;
  o["finishedAt"] = pending ? json::value(nullptr) : json::value(format_rfc3339(e.finished_at));
  o["trigger"] = e.trigger;
  json::value calls = stored_json(e.host_calls);
  o["hostCalls"] = calls.is_array() ? calls : json::array();
  o["userId"] = optional_string(e.user_id);
  if (e.attempts) {
    // Async invocations only: [{"attempt","startedAt","finishedAt","error"}], times as RFC 3339.
    json::value stored = stored_json(e.attempts);
    json::array attempts;
    if (stored.is_array()) {
      for (auto& a : stored.as_array()) {
        if (!a.is_object()) continue;
        json::object& ao = a.as_object();
        for (const char* key : {"startedAt", "finishedAt"}) {
          auto it = ao.find(key);
          if (it != ao.end() && it->value().is_int64())
            it->value() = format_rfc3339(it->value().as_int64());
        }
        attempts.push_back(std::move(a));
      }
    }
    o["attempts"] = std::move(attempts);
  }
  return o;
}

json::object dead_letter_json(const store::DeadLetter& d) {
  json::object o;
  o["executionId"] = d.execution_id;
  o["functionId"] = d.function_id;
  o["input"] = stored_json(d.input);
  o["error"] = json::object{{"type", d.error.type}, {"message", d.error.message}};
  o["attempts"] = d.attempts;
  o["enqueuedAt"] = format_rfc3339(d.enqueued_at);
  o["deadAt"] = format_rfc3339(d.dead_at);
  return o;
}

// The execute answer is on the hot path: the output is already validated JSON text, so it is
// spliced in as is instead of being parsed and re-serialised.
std::string execute_body(const store::Execution& e) {
  std::string s;
  s.reserve(128 + (e.output ? e.output->size() : 0));
  s += "{\"executionId\":\"";
  s += e.id;
  s += "\",\"status\":\"";
  s += store::to_string(e.status);
  s += "\",\"output\":";
  s += e.output ? *e.output : "null";
  s += ",\"error\":";
  s += json::serialize(error_json(e.error));
  s += ",\"durationMs\":";
  s += to_json_text(json::value(e.duration_ms));
  s += '}';
  return s;
}

std::string function_failed_body(const store::Execution& ex, std::string_view instance) {
  json::object o = problem_json(
      ErrorCode::kFunctionFailed,
      ex.error ? ex.error->type + ": " + ex.error->message : "the function failed", instance);
  o["executionId"] = ex.id;
  o["errorType"] = ex.error ? ex.error->type : "";
  return json::serialize(o);
}

json::object queues_json(const store::QueueStats& q) {
  json::array jobs;
  for (const auto& j : q.jobs) {
    jobs.push_back(json::object{
        {"id", j.id},
        {"functionId", j.function_id},
        {"functionName", j.function_name},
        {"functionVersion", j.function_version},
        {"language", j.language},
        {"state", store::to_string(j.state)},
        {"attempts", j.attempts},
        {"claimedBy", j.claimed_by.empty() ? json::value(nullptr) : json::value(j.claimed_by)},
        {"enqueuedAt", format_rfc3339(j.enqueued_at)},
        {"claimedAt",
         j.claimed_at ? json::value(format_rfc3339(j.claimed_at)) : json::value(nullptr)},
        {"leaseUntil",
         j.lease_until ? json::value(format_rfc3339(j.lease_until)) : json::value(nullptr)}});
  }
  json::object queue{
      {"name", q.name},
      {"pending", q.pending},
      {"running", q.running},
      {"oldestPendingAt", q.oldest_pending_at ? json::value(format_rfc3339(q.oldest_pending_at))
                                              : json::value(nullptr)},
      {"jobs", std::move(jobs)}};
  return json::object{{"queues", json::array{std::move(queue)}}};
}

}  // namespace nil::api
