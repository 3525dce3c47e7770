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

#include "relay/relay_fixture.hpp"
#include "synack/event_loop.hpp"
#include "synack/tun_device.hpp"

namespace synack::cli {
namespace {

using nlohmann::json;

using relay::testing::free_loopback_port;

class ForwardControlTest : public relay::testing::RelayFixture {
 protected:
  void SetUp() override {
    RelayFixture::SetUp();
    if (relay_) handler_ = forward_request_handler(*relay_);
  }
  json ask(const std::string& request) {
    auto answer = handler_(request);
    EXPECT_TRUE(answer) << request;
    return answer ? json::parse(*answer) : json();
  }

  control::ControlServer::RequestHandler handler_;
};

TEST_F(ForwardControlTest, Udp_and_tcp_forwards_added_listed_removed) {
  const std::string p = std::to_string(free_loopback_port());
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
  const std::uint16_t first = free_loopback_port();
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
