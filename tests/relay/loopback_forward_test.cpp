// SPDX-License-Identifier: MIT
// LoopbackForwarder (`synack run -T`) in one process: a listener on 127.0.0.1 stands in for the
// one in CMD's namespace, a server on another port of 127.0.0.1 for the host's. Pipes that end
// empty are kept for the next connection; a pipe that still holds bytes when its pair is reset
// must not be, or the next connection would deliver another's bytes first. A side that resets
// after sending has its bytes delivered before the reset.
#include "relay/loopback_forward.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "synack/event_loop.hpp"
#include "synack/memory_budget.hpp"
#include "synack/stack.hpp"
#include "synack/tun_device.hpp"

namespace synack::relay {
namespace {

using namespace std::chrono_literals;

int listen_on_loopback(std::uint16_t* port, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // A small receive buffer (inherited by what it accepts) fills soon when nobody reads.
  if (rcvbuf) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

int connect_to_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void reset_and_close(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

class LoopbackForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun_pair_), 0);
    tun_ = os::TunDevice::adopt(tun_pair_[0], "test0", false, 1500);
    stack_ = std::make_unique<Stack>(StackConfig{}, std::vector{wire::IpAddress::v4(10, 0, 0, 1)});
    auto loop = os::EventLoop::create(*stack_, *tun_, {});
    ASSERT_TRUE(loop);
    loop_ = std::move(*loop);
    std::uint16_t ns_port = 0;
    ns_listener_ = listen_on_loopback(&ns_port);
    ASSERT_GE(ns_listener_, 0);
    host_listener_ = listen_on_loopback(&host_port_, 4096);
    ASSERT_GE(host_listener_, 0);
    ns_port_ = ns_port;
    // Room for one pair's first pipes and no more: no pipe grows past its first 64 KiB.
    forwarder_ = std::make_unique<LoopbackForwarder>(
        *loop_, std::vector{LoopbackForward{ns_listener_, ns_port, host_port_, false}},
        LoopbackForwarder::Limits{}, &budget_);
    ASSERT_TRUE(forwarder_->start());
  }
  void TearDown() override {
    forwarder_.reset();  // closes the listener it was given
    loop_.reset();
    ::close(host_listener_);
    ::close(tun_pair_[1]);
  }
  // Turns the loop (a millisecond at a time) until `done`, for at most two seconds.
  bool turn_until(const std::function<bool()>& done) {
    for (int i = 0; i < 2000; ++i) {
      if (done()) return true;
      loop_->call_at(loop_->now() + 1ms, [this] { loop_->stop(); });
      loop_->run();
    }
    return done();
  }
  // Reads `fd` (made non-blocking) while the loop turns, until end of file or an error: what
  // it got, and the errno (0: end of file; -1: neither within the two seconds).
  std::pair<std::string, int> read_until_end(int fd) {
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    std::string got;
    int error = -1;
    turn_until([&] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
          got.append(buf, static_cast<std::size_t>(n));
          continue;
        }
        if (n == 0) error = 0;
        if (n < 0 && errno != EAGAIN) error = errno;
        return error >= 0;
      }
    });
    return {got, error};
  }
  // A connection through the forwarder: the client's end, and the host server's.
  std::pair<int, int> open_pair() {
    int client = connect_to_loopback(ns_port_);
    int host = -1;
    turn_until([&] {
      host = ::accept4(host_listener_, nullptr, nullptr, SOCK_CLOEXEC);
      return host >= 0;
    });
    return {client, host};
  }

  int tun_pair_[2] = {-1, -1};
  std::unique_ptr<os::TunDevice> tun_;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<os::EventLoop> loop_;
  MemoryBudget budget_{2 * 64 * 1024};
  int ns_listener_ = -1;
  int host_listener_ = -1;
  std::uint16_t ns_port_ = 0;
  std::uint16_t host_port_ = 0;
  std::unique_ptr<LoopbackForwarder> forwarder_;
};

