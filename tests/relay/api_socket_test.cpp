// SPDX-License-Identifier: MIT
// relay::ApiSocket::answer: slirp4netns's JSON requests against a real Relay (its forwards are
// real host listeners on 127.0.0.1), including every kind of bad request.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>
#include <string>

#include "os/out_of_descriptors.hpp"
#include "relay/api_socket.hpp"
#include "relay/relay.hpp"
#include "relay/relay_fixture.hpp"
#include "synack/event_loop.hpp"
#include "synack/tun_device.hpp"

namespace synack::relay {
namespace {

using nlohmann::json;

using testing::free_loopback_port;

class ApiSocketTest : public testing::RelayFixture {
 protected:
  void SetUp() override {
    RelayFixture::SetUp();
    if (!relay_) return;
    path_ = ::testing::TempDir() + "synack-api-test-" + std::to_string(::getpid()) + ".sock";
    auto api = ApiSocket::open(*loop_, *relay_, path_, config_.guest, std::nullopt, {});
    ASSERT_TRUE(api) << api.error();
    api_ = std::move(*api);
  }
  void TearDown() override {
    api_.reset();
    RelayFixture::TearDown();
  }
  json ask(const std::string& request) { return json::parse(api_->answer(request)); }
  // The loop runs for `time` (real time: a listener's rest is a timer of the loop).
  void run_for(Duration time) {
    loop_->call_at(loop_->now() + time, [this] { loop_->stop(); });
    loop_->run();
  }
  // A client of the API socket, connected (queued in the listener's backlog until accepted).
  int connect_client() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
  }
  std::string add(std::uint16_t host_port, std::uint16_t guest_port) {
    return R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": )" +
           std::to_string(host_port) + R"(, "guest_port": )" + std::to_string(guest_port) + "}}";
  }
  // The error's text; "" when the answer is not an error.
  std::string error_of(const std::string& request) {
    json a = ask(request);
    return a.contains("error") ? a["error"]["desc"].get<std::string>() : "";
  }

