// SPDX-License-Identifier: MIT
// cli::forward_request_handler: the control socket's "forward add|remove|list" requests against
// a real Relay (host sockets on 127.0.0.1), UDP forwards as well as TCP ones.
#include "cli/forward_control.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "os/event_loop.hpp"
#include "os/tun_device.hpp"

namespace synack::cli {
namespace {

using nlohmann::json;

// A port on 127.0.0.1 that neither a TCP nor a UDP socket holds at the moment.
std::uint16_t free_port() {
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

class ForwardControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, pair_), 0);
    tun_ = os::TunDevice::adopt(pair_[0], "test0", false, 1500);
    StackConfig stack_config;
    stack_config.intercept = true;
    stack_ =
        std::make_unique<Stack>(stack_config, std::vector{*wire::IpAddress::parse("10.0.2.2")});
    auto loop = os::EventLoop::create(*stack_, *tun_, {});
    ASSERT_TRUE(loop);
    loop_ = std::move(*loop);
    relay::RelayConfig config;
    config.gateway = *wire::IpAddress::parse("10.0.2.2");
    config.guest = *wire::IpAddress::parse("10.0.2.100");
    auto relay = relay::Relay::create(*stack_, *loop_, config);
    ASSERT_TRUE(relay);
    relay_ = std::move(*relay);
    handler_ = forward_request_handler(*relay_);
  }
  void TearDown() override {
    relay_.reset();
    loop_.reset();
    ::close(pair_[1]);
  }
  json ask(const std::string& request) {
    auto answer = handler_(request);
    EXPECT_TRUE(answer) << request;
    return answer ? json::parse(*answer) : json();
  }

  int pair_[2] = {-1, -1};
  std::unique_ptr<os::TunDevice> tun_;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<os::EventLoop> loop_;
  std::unique_ptr<relay::Relay> relay_;
  control::ControlServer::RequestHandler handler_;
};

TEST_F(ForwardControlTest, Udp_and_tcp_forwards_added_listed_removed) {
  const std::string p = std::to_string(free_port());
  EXPECT_EQ(ask("forward add 127.0.0.1:" + p + ":53/udp"),
            json::parse(R"({"id": 1, "proto": "udp", "host": "127.0.0.1:)" + p +
                        R"(", "guest_port": 53})"));
  EXPECT_EQ(ask("forward add " + p + ":80"),
            json::parse(R"({"id": 2, "proto": "tcp", "host": "127.0.0.1:)" + p +
                        R"(", "guest_port": 80})"));
  EXPECT_EQ(ask("forward list"), json::parse(R"({"forwards": [
              {"id": 1, "proto": "udp", "host": "127.0.0.1:)" +
                                             p + R"(", "guest_port": 53},
              {"id": 2, "proto": "tcp", "host": "127.0.0.1:)" +
                                             p + R"(", "guest_port": 80}]})"));
  // The same UDP port again, or overlapping it: an error, nothing added.
  EXPECT_TRUE(ask("forward add " + p + ":54/udp").contains("error"));
  EXPECT_TRUE(ask("forward add 0.0.0.0:" + p + ":53/udp").contains("error"));
  EXPECT_EQ(ask("forward remove 1"), json::parse(R"({"removed": 1})"));
  EXPECT_TRUE(ask("forward remove 1").contains("error"));
  auto list = ask("forward list");
  ASSERT_EQ(list["forwards"].size(), 1u);
  EXPECT_EQ(list["forwards"][0]["proto"], "tcp");
}

TEST_F(ForwardControlTest, Udp_range_all_or_none) {
  // Two ports, the second held by another socket: neither is added.
  const std::uint16_t first = free_port();
  int busy = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<std::uint16_t>(first + 1));
  if (first == 65535 || ::bind(busy, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(busy);
    GTEST_SKIP() << "port " << first + 1 << " is not free";
  }
  const std::string range = std::to_string(first) + "-" + std::to_string(first + 1);
  EXPECT_TRUE(ask("forward add " + range + ":5000-5001/udp").contains("error"));
  EXPECT_TRUE(ask("forward list")["forwards"].empty());
  ::close(busy);
  auto added = ask("forward add " + range + ":5000-5001/udp");
  ASSERT_TRUE(added.contains("forwards")) << added.dump();
  EXPECT_EQ(added["forwards"].size(), 2u);
  EXPECT_EQ(added["forwards"][1]["proto"], "udp");
}

}  // namespace
}  // namespace synack::cli
