// Which outbound HTTP targets a function may reach (nil::host, private to the component and its
// tests). Two independent checks, both required:
//   - the host (or host:port) is on the function's allow-list (FunctionGrants::http_allow);
//   - every address the name resolves to is public, unless private targets are allowed by the
//     server (HostConfig::http_allow_private) for hosts the function lists explicitly.
// The resolved address is then pinned for the connection (CURLOPT_RESOLVE), so a second DNS
// answer (rebinding) can never reach an address that was not checked.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nil::host {

// True for loopback, unspecified, private (RFC 1918, fc00::/7), link-local (169.254/16,
// fe80::/10), carrier-grade NAT (100.64/10), multicast, broadcast, documentation and other
// reserved addresses. IPv6 addresses that embed an IPv4 address are judged by it: IPv4-mapped
// (::ffff:0:0/96), IPv4-compatible (::/96), SIIT (::ffff:0:0:0/96), NAT64 (64:ff9b::/96),
// 6to4 (2002::/16) and Teredo (2001::/32: server or client address); local-use NAT64
// (64:ff9b:1::/48) is always private.
bool is_private_address(const sockaddr* addr);

// Same, for a numeric address text ("10.1.2.3", "::1"); false when it is not an address.
bool is_private_address_text(std::string_view text);

// Whether `host` (lower case, IPv6 literals in brackets) on `port` is on the allow-list. An entry
// is a host (any port) or host:port; host names compare case-insensitively.
bool host_allowed(const std::vector<std::string>& allow, std::string_view host, int port);

}  // namespace nil::host
