// Trigger names: the precise kind (stored in executions."trigger" — "http" and "api" must stay
// byte-for-byte what they were) and the OpenTelemetry faas.trigger value.
#include "invoke/trigger.h"

#include <gtest/gtest.h>

namespace nil::invoke {
namespace {

struct Row {
  Trigger trigger;
  const char* precise;
  const char* faas;
};

TEST(Trigger, NamesAndFaasTrigger) {
  const Row rows[] = {
      {Trigger::kHttp, "http", "http"},
      {Trigger::kApi, "api", "other"},
      {Trigger::kCron, "cron", "timer"},
      {Trigger::kWebhook, "webhook", "other"},
      {Trigger::kDatabase, "database", "datasource"},
      {Trigger::kQueue, "queue", "pubsub"},
      {Trigger::kReplay, "replay", "other"},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(to_string(r.trigger), r.precise);
    EXPECT_EQ(faas_trigger(r.trigger), r.faas) << r.precise;
    EXPECT_EQ(parse_trigger(r.precise), r.trigger) << r.precise;
  }
  EXPECT_FALSE(parse_trigger("timer"));  // an OpenTelemetry value is not a precise kind
  EXPECT_FALSE(parse_trigger(""));
  EXPECT_FALSE(parse_trigger("HTTP"));
}

}  // namespace
}  // namespace nil::invoke
