// SPDX-License-Identifier: MIT
// relay/steering.hpp: which datagrams belong to the first lane of `synack run --queues`.
#include "relay/steering.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "wire/packet.hpp"
#include "wire/udp.hpp"

namespace synack::relay {
namespace {

using wire::IpAddress;

std::vector<std::byte> udp_packet(const IpAddress& src, const IpAddress& dst, std::uint16_t sport,
                                  std::uint16_t dport) {
  std::vector<std::byte> out;
  const std::vector<std::byte> payload(5, std::byte{1});
  wire::IpHeader ip;
  ip.src = src;
  ip.dst = dst;
  wire::build_udp_packet(ip, sport, dport, payload, out);
  return out;
}

TEST(Steering, UdpSourcePortOfIpv4AndIpv6Datagrams) {
  auto v4 = udp_packet(IpAddress::v4(198, 18, 0, 2), IpAddress::v4(198, 18, 0, 1), 5353, 53);
  EXPECT_EQ(udp_source_port(v4), 5353);
  auto v6 = udp_packet(*IpAddress::parse("fd53:796e:6163::2"),
                       *IpAddress::parse("fd53:796e:6163::1"), 7001, 53);
  EXPECT_EQ(udp_source_port(v6), 7001);
}

TEST(Steering, NotUdpTruncatedOrAFragmentIsNoDatagramToSteer) {
  auto v4 = udp_packet(IpAddress::v4(198, 18, 0, 2), IpAddress::v4(198, 18, 0, 1), 5353, 53);
  auto tcp = v4;
  tcp[9] = std::byte{6};
  EXPECT_FALSE(udp_source_port(tcp));
  auto fragment = v4;
  fragment[7] = std::byte{1};  // fragment offset 8 bytes: no UDP header here (RFC 791)
  EXPECT_FALSE(udp_source_port(fragment));
  auto more = v4;
  more[6] = std::byte{0x20};  // MF: the first fragment, dropped by the stack anyway
  EXPECT_FALSE(udp_source_port(more));
  EXPECT_FALSE(udp_source_port(std::span(v4).first(21)));  // IP header, half a UDP header
  EXPECT_FALSE(udp_source_port({}));
  auto bad_ihl = v4;
  bad_ihl[0] = std::byte{0x41};  // IHL 4: less than an IPv4 header
  EXPECT_FALSE(udp_source_port(bad_ihl));
  std::vector<std::byte> junk(40, std::byte{0xff});
  EXPECT_FALSE(udp_source_port(junk));
}

TEST(Steering, ForwardPortsPerProtocolSeenFromOtherThreads) {
  ForwardPorts ports;
  EXPECT_FALSE(ports.contains(ForwardProtocol::Udp, 53));
  std::thread writer([&] {
    ports.add(ForwardProtocol::Udp, 53);
    ports.add(ForwardProtocol::Tcp, 65535);
    ports.add(ForwardProtocol::Udp, 0);
  });
  writer.join();
  EXPECT_TRUE(ports.contains(ForwardProtocol::Udp, 53));
  EXPECT_FALSE(ports.contains(ForwardProtocol::Tcp, 53)) << "per protocol";
  EXPECT_FALSE(ports.contains(ForwardProtocol::Udp, 54));
  EXPECT_FALSE(ports.contains(ForwardProtocol::Udp, 52));
  EXPECT_TRUE(ports.contains(ForwardProtocol::Tcp, 65535));
  EXPECT_TRUE(ports.contains(ForwardProtocol::Udp, 0));
  EXPECT_FALSE(ports.contains(ForwardProtocol::Udp, 64));
}

}  // namespace
}  // namespace synack::relay