TEST_F(LoopbackForwardTest, A_pipe_reset_with_bytes_in_it_is_not_given_to_the_next_connection) {
  auto [client, host] = open_pair();
  ASSERT_GE(client, 0);
  ASSERT_GE(host, 0);
  // The host reads nothing: its buffers fill, then the pipe toward it holds what the client
  // sent on.
  std::vector<char> chunk(16384, 'S');
  ::fcntl(client, F_SETFL, O_NONBLOCK);
  std::size_t sent = 0;
  int refused = 0;  // sends in a row the client's full buffer refused
  for (int round = 0; round < 2000 && refused < 20; ++round) {
    ssize_t n = ::send(client, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<std::size_t>(n);
    refused = n < 0 && errno == EAGAIN ? refused + 1 : 0;
    loop_->call_at(loop_->now() + 1ms, [this] { loop_->stop(); });
    loop_->run();
  }
  ASSERT_EQ(refused, 20) << "everything between client and host full";
  const std::uint64_t into_host = forwarder_->stats().bytes_to_host;
  ASSERT_GT(sent, into_host) << "bytes must be waiting between client and host";
  // The host resets: the pair ends with bytes still in its pipe toward the host.
  reset_and_close(host);
  ASSERT_TRUE(turn_until([&] { return forwarder_->active() == 0; }));
  EXPECT_EQ(forwarder_->stats().reset, 1u);
  ::close(client);
  const std::uint64_t made = forwarder_->stats().pipes_made;
  const std::uint64_t reused = forwarder_->stats().pipes_reused;
  EXPECT_EQ(made, 2u);

  // The next connection: the empty pipe is taken again, the other is made anew, and the host
  // gets this connection's bytes and nothing else.
  auto [client2, host2] = open_pair();
  ASSERT_GE(client2, 0);
  ASSERT_GE(host2, 0);
  // Both ways: a request, and a reply (the pipes may be taken for either direction).
  const std::string request = "the second connection's own request";
  const std::string reply = "and its own reply";
  ASSERT_EQ(::send(client2, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  ::shutdown(client2, SHUT_WR);
  ASSERT_EQ(::send(host2, reply.data(), reply.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(reply.size()));
  ::shutdown(host2, SHUT_WR);
  ::fcntl(host2, F_SETFL, O_NONBLOCK);
  ::fcntl(client2, F_SETFL, O_NONBLOCK);
  auto read_to_end = [&](int fd, std::string& got) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return n == 0;
      got.append(buf, static_cast<std::size_t>(n));
    }
  };
  std::string at_host, at_client;
  bool host_done = false, client_done = false;
  ASSERT_TRUE(turn_until([&] {
    host_done = host_done || read_to_end(host2, at_host);
    client_done = client_done || read_to_end(client2, at_client);
    return host_done && client_done;
  }));
  EXPECT_EQ(at_host, request) << "no byte of the reset connection's";
  EXPECT_EQ(at_client, reply) << "no byte of the reset connection's";
  EXPECT_EQ(forwarder_->stats().pipes_reused, reused + 1) << "the empty pipe, kept";
  EXPECT_EQ(forwarder_->stats().pipes_made, made + 1) << "the one with bytes, not kept";
  ::close(client2);
  ::close(host2);
}

// A side that resets after sending: the other side's reader gets the bytes first, then
// ECONNRESET (LoopbackForwarder::fail), as it would from the kernel directly. Before, the pair
// was reset at once and the bytes still on their way were lost.
TEST_F(LoopbackForwardTest, A_host_that_replies_and_resets_delivers_the_reply_first) {
  auto [client, host] = open_pair();
  ASSERT_GE(client, 0);
  ASSERT_GE(host, 0);
  const std::string reply = "the reply before the reset";
  ASSERT_EQ(::send(host, reply.data(), reply.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(reply.size()));
  reset_and_close(host);
  auto [got, error] = read_until_end(client);
  EXPECT_EQ(got, reply);
  EXPECT_EQ(error, ECONNRESET);
  ASSERT_TRUE(turn_until([&] { return forwarder_->active() == 0; }));
  EXPECT_EQ(forwarder_->stats().reset, 1u);
  ::close(client);
}

TEST_F(LoopbackForwardTest, A_client_that_sends_and_resets_delivers_its_bytes_first) {
  auto [client, host] = open_pair();
  ASSERT_GE(client, 0);
  ASSERT_GE(host, 0);
  const std::string request = "the request before the reset";
  ASSERT_EQ(::send(client, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  reset_and_close(client);
  auto [got, error] = read_until_end(host);
  EXPECT_EQ(got, request);
  EXPECT_EQ(error, ECONNRESET);
  ::close(host);
}

}  // namespace
}  // namespace synack::relay
