// nil::invoke::Trigger — what started an invocation.
//
// Every invocation has exactly one trigger kind. Two names follow from it:
//  - to_string(): our precise kind ("http", "api", "cron", ...). This is what the execution record
//    stores in its `trigger` column and what the API answers; "http" and "api" are the values
//    stored since the first release and must never change.
//  - faas_trigger(): the OpenTelemetry semantic-convention value of `faas.trigger` ("http",
//    "timer", "pubsub", "datasource", "other"), for metrics and traces. It is derived, never
//    stored: the precise kind determines it.
//
// Adding a trigger kind: a value here, its two names in trigger.cpp, and a source that builds an
// InvocationContext (context.h) and hands it to the Invoker. Nothing in src/api changes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nil::invoke {

enum class Trigger : uint8_t {
  kHttp,      // POST /functions/v1/{name}: the function's output is the HTTP answer
  kApi,       // POST /functions/{ref}/execute: the answer is the execution record
  kCron,      // a schedule's tick
  kWebhook,   // an inbound webhook delivery
  kDatabase,  // a database change event
  kQueue,     // a message from an asynchronous queue
  kReplay,    // an earlier execution run again with its recorded input
};

// Our precise kind: "http", "api", "cron", "webhook", "database", "queue", "replay".
std::string_view to_string(Trigger t);
// OpenTelemetry `faas.trigger`: http → "http", cron → "timer", queue → "pubsub",
// database → "datasource", everything else (api, webhook, replay) → "other".
std::string_view faas_trigger(Trigger t);
// The inverse of to_string(); nullopt for an unknown string (e.g. a record written by a newer
// nild).
std::optional<Trigger> parse_trigger(std::string_view precise_name);

// What the trigger knows about this particular invocation. Every field is optional: a trigger
// sets those that apply to it (a cron tick its schedule and tick time, a retried queue message
// its attempt number...). Held by the InvocationContext for observers; not stored yet.
struct TriggerDetails {
  std::optional<std::string> schedule_id;  // cron: the schedule that fired
  std::optional<int64_t> tick_at_micros;   // cron: the tick's nominal time (Unix µs)
  std::optional<std::string> webhook_delivery_id;
  std::optional<std::string> database_event_id;
  std::optional<uint32_t> attempt;  // retries (queue, webhook): 1 for the first try
  // A record the trigger already holds (the queue's QUEUED/RUNNING record): the invocation is
  // recorded under this id, and the trigger stores the finished record itself (the queue's
  // fenced completion), so the Invoker does not submit it to the ExecutionWriter.
  std::optional<std::string> execution_id;
};

}  // namespace nil::invoke
