#include "invoke/trigger.h"

namespace nil::invoke {

// Switches without a default: adding an enumerator warns (-Wswitch) until both names exist.
// The precise name is stored in executions."trigger": never rename one.
std::string_view to_string(Trigger t) {
  switch (t) {
    case Trigger::kHttp:
      return "http";
    case Trigger::kApi:
      return "api";
    case Trigger::kCron:
      return "cron";
    case Trigger::kWebhook:
      return "webhook";
    case Trigger::kDatabase:
      return "database";
    case Trigger::kQueue:
      return "queue";
    case Trigger::kReplay:
      return "replay";
  }
  return "other";
}

std::string_view faas_trigger(Trigger t) {
  switch (t) {
    case Trigger::kHttp:
      return "http";
    case Trigger::kCron:
      return "timer";
    case Trigger::kQueue:
      return "pubsub";
    case Trigger::kDatabase:
      return "datasource";
    case Trigger::kApi:
    case Trigger::kWebhook:
    case Trigger::kReplay:
      return "other";
  }
  return "other";
}

std::optional<Trigger> parse_trigger(std::string_view precise_name) {
  for (Trigger t : {Trigger::kHttp, Trigger::kApi, Trigger::kCron, Trigger::kWebhook,
                    Trigger::kDatabase, Trigger::kQueue, Trigger::kReplay}) {
    if (to_string(t) == precise_name) return t;
  }
  return std::nullopt;
}

}  // namespace nil::invoke
