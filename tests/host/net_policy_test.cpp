// Address classification and allow-list matching (pure logic, table-driven).
#include "host/net_policy.h"

#include <gtest/gtest.h>

namespace nil::host {
namespace {

TEST(NetPolicy, PrivateAndSpecialAddressesAreRecognised) {
  for (const char* a : {"127.0.0.1", "127.255.0.9", "10.0.0.1", "10.255.255.255", "172.16.0.1",
                        "172.31.255.254", "192.168.1.1", "169.254.169.254", "0.0.0.0", "0.1.2.3",
                        "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "::", "fc00::1",
                        "fd12:3456::1", "fe80::1", "febf::1", "ff02::1", "::ffff:127.0.0.1",
                        "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "[::1]"}) {
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
