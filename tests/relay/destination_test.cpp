// SPDX-License-Identifier: MIT
// relay::host_destination: the one check of where a relayed connection or datagram may go.
#include <gtest/gtest.h>

#include "relay/destination.hpp"

namespace synack::relay {
using namespace synack::relay;
namespace destination_test {

wire::Endpoint ep(const char* addr, std::uint16_t port) {
  return wire::Endpoint{*wire::IpAddress::parse(addr), port};
}

RelayConfig config(bool allow) {
  RelayConfig c;
  c.gateway = *wire::IpAddress::parse("198.18.0.1");
  c.gateway6 = *wire::IpAddress::parse("fd53:796e:6163::1");
  c.allow_host_loopback = allow;
  return c;
}

TEST(RelayDestination, Gateway_reaches_host_loopback_only_with_the_flag) {
  EXPECT_EQ(std::get<Denial>(host_destination(config(false), ep("198.18.0.1", 80))),
            Denial::HostLoopback);
  EXPECT_EQ(std::get<Denial>(host_destination(config(false), ep("fd53:796e:6163::1", 80))),
            Denial::HostLoopback);
  EXPECT_EQ(std::get<wire::Endpoint>(host_destination(config(true), ep("198.18.0.1", 80))),
            ep("127.0.0.1", 80));
  EXPECT_EQ(std::get<wire::Endpoint>(host_destination(config(true), ep("fd53:796e:6163::1", 80))),
            ep("::1", 80));
}

// Issue 11: ::ffff:127.0.0.1 and ::ffff:0.0.0.0 reached host services on 127.0.0.1.
TEST(RelayDestination, Every_loopback_form_is_refused_with_or_without_the_flag) {
  for (bool allow : {false, true}) {
    for (const char* addr :
         {"127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::", "::ffff:0.0.0.0",
          "::127.0.0.1", "::ffff:0:127.0.0.1", "64:ff9b::127.0.0.1", "2002:7f00:1::"}) {
      auto v = host_destination(config(allow), ep(addr, 22));
      ASSERT_TRUE(std::holds_alternative<Denial>(v)) << addr;
      EXPECT_EQ(std::get<Denial>(v), Denial::HostLoopback) << addr;
    }
  }
}

TEST(RelayDestination, Other_special_purpose_destinations_are_martians) {
  for (const char* addr : {"224.0.0.1", "255.255.255.255", "240.1.1.1", "0.1.2.3", "ff02::1",
                           "169.254.169.254", "fe80::1", "::ffff:224.0.0.1"}) {
    auto v = host_destination(config(true), ep(addr, 80));
    ASSERT_TRUE(std::holds_alternative<Denial>(v)) << addr;
    EXPECT_EQ(std::get<Denial>(v), Denial::Martian) << addr;
  }
}

TEST(RelayDestination, Ordinary_destinations_pass_unchanged) {
  for (const char* addr : {"198.18.7.7", "10.1.2.3", "::ffff:198.18.7.7", "2001:db8::5"})
    EXPECT_EQ(std::get<wire::Endpoint>(host_destination(config(false), ep(addr, 443))),
              ep(addr, 443));
}

}  // namespace destination_test
}  // namespace synack::relay
