// SPDX-License-Identifier: MIT
// What a relayed connection to the host's loopback costs the event loop (issue 14 §3): Linux
// runs the whole handshake of a connect() to 127.0.0.1 inside the call, so the relay asks once
// more and takes the connection at once — no epoll registration, wake-up or timer for the
// connect — and the host socket enters the epoll set only when the namespace's side is
// connected, already watched for reading: one epoll_ctl to add it, one to take it out.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "relay/relay.hpp"
#include "relay/relay_fixture.hpp"

namespace synack::relay {
namespace {

using HostConnectTest = testing::LoopbackRelayFixture;
using testing::kGuestIsn;

TEST_F(HostConnectTest, A_connect_to_the_host_loopback_is_taken_at_once_without_epoll_or_timer) {
  const std::uint16_t port = testing::free_loopback_port();
  ASSERT_GE(listen_on(port), 0);

  guest_sends(port, wire::tcp_flag::SYN, kGuestIsn, 0);
  std::optional<Segment> syn_ack;
  ASSERT_TRUE(run_until([&] { return (syn_ack = written()).has_value(); }));
  ASSERT_TRUE(syn_ack->tcp.has(wire::tcp_flag::SYN) && syn_ack->tcp.has(wire::tcp_flag::ACK));
  RelayStats s = relay_->stats();
  EXPECT_EQ(s.tcp_connects, 1u);
  EXPECT_EQ(s.tcp_connects_at_once, 1u) << "the connect waited for epoll";
  EXPECT_EQ(loop_->stats().fd_changes, 0u) << "the host socket was watched before it was needed";
}

// A whole short exchange: the namespace connects and asks, the host's server answers and
// closes, both FINs. The host socket costs two epoll_ctl calls (added once the namespace's
// side is connected, removed at the host's end-of-file), not four (watched for the connect,
// handed to the splice, watched for reading, removed).
TEST_F(HostConnectTest, A_short_relayed_connection_costs_two_epoll_ctl_calls) {
  const std::uint16_t port = testing::free_loopback_port();
  const int listener = listen_on(port);
  ASSERT_GE(listener, 0);

  guest_sends(port, wire::tcp_flag::SYN, kGuestIsn, 0);
  std::optional<Segment> syn_ack;
  ASSERT_TRUE(run_until([&] { return (syn_ack = written()).has_value(); }));
  const int server = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  fds_.push_back(server);

  const std::uint32_t ours = syn_ack->tcp.seq + 1;
  guest_sends(port, wire::tcp_flag::ACK, kGuestIsn + 1, ours);
  guest_sends(port, wire::tcp_flag::ACK | wire::tcp_flag::PSH, kGuestIsn + 1, ours, "ping");
  std::string request;
  ASSERT_TRUE(run_until([&] {
    char buffer[16];
    ssize_t n = ::recv(server, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) request.append(buffer, static_cast<std::size_t>(n));
    return request.size() >= 4;
  }));
  EXPECT_EQ(request, "ping");

  ASSERT_EQ(::send(server, "pong", 4, 0), 4);
  ASSERT_EQ(::shutdown(server, SHUT_WR), 0);
  std::optional<Segment> fin;
  ASSERT_TRUE(run_until([&] {
    while (auto seg = written())
      if (seg->tcp.has(wire::tcp_flag::FIN)) return (fin = seg).has_value();
    return false;
  }));
  const auto fin_end = static_cast<std::uint32_t>(fin->tcp.seq + fin->payload.size() + 1);
  guest_sends(port, wire::tcp_flag::FIN | wire::tcp_flag::ACK, kGuestIsn + 5, fin_end);
  char buffer[16];
  ASSERT_TRUE(run_until([&] { return ::recv(server, buffer, sizeof buffer, MSG_DONTWAIT) == 0; }));

  EXPECT_EQ(relay_->stats().tcp_connects_at_once, 1u);
  EXPECT_EQ(loop_->stats().fd_changes, 2u);
}

}  // namespace
}  // namespace synack::relay
