// nil.http_fetch behind the host interface (nil::host, private): one outbound HTTP(S) request
// with libcurl's easy interface, under the function's allow-list and the server's address rules
// (net_policy.h), a timeout, a response-size cap and manually followed redirects (every hop is
// checked again). The request and answer JSON are documented in docs/abi.md.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "host/host.h"

namespace nil::host {

// Once per process, before any fetch (curl_global_init is not thread-safe).
void init_http();

// Error codes: invalid_request, host_not_allowed, address_not_allowed, timeout,
// response_too_large, too_many_redirects, fetch_failed.
Expected<std::string> http_fetch(const HostConfig& cfg, const std::vector<std::string>& allow,
                                 std::string_view request_json,
                                 std::chrono::steady_clock::time_point deadline);

}  // namespace nil::host
