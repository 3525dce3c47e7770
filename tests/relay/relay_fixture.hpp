// SPDX-License-Identifier: MIT
// What the relay's tests share: a free port on 127.0.0.1, and a relay on an intercepting stack
// whose event loop runs on one end of a socket pair standing in for the TUN (gateway 10.0.2.2,
// guest 10.0.2.100, slirp4netns's layout).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "relay/relay.hpp"
#include "synack/event_loop.hpp"
#include "synack/stack.hpp"
#include "synack/tun_device.hpp"
#include "wire/packet.hpp"

namespace synack::relay::testing {

// A port on 127.0.0.1 that neither a TCP nor a UDP socket holds at the moment.
inline std::uint16_t free_loopback_port() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
    int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    ::bind(udp, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    ::getsockname(udp, reinterpret_cast<sockaddr*>(&sa), &len);
    const bool both = ::bind(tcp, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(udp);
    ::close(tcp);
    if (both) return ntohs(sa.sin_port);
  }
  return 0;
}

class RelayFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    // The loop needs a "TUN": one end of a socket pair is enough, nothing is read from it.
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, pair_), 0);
    tun_ = os::TunDevice::adopt(pair_[0], "test0", false, 1500);
    StackConfig stack_config;
    stack_config.intercept = true;
    stack_ = std::make_unique<Stack>(stack_config, std::vector{config_.gateway});
    auto loop = os::EventLoop::create(*stack_, *tun_, {});
    ASSERT_TRUE(loop);
    loop_ = std::move(*loop);
    auto relay = Relay::create(*stack_, *loop_, config_);
    ASSERT_TRUE(relay);
    relay_ = std::move(*relay);
  }
  void TearDown() override {
    relay_.reset();
    loop_.reset();
    ::close(pair_[1]);
  }

  RelayConfig config_ = [] {
    RelayConfig c;
    c.gateway = wire::IpAddress::v4(10, 0, 2, 2);
    c.guest = wire::IpAddress::v4(10, 0, 2, 100);
    return c;
  }();
  int pair_[2] = {-1, -1};
  std::unique_ptr<os::TunDevice> tun_;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<os::EventLoop> loop_;
  std::unique_ptr<Relay> relay_;
};

// A relay allowed to reach the host's 127.0.0.1 through the gateway, with real host sockets; the
// namespace is played by hand-built segments on the socket pair that stands in for the TUN.
constexpr std::uint16_t kGuestPort = 40000;
constexpr std::uint32_t kGuestIsn = 1000;

class LoopbackRelayFixture : public RelayFixture {
 protected:
  void SetUp() override {
    config_.allow_host_loopback = true;  // the gateway's ports are the host's 127.0.0.1
    RelayFixture::SetUp();
    if (relay_)
      loop_->on_socket_event([this](const SocketEvent& ev) { relay_->on_socket_event(ev); });
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    RelayFixture::TearDown();
  }
  // Runs the event loop one millisecond at a time until `done` holds (at most `rounds`).
  template <typename Done>
  bool run_until(Done done, int rounds = 2000) {
    for (int round = 0; round < rounds; ++round) {
      if (done()) return true;
      loop_->call_at(loop_->now() + 1ms, [this] { loop_->stop(); });
      loop_->run();
    }
    return done();
  }
  struct Segment {
    wire::TcpHeader tcp;
    std::string payload;
  };
  // The next TCP segment synack wrote to the TUN.
  std::optional<Segment> written() {
    std::vector<std::byte> buffer(65536);
    while (true) {
      ssize_t n = ::recv(pair_[1], buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n <= 0) return std::nullopt;
      auto p = wire::parse_tcp_packet({buffer.data(), static_cast<std::size_t>(n)});
      if (!p) continue;
      Segment s{p->tcp, {}};
      for (std::byte b : p->payload) s.payload.push_back(static_cast<char>(b));
      return s;
    }
  }
  // A segment from the namespace's client to the gateway's `port`.
  void guest_sends(std::uint16_t port, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                   std::string_view payload = {}) {
    wire::IpHeader ip;
    ip.src = config_.guest;
    ip.dst = config_.gateway;
    wire::TcpHeader tcp;
    tcp.src_port = kGuestPort;
    tcp.dst_port = port;
    tcp.seq = seq;
    tcp.ack = ack;
    tcp.flags = flags;
    tcp.window = 65535;
    std::vector<std::byte> packet;
    wire::build_tcp_packet(ip, tcp, std::as_bytes(std::span(payload.data(), payload.size())),
                           packet);
    ASSERT_EQ(::send(pair_[1], packet.data(), packet.size(), 0),
              static_cast<ssize_t>(packet.size()));
  }
  // The namespace's client opens a connection to the gateway's `port`, where a host server
  // listens (`listener`): its SYN, the relay's SYN,ACK (sent once the host connect succeeded)
  // and the host server's accept(). The handshake's last ACK is the caller's. The accepted
  // socket is the caller's to close. nullopt (and a test failure) when a step did not happen.
  struct Opened {
    Segment syn_ack;
    int server = -1;
  };
  std::optional<Opened> open_to_host_server(std::uint16_t port, int listener) {
    guest_sends(port, wire::tcp_flag::SYN, kGuestIsn, 0);
    std::optional<Segment> syn_ack;
    if (!run_until([&] { return (syn_ack = written()).has_value(); })) {
      ADD_FAILURE() << "no SYN,ACK from the relay";
      return std::nullopt;
    }
    if (!syn_ack->tcp.has(wire::tcp_flag::SYN) || !syn_ack->tcp.has(wire::tcp_flag::ACK)) {
      ADD_FAILURE() << "the relay's first segment is not a SYN,ACK";
      return std::nullopt;
    }
    const int server = ::accept(listener, nullptr, nullptr);
    if (server < 0) {
      ADD_FAILURE() << "the host server accepted nothing";
      return std::nullopt;
    }
    return Opened{*syn_ack, server};
  }
  int listen_on(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    fds_.push_back(fd);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 4) != 0)
      return -1;
    return fd;
  }

  std::vector<int> fds_;
};

}  // namespace synack::relay::testing
