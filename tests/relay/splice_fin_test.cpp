// SPDX-License-Identifier: MIT
// Where the relay's FIN toward the namespace goes when the host's peer has finished: on the
// segment that carries the last data, even when the host socket's end-of-file was not yet
// reported by epoll when the relay read the data (splice.cpp host_to_guest). A client that has
// read a complete reply and closes then sees our FIN first, so the TIME-WAIT of RFC 9293
// §3.10.7.4 (the side that closes first keeps it) stays with synack and not in the namespace.
// A real host socket on 127.0.0.1; the namespace is played by hand-built segments on the
// socket pair that stands in for the TUN.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "relay/relay.hpp"
#include "relay/relay_fixture.hpp"
#include "wire/packet.hpp"

namespace synack::relay {
namespace {

using SpliceFinTest = testing::LoopbackRelayFixture;
using testing::kGuestIsn;

// The host's server speaks first and closes at once ("hello", then close()), before the
// namespace's handshake is complete: when the splice first reads, the data and the end-of-file
// both wait in the host socket, and no epoll event has told of the FIN (the connect completed
// at once, so the socket was not watched until then). The FIN must still leave on the data's
// segment.
TEST_F(SpliceFinTest, Fin_rides_on_the_last_data_segment_when_the_host_closed_before_the_read) {
  const std::uint16_t port = testing::free_loopback_port();
  const int listener = listen_on(port);
  ASSERT_GE(listener, 0);

  // The relay's host connect succeeded (hence the SYN,ACK): the server accepts, answers, closes.
  auto opened = open_to_host_server(port, listener);
  ASSERT_TRUE(opened);
  const Segment& syn_ack = opened->syn_ack;
  const int server = opened->server;
  ASSERT_EQ(::send(server, "hello", 5, 0), 5);
  ::close(server);

  // The namespace completes its handshake; the splice starts and reads.
  guest_sends(port, wire::tcp_flag::ACK, kGuestIsn + 1, syn_ack.tcp.seq + 1);
  std::optional<Segment> data;
  ASSERT_TRUE(run_until([&] {
    while (auto s = written())
      if (!s->payload.empty() || s->tcp.has(wire::tcp_flag::FIN)) return (data = s).has_value();
    return false;
  }));
  EXPECT_EQ(data->payload, "hello");
  EXPECT_TRUE(data->tcp.has(wire::tcp_flag::FIN)) << "the FIN left on a segment of its own";
  RelayStats s = relay_->stats();
  EXPECT_EQ(s.fin_with_data, 1u);
  EXPECT_EQ(s.fin_alone, 0u);
}

// The host half-closes first; the namespace sends its data and FIN (our side enters
// TIME-WAIT) and, in the same batch, an RST — CMD's kernel answers so when our ACK of a FIN it
// retransmitted meets the socket it has just freed. The RST ends TIME-WAIT without an error
// (RFC 9293 §3.10.7.4); the connection had finished both ways, so the host must still get the
// namespace's data and its FIN — not an RST with the data lost (interop_run_half_close's
// failure under load).
TEST_F(SpliceFinTest, A_TIME_WAIT_ended_by_an_RST_still_delivers_the_namespace_stream) {
  const std::uint16_t port = testing::free_loopback_port();
  const int listener = listen_on(port);
  ASSERT_GE(listener, 0);
  auto opened = open_to_host_server(port, listener);
  ASSERT_TRUE(opened);
  const Segment& syn_ack = opened->syn_ack;
  const int server = opened->server;
  fds_.push_back(server);
  ASSERT_EQ(::send(server, "hello", 5, 0), 5);
  ASSERT_EQ(::shutdown(server, SHUT_WR), 0);  // the host's FIN first; it still reads

  guest_sends(port, wire::tcp_flag::ACK, kGuestIsn + 1, syn_ack.tcp.seq + 1);
  std::optional<Segment> fin;
  ASSERT_TRUE(run_until([&] {
    while (auto s = written())
      if (s->tcp.has(wire::tcp_flag::FIN)) return (fin = s).has_value();
    return false;
  }));
  const auto our_fin_end =
      static_cast<std::uint32_t>(fin->tcp.seq + fin->payload.size() + 1);  // after our FIN
  const std::uint32_t ack = wire::tcp_flag::ACK;
  // Data, FIN and RST from the namespace, all waiting for one read of the TUN.
  guest_sends(port, wire::tcp_flag::ACK | wire::tcp_flag::PSH, kGuestIsn + 1, our_fin_end, "ping");
  guest_sends(port, wire::tcp_flag::FIN | ack, kGuestIsn + 5, our_fin_end);
  guest_sends(port, wire::tcp_flag::RST, kGuestIsn + 6, 0);

  std::string got;
  bool eof = false;
  int error = 0;
  ASSERT_TRUE(run_until([&] {
    char buffer[64];
    ssize_t n = ::recv(server, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
    if (n == 0) eof = true;
    if (n < 0 && errno != EAGAIN) error = errno;
    return eof || error != 0;
  }));
  EXPECT_EQ(got, "ping");
  EXPECT_TRUE(eof) << "the host got " << (error ? std::strerror(error) : "nothing") << ", not EOF";
}

}  // namespace
}  // namespace synack::relay