  std::string path_;
  std::unique_ptr<ApiSocket> api_;
};

TEST_F(ApiSocketTest, Add_list_remove_as_slirp4netns) {
  const std::uint16_t port = free_loopback_port();
  EXPECT_EQ(ask(add(port, 80)), json::parse(R"({"return": {"id": 1}})"));
  EXPECT_EQ(
      ask(R"({"execute": "list_hostfwd"})"),
      json::parse(
          R"({"return": {"entries": [{"id": 1, "proto": "tcp", "host_addr": "127.0.0.1", "host_port": )" +
          std::to_string(port) + R"(, "guest_addr": "10.0.2.100", "guest_port": 80}]}})"));
  EXPECT_EQ(ask(R"({"execute": "remove_hostfwd", "arguments": {"id": 1}})"),
            json::parse(R"({"return": {}})"));
  EXPECT_EQ(ask(R"({"execute": "list_hostfwd"})"), json::parse(R"({"return": {"entries": []}})"));
  // Ids are not reused.
  EXPECT_EQ(ask(add(port, 80)), json::parse(R"({"return": {"id": 2}})"));
  EXPECT_EQ(api_->stats().errors, 0u);
}

TEST_F(ApiSocketTest, Udp_forwards_added_listed_removed_beside_tcp_ones) {
  const std::uint16_t port = free_loopback_port();
  const std::string p = std::to_string(port);
  EXPECT_EQ(ask(add(port, 80)), json::parse(R"({"return": {"id": 1}})"));
  // UDP on the same host port is another forward, as in slirp4netns.
  EXPECT_EQ(
      ask(R"({"execute": "add_hostfwd", "arguments": {"proto": "udp", "host_addr": "127.0.0.1", "host_port": )" +
          p + R"(, "guest_port": 53}})"),
      json::parse(R"({"return": {"id": 2}})"));
  EXPECT_EQ(
      ask(R"({"execute": "list_hostfwd"})"),
      json::parse(
          R"({"return": {"entries": [{"id": 1, "proto": "tcp", "host_addr": "127.0.0.1", "host_port": )" +
          p +
          R"(, "guest_addr": "10.0.2.100", "guest_port": 80}, {"id": 2, "proto": "udp", "host_addr": "127.0.0.1", "host_port": )" +
          p + R"(, "guest_addr": "10.0.2.100", "guest_port": 53}]}})"));
  // The same UDP forward twice, and one overlapping it (every address, same port): errors.
  EXPECT_NE(
      error_of(
          R"({"execute": "add_hostfwd", "arguments": {"proto": "udp", "host_addr": "127.0.0.1", "host_port": )" +
          p + R"(, "guest_port": 54}})")
          .find("forwarded already"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"execute": "add_hostfwd", "arguments": {"proto": "udp", "host_port": )" +
                     p + R"(, "guest_port": 53}})")
                .find("overlaps"),
            std::string::npos);
  EXPECT_EQ(ask(R"({"execute": "remove_hostfwd", "arguments": {"id": 2}})"),
            json::parse(R"({"return": {}})"));
  auto list = ask(R"({"execute": "list_hostfwd"})");
  ASSERT_EQ(list["return"]["entries"].size(), 1u);
  EXPECT_EQ(list["return"]["entries"][0]["proto"], "tcp");
  EXPECT_EQ(api_->stats().errors, 2u);
}

TEST_F(ApiSocketTest, Guest_addr_defaults_and_must_be_the_namespaces) {
  const std::uint16_t port = free_loopback_port();
  EXPECT_EQ(ask(R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": )" +
                std::to_string(port) + R"(, "guest_addr": "10.0.2.100", "guest_port": 80}})"),
            json::parse(R"({"return": {"id": 1}})"));
  EXPECT_NE(error_of(R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": )" +
                     std::to_string(free_loopback_port()) +
                     R"(, "guest_addr": "10.0.2.7", "guest_port": 80}})"),
            "");
  // host_addr absent: slirp4netns's 0.0.0.0.
  auto list = ask(R"({"execute": "list_hostfwd"})");
  EXPECT_EQ(list["return"]["entries"][0]["host_addr"], "0.0.0.0");
}

TEST_F(ApiSocketTest, Bad_requests_get_errors_and_change_nothing) {
  const std::uint16_t port = free_loopback_port();
  const std::string p = std::to_string(port);
  const char* bad[] = {
      "",
      "{",
      "[]",
      "42",
      R"({"execute": 7})",
      R"({"arguments": {}})",
      R"({"execute": "reboot"})",
      R"({"execute": "add_hostfwd"})",
      R"({"execute": "add_hostfwd", "arguments": []})",
      R"({"execute": "add_hostfwd", "arguments": {"host_port": 1, "guest_port": 1}})",
      R"({"execute": "add_hostfwd", "arguments": {"proto": "sctp", "host_port": 1, "guest_port": 1}})",
      R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 0, "guest_port": 1}})",
      R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 65536, "guest_port": 1}})",
      R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 80.5, "guest_port": 1}})",
      R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": "80", "guest_port": 1}})",
      R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 1, "guest_port": -1}})",
      R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "nowhere", "host_port": 1, "guest_port": 1}})",
      R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": 1, "host_port": 1, "guest_port": 1}})",
      R"({"execute": "remove_hostfwd"})",
      R"({"execute": "remove_hostfwd", "arguments": {"id": 0}})",
      R"({"execute": "remove_hostfwd", "arguments": {"id": "1"}})",
      R"({"execute": "remove_hostfwd", "arguments": {"id": 5}})",
  };
  for (const char* request : bad) EXPECT_NE(error_of(request), "") << request;
  EXPECT_EQ(api_->stats().errors, std::size(bad));
  EXPECT_TRUE(relay_->forwards().empty());
  // The same host port twice: the second is refused, the first stays.
  EXPECT_EQ(error_of(add(port, 80)), "");
  EXPECT_NE(error_of(add(port, 81)).find("forwarded already"), std::string::npos);
  ASSERT_EQ(relay_->forwards().size(), 1u);
  EXPECT_EQ(relay_->forwards()[0].second.guest_port, 80);
}

TEST_F(ApiSocketTest, Listener_rests_while_out_of_descriptors_instead_of_spinning) {
  // accept4() fails with EMFILE and the client stays queued: the level-triggered listener,
  // still readable, would wake the loop at once for ever. os::AcceptRest takes it out of the
  // loop's interest for 100 ms; afterwards the client is served.
  if (!relay_) GTEST_SKIP();
  int client = connect_client();
  synack::testing::OutOfDescriptors out;
  ASSERT_TRUE(out.exhausted());
  const std::uint64_t wakeups = loop_->stats().wakeups;
  run_for(30ms);
  const std::uint64_t woken = loop_->stats().wakeups - wakeups;
  out.release();
  EXPECT_EQ(api_->stats().accept_rests, 1u);
  EXPECT_LT(woken, 10u) << "the listener woke the loop while resting";
  // The rest over, the client is accepted and answered.
  const std::string request = R"({"execute": "list_hostfwd"})";
  ASSERT_EQ(::write(client, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  for (int i = 0; i < 40 && api_->stats().requests == 0; ++i) run_for(10ms);
  EXPECT_EQ(api_->stats().requests, 1u);
  EXPECT_EQ(api_->stats().accept_rests, 1u);
  char answer[256];
  EXPECT_GT(::recv(client, answer, sizeof answer, MSG_DONTWAIT), 0) << "answered";
  ::close(client);
}

}  // namespace
}  // namespace synack::relay
