// SPDX-License-Identifier: MIT
// UDP port forwards added and removed at run time through Relay::add_forward / remove_forward:
// a real host socket on 127.0.0.1, the "TUN" one end of a socket pair. A datagram from a host
// client reaches the guest's port through the forward, the guest's answer comes back, and
// removing the forward closes the host socket and ends the flow (counted). Ids are shared with
// TCP forwards; duplicates, overlaps and ports in use are refused with a message.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "relay/relay.hpp"
#include "relay/relay_fixture.hpp"
#include "synack/event_loop.hpp"
#include "synack/tun_device.hpp"
#include "wire/ip_header.hpp"
#include "wire/udp.hpp"

namespace synack::relay {
namespace {

using wire::IpAddress;

const IpAddress kGateway = IpAddress::v4(10, 0, 2, 2);
const IpAddress kGuest = IpAddress::v4(10, 0, 2, 100);
const IpAddress kLoopback = IpAddress::v4(127, 0, 0, 1);

using testing::free_loopback_port;

// A UDP socket on 127.0.0.1: bound to `port` (0: any), connected to `peer` (0: not).
int udp_socket(std::uint16_t port, std::uint16_t peer) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  if (peer) {
    sa.sin_port = htons(peer);
    ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  return fd;
}

PortForward udp_forward(IpAddress addr, std::uint16_t host_port, std::uint16_t guest_port) {
  PortForward f;
  f.host = wire::Endpoint{addr, host_port};
  f.guest_port = guest_port;
  f.protocol = ForwardProtocol::Udp;
  return f;
}

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

class UdpForwardTest : public testing::RelayFixture {
 protected:
  void SetUp() override {
    RelayFixture::SetUp();
    if (relay_)
      loop_->on_socket_event([this](const SocketEvent& ev) { relay_->on_socket_event(ev); });
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    RelayFixture::TearDown();
  }
  int keep(int fd) {
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }
  // Runs the event loop until `done` holds, one round per millisecond, at most `rounds`.
  template <typename Done>
  bool run_until(Done done, int rounds = 2000) {
    for (int round = 0; round < rounds; ++round) {
      if (done()) return true;
      loop_->call_at(loop_->now() + 1ms, [this] { loop_->stop(); });
      loop_->run();
    }
    return done();
  }
  // The next UDP packet synack wrote to the TUN, with its header and datagram.
  struct Written {
    wire::IpHeader ip;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::string payload;
  };
  std::optional<Written> written() {
    std::vector<std::byte> buffer(65536);
    while (true) {
      ssize_t n = ::recv(pair_[1], buffer.data(), buffer.size(), 0);
      if (n <= 0) return std::nullopt;
      std::span<const std::byte> packet(buffer.data(), static_cast<std::size_t>(n));
      auto ip = wire::parse_ip_header(packet);
      if (!ip || ip->protocol != wire::kProtoUdp) continue;
      auto udp = wire::parse_udp(*ip, packet.subspan(ip->header_length, ip->payload_length));
      if (!udp.datagram) continue;
      Written w{*ip, udp.datagram->src_port, udp.datagram->dst_port, {}};
      for (std::byte b : udp.datagram->payload) w.payload.push_back(static_cast<char>(b));
      return w;
    }
  }
  // The guest sends `text` from its port `sport` to the gateway's `dport`.
  void guest_sends(std::uint16_t sport, std::uint16_t dport, const std::string& text) {
    wire::IpHeader ip;
    ip.src = kGuest;
    ip.dst = kGateway;
    std::vector<std::byte> packet;
    wire::build_udp_packet(ip, sport, dport, bytes(text), packet);
    ASSERT_EQ(::send(pair_[1], packet.data(), packet.size(), 0),
              static_cast<ssize_t>(packet.size()));
  }
  static std::string receive(int fd, int* error) {
    char buffer[2048];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    *error = n < 0 ? errno : 0;
    return n < 0 ? std::string() : std::string(buffer, static_cast<std::size_t>(n));
  }

