// SPDX-License-Identifier: MIT
// Per-connection liveness settings through the public API: keep-alives (RFC 9293 §3.8.4,
// MUST-24/25/27/28) and R2 (§3.8.3, MUST-21). Two stacks joined by a scripted wire whose
// delivery a test can cut, in virtual time.
#include <gtest/gtest.h>

#include <vector>

#include "synack/stack.hpp"
#include "two_stacks.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace per_connection_options_test {

// The shared wire (two_stacks.hpp), counting and keeping the headers of what a sends.
struct Wire : two_stacks::Wire {
  int packets_a_to_b = 0;
  std::vector<wire::TcpHeader> a_sent;
  Wire() {
    on_a = [this](std::span<const std::byte> packet) {
      ++packets_a_to_b;
      if (auto p = wire::parse_tcp_packet(packet)) a_sent.push_back(p->tcp);
    };
  }
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;
  std::optional<ListenerId> listener;
  std::pair<ConnectionId, ConnectionId> establish() {
    if (!listener) listener = *b.listen({wire::IpAddress::v4(198, 18, 0, 2), 80}, now);
    auto c = a.connect({wire::IpAddress::v4(198, 18, 0, 2), 80}, now);
    run_until(now + 10ms);
    auto s = b.accept(*listener);
    EXPECT_TRUE(c && s);
    EXPECT_EQ(a.state(*c), State::Established);
    return {*c, *s};
  }
};

TEST(PerConnection, KeepalivesAreOffByDefaultAndIdleDefaultsToTwoHours_MUST_25_28) {
  EXPECT_FALSE(TcpConfig{}.keepalive);
  EXPECT_GE(TcpConfig{}.keepalive_idle, 7200s);
  Wire w;
  auto [c, s] = w.establish();
  int before = w.packets_a_to_b;
  w.run_until(w.now + 10 * 3600s);
  EXPECT_EQ(w.packets_a_to_b, before) << "an idle connection sends nothing without keep-alives";
  EXPECT_EQ(w.a.state(c), State::Established);
}

TEST(PerConnection, KeepaliveProbesAnIdleConnectionAndClosesWhenThePeerIsGone_MUST_24_27) {
  Wire w;
  auto [c, s] = w.establish();
  auto [c2, s2] = w.establish();  // a second connection keeps the default (off)
  (void)s;
  (void)s2;
  ASSERT_TRUE(w.a.set_keepalive(c, true, 10s, 5s, 3, w.now));
  Instant start = w.now;
  std::size_t sent_before = w.a_sent.size();
  w.run_until(start + 10s - 1ms);
  EXPECT_EQ(w.a_sent.size(), sent_before) << "no probe before the idle time";
  w.run_until(start + 10s);
  ASSERT_EQ(w.a_sent.size(), sent_before + 1);
  // RFC 9293 §3.8.4: <SEQ=SND.NXT-1> with no data; the peer answers and nothing closes.
  auto status = *w.a.status(c);
  EXPECT_EQ(w.a_sent.back().seq, (status.snd_nxt - 1).raw());
  EXPECT_EQ(w.a.counters().tcp_keepalive_probes, 1u);
  w.run_until(start + 60s);
  EXPECT_EQ(w.a.state(c), State::Established);
  // The peer vanishes: after 3 unanswered probes, 5 s apart, the connection is closed.
  w.connected = false;
  w.run_until(w.now + 10s + 3 * 5s + 1s);
  EXPECT_EQ(w.a.state(c), State::Closed);
  EXPECT_EQ(w.a.connection_error(c), Error::TimedOut);
  EXPECT_EQ(w.a.state(c2), State::Established) << "the other connection has no keep-alives";
}

TEST(PerConnection, UserTimeoutSetsR2ForOneConnection_MUST_21) {
  Wire w;
  auto [c, s] = w.establish();
  auto [c2, s2] = w.establish();
  (void)s;
  (void)s2;
  ASSERT_TRUE(w.a.set_user_timeout(c, 2, Duration{0}));
  w.connected = false;
  std::vector<std::byte> data(100, std::byte{1});
  ASSERT_TRUE(w.a.send(c, data, w.now));
  ASSERT_TRUE(w.a.send(c2, data, w.now));
  // The handshake's RTT sample puts the RTO at its 200 ms minimum: two backed-off
  // retransmissions (R2 = 2) run out within a few seconds; the default R2 (15) does not.
  w.run_until(w.now + 30s);
  EXPECT_EQ(w.a.state(c), State::Closed);
  EXPECT_EQ(w.a.connection_error(c), Error::TimedOut);
  EXPECT_EQ(w.a.state(c2), State::Established);
  EXPECT_FALSE(w.a.set_user_timeout(ConnectionId{12345}, 1, Duration{0}));
}

}  // namespace per_connection_options_test
}  // namespace synack
