// SPDX-License-Identifier: MIT
// When the relay reads a host socket (splice.cpp on_stack_event): a request from the namespace
// passed on to the host is not followed by a read of the host socket, which would nearly always
// find the reply not there yet (EAGAIN: a system call per keep-alive request, issue 14 §4);
// the level-triggered epoll reports the reply when it comes. The replies must still all arrive.
// A real host socket on 127.0.0.1; the namespace is played by hand-built segments on the socket
// pair that stands in for the TUN.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

#include "relay/relay.hpp"
#include "relay/relay_fixture.hpp"
#include "wire/packet.hpp"

namespace synack::relay {
namespace {

using SpliceReadTest = testing::LoopbackRelayFixture;
using testing::kGuestIsn;

TEST_F(SpliceReadTest, A_request_passed_to_the_host_is_not_followed_by_a_read_that_finds_nothing) {
  const std::uint16_t port = testing::free_loopback_port();
  const int listener = listen_on(port);
  ASSERT_GE(listener, 0);
  auto opened = open_to_host_server(port, listener);
  ASSERT_TRUE(opened);
  const int server = opened->server;
  fds_.push_back(server);
  std::uint32_t guest_seq = kGuestIsn + 1;
  std::uint32_t relay_seq = opened->syn_ack.tcp.seq + 1;
  guest_sends(port, wire::tcp_flag::ACK, guest_seq, relay_seq);

  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    const std::string request = "GET " + std::to_string(round);
    const std::string reply = "reply " + std::to_string(round);
    guest_sends(port, wire::tcp_flag::ACK | wire::tcp_flag::PSH, guest_seq, relay_seq, request);
    guest_seq += static_cast<std::uint32_t>(request.size());

    // The host's server gets the request, then answers it.
    std::string got;
    ASSERT_TRUE(run_until([&] {
      char buffer[64];
      ssize_t n = ::recv(server, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
      return got.size() >= request.size();
    })) << "round "
        << round << ": the request did not reach the host";
    EXPECT_EQ(got, request);
    ASSERT_EQ(::send(server, reply.data(), reply.size(), 0), static_cast<ssize_t>(reply.size()));

    // The reply reaches the namespace; it acknowledges it.
    std::string delivered;
    ASSERT_TRUE(run_until([&] {
      while (auto s = written()) delivered += s->payload;
      return delivered.size() >= reply.size();
    })) << "round "
        << round << ": the reply did not reach the namespace";
    EXPECT_EQ(delivered, reply);
    relay_seq += static_cast<std::uint32_t>(reply.size());
    guest_sends(port, wire::tcp_flag::ACK, guest_seq, relay_seq);
  }

  // Before the change every request was followed by such a read: kRounds of them. A stray one
  // (a wake-up with nothing to read) is tolerated.
  EXPECT_LE(relay_->stats().host_reads_empty, 1u);
  EXPECT_EQ(relay_->stats().bytes_to_guest, 70u);  // "reply 0" ... "reply 9"
}

}  // namespace
}  // namespace synack::relay
