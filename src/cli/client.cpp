#include "cli/client.h"

#include <curl/curl.h>

#include <cctype>
#include <cstring>

namespace nil::cli {

namespace {

size_t append_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// "Connection refused" → "connection refused": the message continues a sentence.
std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace

struct ApiClient::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

ApiClient::ApiClient(std::string base_url, std::string api_key)
    : base_url_(std::move(base_url)),
      api_key_(std::move(api_key)),
      handle_(std::make_unique<Handle>()) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

ApiClient::~ApiClient() = default;

Expected<HttpReply> ApiClient::send(std::string_view method, std::string_view path,
                                    std::string_view body, std::string_view content_type,
                                    const Headers& extra) {
  if (!handle_->curl) handle_->curl = curl_easy_init();
  CURL* c = handle_->curl;
  if (!c) return make_foreign_error("internal_error", "libcurl failed to initialise");
  curl_easy_reset(c);  // keeps the connection cache: the next request reuses the connection

  std::string url = base_url_ + std::string(path);
  HttpReply reply;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  // No overall timeout: an invocation may legitimately run up to its limit (15 minutes at most).
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "nil-cli/1");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");

  std::string m(method);
  if (m == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m.c_str());
    if (m != "DELETE" || !body.empty()) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }

  struct curl_slist* headers = nullptr;
  std::string auth = "Authorization: Bearer " + api_key_;
  std::string ct = "Content-Type: " + std::string(content_type);
  if (!api_key_.empty()) headers = curl_slist_append(headers, auth.c_str());
  if (!content_type.empty()) headers = curl_slist_append(headers, ct.c_str());
  headers = curl_slist_append(headers, "Accept: application/json, application/problem+json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip for big sources
  for (const auto& [name, value] : extra) {
    // libcurl drops "Name:" (empty value) as a removal; "Name;" sends the header empty.
    std::string line = name;
    line += value.empty() ? ";" : ": ";
    line += value;
    headers = curl_slist_append(headers, line.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    long os_errno = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    std::string why;
    if ((rc == CURLE_COULDNT_CONNECT || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) &&
        os_errno != 0) {
      why = lower_first(std::strerror(static_cast<int>(os_errno)));
    } else if (rc == CURLE_COULDNT_RESOLVE_HOST) {
      why = "unknown host";
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
      why = "timed out";
    } else if (rc == CURLE_GOT_NOTHING) {
      why = "the server closed the connection without answering";
    } else {
      why = lower_first(errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    return make_foreign_error("unreachable", "cannot reach " + base_url_ + ": " + why);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  const char* ctype = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
  if (ctype) reply.content_type = ctype;
  return reply;
}

Error error_from_reply(const HttpReply& reply) {
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.as_object();
    auto text = [&](std::string_view key) -> std::string {
      auto it = o.find(key);
      return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
    };
    std::string code = text("code");
    std::string detail = text("detail");
    if (detail.empty()) detail = text("title");
    if (!code.empty()) {
      return make_foreign_error(
          code, (detail.empty() ? "the server refused the request" : detail) + " (" + code + ")");
    }
  }
  std::string snippet = reply.body.substr(0, 200);
  for (char& ch : snippet) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return make_foreign_error("http_" + std::to_string(reply.status),
                            "the server answered HTTP " + std::to_string(reply.status) +
                                (snippet.empty() ? "" : ": " + snippet));
}

Expected<JsonReply> ApiClient::call(std::string_view method, std::string_view path,
                                    const json::value* body, const Headers& extra) {
  std::string text = body ? json::serialize(*body) : std::string();
  HttpReply reply = NIL_TRY(send(method, path, text, body ? "application/json" : "", extra));
  if (reply.status < 200 || reply.status >= 300) return error_from_reply(reply);
  JsonReply out;
  out.status = reply.status;
  if (reply.status == 204 || reply.body.empty()) return out;
  boost::system::error_code ec;
  out.value = json::parse(reply.body, ec);
  if (ec) {
    return make_foreign_error("bad_response", "the server at " + base_url_ +
                                                  " did not answer JSON (is it a NIL server?)");
  }
  out.text = std::move(reply.body);
  return out;
}

std::string path_segment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

}  // namespace nil::cli
