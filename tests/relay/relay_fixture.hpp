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

#include "relay/relay.hpp"
#include "synack/event_loop.hpp"
#include "synack/stack.hpp"
#include "synack/tun_device.hpp"

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

}  // namespace synack::relay::testing
