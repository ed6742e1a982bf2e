// nil::api views — the JSON shapes of responses (docs/openapi.yaml). Field order is part of the
// API: clients and the integration tests read the bodies as text too, so every shape is built
// here and nowhere else.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace nil::api {

// Response text: doubles (durations in ms) rounded to microseconds, as plain decimals
// (common/json_text.h).
std::string to_json_text(const boost::json::value& v);

boost::json::value optional_string(const std::optional<std::string>& s);
boost::json::value optional_time(const std::optional<int64_t>& micros);

// `tier`: where the function runs now or on its next call (Invoker::tier).
boost::json::object function_json(const store::Function& f, std::string_view tier);
boost::json::object execution_json(const store::Execution& e);
// The answer of POST /functions/{ref}/execute, on the hot path: the output is already validated
// JSON text and is spliced in as is instead of being parsed and re-serialised.
std::string execute_body(const store::Execution& e);
// The problem+json of a failed v1 call (502 function_failed), with the execution's id.
std::string function_failed_body(const store::Execution& e, std::string_view instance);
boost::json::object environment_json(const store::Environment& e);  // secret values masked
boost::json::object user_json(const store::User& u);
boost::json::array members_json(const store::Group& g);
boost::json::object group_json(const store::Group& g);
boost::json::object api_key_json(const store::ApiKey& k);
boost::json::object queues_json(const store::QueueStats& q);
boost::json::object dead_letter_json(const store::DeadLetter& d);

// A page of a list: {"items": [...], "nextCursor": ...}.
template <typename T, typename Shape>
boost::json::object page_json(const store::Page<T>& page, Shape shape) {
  boost::json::array items;
  for (const auto& item : page.items) items.push_back(shape(item));
  return boost::json::object{{"items", std::move(items)},
                             {"nextCursor", optional_string(page.next_cursor)}};
}

}  // namespace nil::api
