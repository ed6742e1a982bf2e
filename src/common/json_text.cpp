#include "common/json_text.h"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

namespace nil {

namespace json = boost::json;

void append_json_text(std::string& out, const json::value& v, int decimals) {
  switch (v.kind()) {
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string(kv.key()));
        out += ':';
        append_json_text(out, kv.value(), decimals);
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json_text(out, e, decimals);
      }
      out += ']';
      return;
    }
    case json::kind::double_: {
      double d = v.get_double();
      if (decimals >= 0) {
        double scale = std::pow(10.0, decimals);
        d = std::round(d * scale) / scale;
      }
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      char buf[400];  // a fixed-form double needs up to ~330 characters
      auto r = decimals >= 0 ? std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed)
                             : std::to_chars(buf, buf + sizeof buf, d);
      out.append(buf, r.ptr);
      return;
    }
    default:
      out += json::serialize(v);
  }
}

std::string to_json_text(const json::value& v, int decimals) {
  std::string out;
  out.reserve(256);
  append_json_text(out, v, decimals);
  return out;
}

}  // namespace nil
