// JSON text for people and programs that read numbers: Boost.JSON 1.81 prints every double in
// exponent form (0.5 → 5E-1), so the API's responses and the CLI's output are written by this
// serializer instead. Doubles: non-finite → null; otherwise, with `decimals` < 0, the shortest
// form that reads back the same (std::to_chars), or rounded to `decimals` places and printed
// as a plain decimal. Everything else exactly as Boost.JSON writes it.
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace nil {

void append_json_text(std::string& out, const boost::json::value& v, int decimals = -1);
std::string to_json_text(const boost::json::value& v, int decimals = -1);

}  // namespace nil
