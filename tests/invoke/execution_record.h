// A minimal SUCCEEDED execution record for the ExecutionWriter tests: input {"i":N} so that each
// record of a test is told apart, started now, 1 µs long.
#pragma once

#include <string>

#include "common/util.h"
#include "store/store.h"

namespace nil::invoke {

inline store::Execution test_record(const std::string& function_id, int i) {
  store::Execution e;
  e.id = new_uuid_v7();
  e.function_id = function_id;
  e.status = store::ExecutionStatus::kSucceeded;
  e.input = "{\"i\":" + std::to_string(i) + "}";
  e.output = "{}";
  e.started_at = now_micros();
  e.finished_at = e.started_at + 1;
  e.trigger = "api";
  e.host_calls = "[]";
  return e;
}

}  // namespace nil::invoke