  std::vector<int> fds_;
};

TEST_F(UdpForwardTest, Added_at_run_time_carries_both_ways_and_removed_ends_its_flows) {
  const std::uint16_t port = free_loopback_port();
  auto id = relay_->add_forward(udp_forward(kLoopback, port, 53));
  ASSERT_TRUE(id) << id.error();
  EXPECT_EQ(*id, 1u);
  ASSERT_EQ(relay_->forwards().size(), 1u);
  EXPECT_EQ(relay_->forwards()[0].second.protocol, ForwardProtocol::Udp);

  // Host client -> the guest's port 53, from the gateway and a port of the dynamic range.
  const int client = keep(udp_socket(0, port));
  ASSERT_GE(client, 0);
  ASSERT_EQ(::send(client, "query", 5, 0), 5);
  std::optional<Written> in;
  ASSERT_TRUE(run_until([&] { return (in = written()).has_value(); }));
  EXPECT_EQ(in->ip.src, kGateway);
  EXPECT_EQ(in->ip.dst, kGuest);
  EXPECT_EQ(in->dst_port, 53);
  EXPECT_GE(in->src_port, 49152);
  EXPECT_EQ(in->payload, "query");

  // The guest's answer to that gateway port reaches the client.
  guest_sends(53, in->src_port, "answer");
  std::string got;
  int error = 0;
  ASSERT_TRUE(run_until([&] { return !(got = receive(client, &error)).empty(); }));
  EXPECT_EQ(got, "answer");
  RelayStats s = relay_->stats();
  EXPECT_EQ(s.udp_forward_flows, 1u);
  EXPECT_EQ(s.udp_forwarded_in, 1u);
  EXPECT_EQ(s.udp_forwarded_out, 1u);

  // Removed: the flow ends (counted), the host socket is closed (the port binds again, and the
  // client's next datagram is refused by the host: ICMP port unreachable on loopback).
  ASSERT_TRUE(relay_->remove_forward(*id));
  EXPECT_FALSE(relay_->remove_forward(*id));
  EXPECT_TRUE(relay_->forwards().empty());
  EXPECT_EQ(relay_->stats().udp_forward_flows_removed, 1u);
  ASSERT_EQ(::send(client, "again", 5, 0), 5);
  ASSERT_TRUE(run_until([&] {
    receive(client, &error);
    return error == ECONNREFUSED;
  }));
  EXPECT_FALSE(written()) << "a datagram reached the guest after the forward was removed";
  // The guest's answer to the ended flow is no longer passed to the host.
  guest_sends(53, in->src_port, "late");
  run_until([] { return false; }, 20);  // a few rounds: nothing to wait for
  EXPECT_EQ(relay_->stats().udp_forwarded_out, 1u);
  const int rebound = keep(udp_socket(port, 0));
  EXPECT_GE(rebound, 0) << "127.0.0.1:" << port << " still bound after remove_forward";
  if (rebound >= 0) {
    ::close(rebound);
    fds_.pop_back();
  }

  // Added again: a new id, never a reused one, and it carries datagrams again.
  auto again = relay_->add_forward(udp_forward(kLoopback, port, 53));
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*again, 2u);
  ASSERT_EQ(::send(client, "third", 5, 0), 5);
  ASSERT_TRUE(run_until([&] { return (in = written()).has_value(); }));
  EXPECT_EQ(in->payload, "third");
}

TEST_F(UdpForwardTest, Forwards_are_bounded_in_number_tcp_and_udp_together) {
  relay_.reset();
  config_.max_forwards = 2;
  auto relay = Relay::create(*stack_, *loop_, config_);
  ASSERT_TRUE(relay);
  relay_ = std::move(*relay);
  const std::uint16_t port = free_loopback_port();
  ASSERT_TRUE(relay_->add_forward(udp_forward(kLoopback, port, 53)));
  PortForward tcp = udp_forward(kLoopback, port, 53);
  tcp.protocol = ForwardProtocol::Tcp;
  ASSERT_TRUE(relay_->add_forward(tcp));
  auto third = relay_->add_forward(udp_forward(kLoopback, free_loopback_port(), 54));
  ASSERT_FALSE(third);
  EXPECT_NE(third.error().find("too many forwards (at most 2)"), std::string::npos)
      << third.error();
  ASSERT_TRUE(relay_->remove_forward(1));
  EXPECT_TRUE(relay_->add_forward(udp_forward(kLoopback, free_loopback_port(), 54)))
      << "room again after a remove";
}

TEST_F(UdpForwardTest, Ids_shared_with_tcp_and_duplicates_overlaps_ports_in_use_refused) {
  const std::uint16_t port = free_loopback_port();
  auto udp = relay_->add_forward(udp_forward(kLoopback, port, 53));
  ASSERT_TRUE(udp) << udp.error();
  // TCP on the same host port is another forward; one sequence of ids.
  PortForward tcp = udp_forward(kLoopback, port, 53);
  tcp.protocol = ForwardProtocol::Tcp;
  auto tcp_id = relay_->add_forward(tcp);
  ASSERT_TRUE(tcp_id) << tcp_id.error();
  EXPECT_EQ(*tcp_id, *udp + 1);
  auto list = relay_->forwards();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].first, *udp);
  EXPECT_EQ(list[0].second.protocol, ForwardProtocol::Udp);
  EXPECT_EQ(list[1].second.protocol, ForwardProtocol::Tcp);

  auto twice = relay_->add_forward(udp_forward(kLoopback, port, 54));
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().find("forwarded already"), std::string::npos) << twice.error();
  auto overlap = relay_->add_forward(udp_forward(IpAddress::v4(0, 0, 0, 0), port, 53));
  ASSERT_FALSE(overlap);
  EXPECT_NE(overlap.error().find("overlaps forward"), std::string::npos) << overlap.error();

  const std::uint16_t busy_port = free_loopback_port();
  const int busy = keep(udp_socket(busy_port, 0));
  ASSERT_GE(busy, 0);
  auto in_use = relay_->add_forward(udp_forward(kLoopback, busy_port, 53));
  ASSERT_FALSE(in_use);
  EXPECT_NE(in_use.error().find("bind"), std::string::npos) << in_use.error();
  auto zero = relay_->add_forward(udp_forward(kLoopback, 0, 53));
  EXPECT_FALSE(zero);
  EXPECT_EQ(relay_->forwards().size(), 2u);
  // A refused add takes no id.
  auto next = relay_->add_forward(udp_forward(kLoopback, free_loopback_port(), 7));
  ASSERT_TRUE(next) << next.error();
  EXPECT_EQ(*next, *tcp_id + 1);
  // Removing the UDP forward leaves the TCP one of the same port.
  EXPECT_TRUE(relay_->remove_forward(*udp));
  list = relay_->forwards();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].first, *tcp_id);
}

TEST_F(UdpForwardTest, Draining_refuses_new_forwards_and_closes_udp_ones) {
  const std::uint16_t port = free_loopback_port();
  ASSERT_TRUE(relay_->add_forward(udp_forward(kLoopback, port, 53)));
  relay_->begin_drain();
  EXPECT_TRUE(relay_->forwards().empty());
  EXPECT_FALSE(relay_->add_forward(udp_forward(kLoopback, free_loopback_port(), 53)));
  const int rebound = keep(udp_socket(port, 0));
  EXPECT_GE(rebound, 0) << "127.0.0.1:" << port << " still bound after begin_drain";
}

}  // namespace
}  // namespace synack::relay
