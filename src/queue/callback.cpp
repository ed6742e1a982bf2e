#include "queue/callback.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "common/log.h"
#include "common/util.h"
#include "host/http_fetch.h"

namespace nil::queue {

std::string webhook_signature(std::string_view secret, std::string_view msg_id, int64_t timestamp,
                              std::string_view body) {
  std::string_view b64 = secret;
  if (b64.starts_with("whsec_")) b64.remove_prefix(6);
  std::string key = base64_decode(b64).value_or(std::string(b64));
  std::string signed_content =
      std::string(msg_id) + "." + std::to_string(timestamp) + "." + std::string(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(signed_content.data()), signed_content.size(), mac,
       &len);
  return "v1," + base64_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

CallbackSender::CallbackSender(host::HostConfig cfg, std::chrono::milliseconds first_retry,
                               int max_tries)
    : cfg_(std::move(cfg)),
      first_retry_(first_retry),
      max_tries_(max_tries),
      thread_([this] { run(); }) {}

CallbackSender::~CallbackSender() { stop(); }

void CallbackSender::deliver(std::string url, std::string msg_id, std::string secret,
                             std::string body) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    pending_.push_back(Delivery{std::move(url), std::move(msg_id), std::move(secret),
                                std::move(body), 0, std::chrono::steady_clock::now()});
  }
  cv_.notify_one();
}

void CallbackSender::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  for (const auto& d : pending_)
    log::warn("callback not delivered (shutdown)", {{"executionId", d.msg_id}, {"url", d.url}});
}

bool CallbackSender::send(const Delivery& d) {
  auto url = boost::urls::parse_absolute_uri(d.url);
  if (!url) return true;  // validated at enqueue; nothing to retry
  // The URL's host (and port) is the allow-list: the caller named it; the address policy of
  // http_fetch still applies.
  std::string host = url->host_address();
  if (url->host_type() == boost::urls::host_type::ipv6) host = "[" + host + "]";
  std::vector<std::string> allow = {host};
  int64_t ts = now_micros() / 1'000'000;
  boost::json::object req{
      {"method", "POST"},
      {"url", d.url},
      {"headers", boost::json::object{{"content-type", "application/json"},
                                      {"webhook-id", d.msg_id},
                                      {"webhook-timestamp", std::to_string(ts)},
                                      {"webhook-signature",
                                       webhook_signature(d.secret, d.msg_id, ts, d.body)}}},
      {"body", d.body}};
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.http_timeout_ms);
  auto answer = host::http_fetch(cfg_, allow, boost::json::serialize(req), deadline);
  if (!answer) {
    log::warn("callback failed",
              {{"executionId", d.msg_id}, {"error", answer.error().message}, {"try", d.tries + 1}});
    return answer.error().code == ErrorCode::kHostNotAllowed ||
           answer.error().code == ErrorCode::kAddressNotAllowed;  // refused: never retried
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(*answer, ec);
  int64_t status = 0;
  if (!ec && v.is_object() && v.as_object().contains("status") &&
      v.as_object().at("status").is_int64())
    status = v.as_object().at("status").as_int64();
  if (status >= 200 && status < 300) return true;
  log::warn("callback answered non-2xx",
            {{"executionId", d.msg_id}, {"status", status}, {"try", d.tries + 1}});
  return false;
}

void CallbackSender::run() {
  for (;;) {
    Delivery d;
    {
      std::unique_lock lk(mu_);
      for (;;) {
        if (stopping_) return;
        if (!pending_.empty()) {
          auto it =
              std::min_element(pending_.begin(), pending_.end(),
                               [](const Delivery& a, const Delivery& b) { return a.due < b.due; });
          if (it->due <= std::chrono::steady_clock::now()) {
            d = std::move(*it);
            pending_.erase(it);
            break;
          }
          cv_.wait_until(lk, it->due);
        } else {
          cv_.wait(lk);
        }
      }
    }
    if (send(d)) continue;
    if (++d.tries >= max_tries_) {
      log::warn("callback given up", {{"executionId", d.msg_id}, {"url", d.url}});
      continue;
    }
    d.due = std::chrono::steady_clock::now() + first_retry_ * (1 << (d.tries - 1));
    std::lock_guard lk(mu_);
    pending_.push_back(std::move(d));
  }
}

}  // namespace nil::queue
