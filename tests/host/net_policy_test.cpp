// Address classification and allow-list matching (pure logic, table-driven).
#include "host/net_policy.h"

#include <gtest/gtest.h>

namespace nil::host {
namespace {

TEST(NetPolicy, PrivateAndSpecialAddressesAreRecognised) {
  for (const char* a : {"127.0.0.1",
                        "127.255.0.9",
                        "10.0.0.1",
                        "10.255.255.255",
                        "172.16.0.1",
                        "172.31.255.254",
                        "192.168.1.1",
                        "169.254.169.254",
                        "0.0.0.0",
                        "0.1.2.3",
                        "100.64.0.1",
                        "224.0.0.1",
                        "255.255.255.255",
                        "::1",
                        "::",
                        "fc00::1",
                        "fd12:3456::1",
                        "fe80::1",
                        "febf::1",
                        "ff02::1",
                        "::ffff:127.0.0.1",
                        "::ffff:10.0.0.1",
                        "::ffff:169.254.169.254",
                        "64:ff9b::a00:1",
                        "[::1]"}) {
    EXPECT_TRUE(is_private_address_text(a)) << a;
  }
}

TEST(NetPolicy, PublicAddressesAreNotPrivate) {
  for (const char* a : {"1.1.1.1", "8.8.8.8", "172.15.255.255", "172.32.0.1", "192.167.1.1",
                        "169.253.1.1", "11.0.0.1", "100.128.0.1", "2001:4860:4860::8888",
                        "2606:4700::1111", "::ffff:8.8.8.8", "fec0::1" /* site-local: private */}) {
    if (std::string_view(a) == "fec0::1") {
      EXPECT_TRUE(is_private_address_text(a)) << a;
    } else {
      EXPECT_FALSE(is_private_address_text(a)) << a;
    }
  }
  EXPECT_FALSE(is_private_address_text("example.com"));  // not an address at all
}

// IPv6 prefixes that carry an IPv4 address reach that address (through a relay, a tunnel or a
// translator): they are private when the embedded IPv4 address is (issue 11).
TEST(NetPolicy, IPv6FormsEmbeddingAPrivateIPv4AddressArePrivate) {
  for (const char* a :
       {// 6to4 (2002::/16): the IPv4 address follows the prefix.
        "2002:7f00:1::1", "2002:a00:1::", "2002:a9fe:a9fe::1", "2002:c0a8:101:0:1:2:3:4",
        "2002:0:0::1",
        // Teredo (2001::/32): client IPv4 = last 32 bits inverted; server IPv4 in bits 32-63.
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  // client 127.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  // client 10.0.0.1
        "2001:0:4136:e378:8000:63bf:5601:5601",  // client 169.254.169.254
        "2001:0:a00:1:8000:63bf:f7f7:f7f7",      // server 10.0.0.1
                                             // NAT64: the well-known prefix by its IPv4 part, the
                                             // local-use prefix always.
        "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::808:808", "64:ff9b:1:ffff::1",
        // IPv4-compatible, IPv4-mapped (both spellings), SIIT IPv4-translated.
        "::127.0.0.1", "::10.1.2.3", "::ffff:7f00:1", "::ffff:a9fe:a9fe", "::ffff:0:7f00:1",
        "::ffff:0:10.0.0.1",
        // Documentation and discard-only prefixes are never a real destination.
        "2001:db8::1", "100::1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "192.88.99.1"}) {
    EXPECT_TRUE(is_private_address_text(a)) << a;
  }
}

TEST(NetPolicy, IPv6FormsEmbeddingAPublicIPv4AddressArePublic) {
  for (const char* a :
       {"2002:808:808::1", "2001:0:4136:e378:8000:63bf:f7f7:f7f7", "64:ff9b::808:808", "::8.8.8.8",
        "::ffff:0:808:808", "2001:4860::1", "2001:1::1" /* not Teredo: 2001:0::/32 only */}) {
    EXPECT_FALSE(is_private_address_text(a)) << a;
  }
}

TEST(NetPolicy, AllowListMatchesHostOrHostAndPort) {
  std::vector<std::string> allow = {"api.example.com", "127.0.0.1:8081", "[::1]:9000"};
  EXPECT_TRUE(host_allowed(allow, "api.example.com", 443));
  EXPECT_TRUE(host_allowed(allow, "api.example.com", 8443));
  EXPECT_TRUE(host_allowed(allow, "API.Example.com", 80));
  EXPECT_TRUE(host_allowed(allow, "127.0.0.1", 8081));
  EXPECT_FALSE(host_allowed(allow, "127.0.0.1", 8082));
  EXPECT_TRUE(host_allowed(allow, "[::1]", 9000));
  EXPECT_FALSE(host_allowed(allow, "example.com", 443));
  EXPECT_FALSE(host_allowed(allow, "evil-api.example.com", 443));
  EXPECT_FALSE(host_allowed(allow, "api.example.com.evil.net", 443));
  EXPECT_FALSE(host_allowed({}, "api.example.com", 443));  // default: nothing
}

}  // namespace
}  // namespace nil::host
