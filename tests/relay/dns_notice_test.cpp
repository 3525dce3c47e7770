// SPDX-License-Identifier: MIT
// relay::dns_destination (DNS to the namespace's resolver, UDP and TCP alike, goes to the
// host's) and relay::note_gateway_denied (one message naming --allow-host-loopback).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "relay/destination.hpp"
#include "relay/dns.hpp"

namespace synack::relay {
namespace dns_notice_test {

wire::Endpoint ep(const char* addr, std::uint16_t port) {
  return wire::Endpoint{*wire::IpAddress::parse(addr), port};
}

RelayConfig config() {
  RelayConfig c;
  c.gateway = *wire::IpAddress::parse("198.18.0.2");
  c.gateway6 = *wire::IpAddress::parse("fd53:796e:6163::1");
  c.dns_upstream = ep("127.0.0.53", 53);
  return c;
}

TEST(RelayDns, ResolverAddressesOnPort53GoToTheUpstream) {
  RelayConfig c = config();
  EXPECT_EQ(dns_destination(c, ep("198.18.0.2", 53)), ep("127.0.0.53", 53));
  EXPECT_EQ(dns_destination(c, ep("fd53:796e:6163::1", 53)), ep("127.0.0.53", 53));
  EXPECT_FALSE(dns_destination(c, ep("198.18.0.3", 53))) << "no --cidr: .3 is not ours";
  EXPECT_FALSE(dns_destination(c, ep("198.18.0.2", 54)));
  EXPECT_FALSE(dns_destination(c, ep("198.19.0.9", 53))) << "another resolver: relayed as is";
  c.dns_addresses.push_back(*wire::IpAddress::parse("198.18.0.3"));
  EXPECT_EQ(dns_destination(c, ep("198.18.0.3", 53)), ep("127.0.0.53", 53));
  // Anything else to the resolver address goes nowhere, whatever the loopback flag.
  c.allow_host_loopback = true;
  EXPECT_EQ(std::get<Denial>(host_destination(c, ep("198.18.0.3", 80))), Denial::Martian);
  c.dns_upstream.reset();
  EXPECT_FALSE(dns_destination(c, ep("198.18.0.2", 53)));
}

TEST(RelayNotice, GatewayRefusalIsToldOnceAndOnlyWithoutTheFlag) {
  std::vector<std::string> told;
  RelayConfig c = config();
  c.on_notice = [&](const std::string& m) { told.push_back(m); };
  RelayStats stats;
  note_gateway_denied(c, stats, ep("127.0.0.1", 80), "a connection");  // not the gateway
  EXPECT_TRUE(told.empty());
  note_gateway_denied(c, stats, ep("198.18.0.2", 8080), "a connection");
  note_gateway_denied(c, stats, ep("fd53:796e:6163::1", 8080), "a datagram");
  ASSERT_EQ(told.size(), 1u);
  EXPECT_NE(told[0].find("--allow-host-loopback"), std::string::npos) << told[0];
  EXPECT_NE(told[0].find("198.18.0.2:8080"), std::string::npos) << told[0];
  EXPECT_EQ(stats.gateway_loopback_denied, 2u);
  c.allow_host_loopback = true;
  RelayStats allowed;
  note_gateway_denied(c, allowed, ep("198.18.0.2", 8080), "a connection");
  EXPECT_EQ(told.size(), 1u);
  EXPECT_EQ(allowed.gateway_loopback_denied, 0u);
}

}  // namespace dns_notice_test
}  // namespace synack::relay
