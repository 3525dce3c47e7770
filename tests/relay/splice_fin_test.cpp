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

using wire::IpAddress;

const IpAddress kGateway = IpAddress::v4(10, 0, 2, 2);
const IpAddress kGuest = IpAddress::v4(10, 0, 2, 100);
constexpr std::uint16_t kGuestPort = 40000;
constexpr std::uint32_t kGuestIsn = 1000;

class SpliceFinTest : public testing::RelayFixture {
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
    ip.src = kGuest;
    ip.dst = kGateway;
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

// The host's server speaks first and closes at once ("hello", then close()), before the
// namespace's handshake is complete: when the splice first reads, the data and the end-of-file
// both wait in the host socket, and no epoll event has told of the FIN (the socket was watched
// for errors only until then). The FIN must still leave on the data's segment.
TEST_F(SpliceFinTest, Fin_rides_on_the_last_data_segment_when_the_host_closed_before_the_read) {
  const std::uint16_t port = testing::free_loopback_port();
  const int listener = listen_on(port);
  ASSERT_GE(listener, 0);

  guest_sends(port, wire::tcp_flag::SYN, kGuestIsn, 0);
  std::optional<Segment> syn_ack;
  ASSERT_TRUE(run_until([&] { return (syn_ack = written()).has_value(); }));
  ASSERT_TRUE(syn_ack->tcp.has(wire::tcp_flag::SYN) && syn_ack->tcp.has(wire::tcp_flag::ACK));

  // The relay's host connect succeeded (hence the SYN,ACK): the server accepts, answers, closes.
  const int server = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  ASSERT_EQ(::send(server, "hello", 5, 0), 5);
  ::close(server);

  // The namespace completes its handshake; the splice starts and reads.
  guest_sends(port, wire::tcp_flag::ACK, kGuestIsn + 1, syn_ack->tcp.seq + 1);
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
  guest_sends(port, wire::tcp_flag::SYN, kGuestIsn, 0);
  std::optional<Segment> syn_ack;
  ASSERT_TRUE(run_until([&] { return (syn_ack = written()).has_value(); }));
  const int server = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  fds_.push_back(server);
  ASSERT_EQ(::send(server, "hello", 5, 0), 5);
  ASSERT_EQ(::shutdown(server, SHUT_WR), 0);  // the host's FIN first; it still reads

  guest_sends(port, wire::tcp_flag::ACK, kGuestIsn + 1, syn_ack->tcp.seq + 1);
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
