// SPDX-License-Identifier: MIT
// A reset on one side of a relayed connection after data: what the relay has acknowledged on
// that side reaches the other side before the RST does (splice.cpp host_failed(),
// drain_then_reset_host()). A kernel receiver hands its reader the queued data before
// ECONNRESET (tcp_recvmsg() reads the receive queue before sk_err), and a relay that
// acknowledged the bytes stands where that receiver stood. Before this, the relay reset the
// other side at once and the bytes it held were lost (an HTTP reply followed by the server's
// RST: 65,468 of 200,000 bytes reached CMD in interop_run_reset).
// A real host socket on 127.0.0.1; the namespace is played by hand-built segments on the
// socket pair that stands in for the TUN.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <optional>
#include <string>

#include "relay/relay.hpp"
#include "relay/relay_fixture.hpp"
#include "wire/packet.hpp"

namespace synack::relay {
namespace {

using SpliceResetTest = testing::LoopbackRelayFixture;
using testing::kGuestIsn;

constexpr std::uint8_t kAck = wire::tcp_flag::ACK;

// The host's server answers and resets (SO_LINGER {1, 0}): the answer goes to the namespace,
// and the RST only once the namespace has acknowledged it.
TEST_F(SpliceResetTest, A_host_reset_comes_after_the_data_the_relay_took_from_the_host) {
  const std::uint16_t port = testing::free_loopback_port();
  const int listener = listen_on(port);
  ASSERT_GE(listener, 0);
  auto opened = open_to_host_server(port, listener);
  ASSERT_TRUE(opened);
  const Segment& syn_ack = opened->syn_ack;
  const int server = opened->server;
  guest_sends(port, kAck, kGuestIsn + 1, syn_ack.tcp.seq + 1);

  ASSERT_EQ(::send(server, "reply", 5, 0), 5);
  run_until([] { return false; }, 20);  // the relay reads "reply" (the host socket ACKs it)
  linger abort_now{1, 0};
  ASSERT_EQ(::setsockopt(server, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now), 0);
  ::close(server);  // RST

  std::optional<Segment> data;
  bool rst_first = false;
  ASSERT_TRUE(run_until([&] {
    while (auto s = written()) {
      if (s->tcp.has(wire::tcp_flag::RST)) rst_first = true;
      if (!s->payload.empty()) data = s;
    }
    return data.has_value() || rst_first;
  }));
  ASSERT_FALSE(rst_first) << "the RST left before the data the relay had acknowledged";
  EXPECT_EQ(data->payload, "reply");

  // Not acknowledged yet: no RST (the data may still need a retransmission).
  bool early_rst = false;
  run_until(
      [&] {
        while (auto s = written()) early_rst |= s->tcp.has(wire::tcp_flag::RST);
        return early_rst;
      },
      20);
  EXPECT_FALSE(early_rst) << "RST before the namespace acknowledged the data";

  // The namespace acknowledges it: now the RST.
  const auto data_end = static_cast<std::uint32_t>(data->tcp.seq + data->payload.size());
  guest_sends(port, kAck, kGuestIsn + 1, data_end);
  std::optional<Segment> rst;
  ASSERT_TRUE(run_until([&] {
    while (auto s = written())
      if (s->tcp.has(wire::tcp_flag::RST)) rst = s;
    return rst.has_value();
  }));
  EXPECT_EQ(static_cast<std::uint32_t>(rst->tcp.seq), data_end);
}

// The namespace sends data and resets in the same batch: the host's peer reads the data, and
// then ECONNRESET.
TEST_F(SpliceResetTest, A_namespace_reset_comes_after_the_data_the_relay_took_from_it) {
  const std::uint16_t port = testing::free_loopback_port();
  const int listener = listen_on(port);
  ASSERT_GE(listener, 0);
  auto opened = open_to_host_server(port, listener);
  ASSERT_TRUE(opened);
  const Segment& syn_ack = opened->syn_ack;
  const int server = opened->server;
  fds_.push_back(server);
  const auto our_next = static_cast<std::uint32_t>(syn_ack.tcp.seq + 1);
  guest_sends(port, kAck, kGuestIsn + 1, our_next);
  guest_sends(port, kAck | wire::tcp_flag::PSH, kGuestIsn + 1, our_next, "ping");
  guest_sends(port, wire::tcp_flag::RST, kGuestIsn + 5, 0);

  std::string got;
  int error = 0;
  bool eof = false;
  ASSERT_TRUE(run_until([&] {
    char buffer[64];
    ssize_t n = ::recv(server, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
    if (n == 0) eof = true;
    if (n < 0 && errno != EAGAIN) error = errno;
    return eof || error != 0;
  }));
  EXPECT_EQ(got, "ping");
  EXPECT_EQ(error, ECONNRESET) << "the host got " << (eof ? "EOF" : std::strerror(error));
}

}  // namespace
}  // namespace synack::relay
