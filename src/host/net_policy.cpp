#include "host/net_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace nil::host {
namespace {

bool private_v4(uint32_t a) {  // host byte order
  auto in = [a](uint32_t net, int bits) {
    uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return (a & mask) == net;
  };
  return in(0x00000000, 8)      // 0.0.0.0/8 "this network", incl. 0.0.0.0
         || in(0x0A000000, 8)   // 10/8
         || in(0x7F000000, 8)   // 127/8 loopback
         || in(0x64400000, 10)  // 100.64/10 carrier-grade NAT
         || in(0xA9FE0000, 16)  // 169.254/16 link-local (cloud metadata lives here)
         || in(0xAC100000, 12)  // 172.16/12
         || in(0xC0A80000, 16)  // 192.168/16
         || in(0xC0000000, 24)  // 192.0.0/24 IETF protocol assignments
         || in(0xC0000200, 24)  // 192.0.2/24 documentation (TEST-NET-1)
         || in(0xC0586300, 24)  // 192.88.99/24 former 6to4 relay anycast
         || in(0xC6336400, 24)  // 198.51.100/24 documentation (TEST-NET-2)
         || in(0xCB007100, 24)  // 203.0.113/24 documentation (TEST-NET-3)
         || in(0xC6120000, 15)  // 198.18/15 benchmarking
         || in(0xE0000000, 4)   // 224/4 multicast
         || in(0xF0000000, 4);  // 240/4 reserved, incl. 255.255.255.255
}

uint32_t v4_at(const uint8_t* b) {  // four bytes, network order → host order
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

// IPv6 is judged by where a packet would really go: a prefix that carries an IPv4 address
// (mapped, compatible, SIIT, NAT64, 6to4, Teredo) reaches that IPv4 address through a
// translator, relay or tunnel, so it is private when the IPv4 address is.
bool private_v6(const in6_addr& a) {
  const uint8_t* b = a.s6_addr;
  static const uint8_t kZero[16] = {};
  if (std::memcmp(b, kZero, 16) == 0) return true;                // :: unspecified
  if (std::memcmp(b, kZero, 15) == 0 && b[15] == 1) return true;  // ::1 loopback
  if ((b[0] & 0xFE) == 0xFC) return true;                         // fc00::/7 unique local
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return true;         // fe80::/10 link-local
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return true;         // fec0::/10 site-local
  if (b[0] == 0xFF) return true;                                  // ff00::/8 multicast
  // 100::/64 discard-only; 2001:db8::/32 documentation: never a real destination.
  static const uint8_t kDiscard[8] = {0x01, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, kDiscard, 8) == 0) return true;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true;
  // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): a site's own translator, whatever the prefix
  // length it embeds the IPv4 address with — refused outright.
  static const uint8_t kNat64Local[6] = {0, 0x64, 0xff, 0x9b, 0, 0x01};
  if (std::memcmp(b, kNat64Local, 6) == 0) return true;
  bool mapped = std::memcmp(b, kZero, 10) == 0 && b[10] == 0xFF && b[11] == 0xFF;  // ::ffff:a.b.c.d
  bool compat = std::memcmp(b, kZero, 12) == 0;                                    // ::a.b.c.d
  bool siit = std::memcmp(b, kZero, 8) == 0 && b[8] == 0xFF && b[9] == 0xFF &&  // ::ffff:0:a.b.c.d
              b[10] == 0 && b[11] == 0;
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};  // 64:ff9b::/96
  if (mapped || compat || siit || std::memcmp(b, kNat64, 12) == 0) return private_v4(v4_at(b + 12));
  // 2002::/16 6to4: the IPv4 address of the site's relay follows the prefix (bits 16-47).
  if (b[0] == 0x20 && b[1] == 0x02) return private_v4(v4_at(b + 2));
  // 2001::/32 Teredo: the server's IPv4 address in bits 32-63, the client's (the one packets
  // are tunnelled to) in the last 32 bits, inverted. Either one private is enough.
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
    return private_v4(v4_at(b + 4)) || private_v4(~v4_at(b + 12));
  }
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

bool is_private_address(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    return private_v4(ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr));
  }
  if (addr->sa_family == AF_INET6) {
    return private_v6(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr);
  }
  return true;  // anything else is not a place to send HTTP
}

bool is_private_address_text(std::string_view text) {
  std::string s(text);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return private_v4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) return private_v6(v6);
  return false;
}

bool host_allowed(const std::vector<std::string>& allow, std::string_view host, int port) {
  std::string h = lower(host);
  std::string with_port = h + ":" + std::to_string(port);
  for (const std::string& entry : allow) {
    std::string e = lower(entry);
    if (e == h || e == with_port) return true;
  }
  return false;
}

}  // namespace nil::host
