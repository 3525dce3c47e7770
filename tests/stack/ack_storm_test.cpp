// SPDX-License-Identifier: MIT
// RFC 5961 §7 at the stack: two synack ends that disagree about sequence space (a third
// party injected data into one of them, the classic "ACK storm") exchange ACKs at most at the
// per-connection limit, never in a loop; and the optional stack-wide limit caps challenge
// ACKs across connections. Two stacks joined by a scripted wire, in virtual time.
#include <gtest/gtest.h>

#include <vector>

#include "synack/stack.hpp"
#include "tcp_packets.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace ack_storm_test {

const wire::IpAddress kA = wire::IpAddress::v4(198, 18, 0, 1);
const wire::IpAddress kB = wire::IpAddress::v4(198, 18, 0, 2);

struct Pair {
  explicit Pair(StackConfig b_config = {}) : b(b_config, {kB}) {}
  Stack a{StackConfig{}, {kA}};
  Stack b;
  Instant now{};
  int packets = 0;

  // Moves packets both ways until quiet, at most `rounds` rounds (the storm would not stop).
  void shuttle(int rounds = 64) {
    std::vector<std::byte> buf;
    for (int round = 0; round < rounds; ++round) {
      bool moved = false;
      while (a.pop_packet(buf)) moved = true, ++packets, b.receive_packet(buf, now);
      while (b.pop_packet(buf)) moved = true, ++packets, a.receive_packet(buf, now);
      if (!moved) return;
    }
  }
  void run_for(Duration d) {
    const Instant until = now + d;
    while (now < until) {
      shuttle();
      now += 1ms;
      a.on_timer(now);
      b.on_timer(now);
    }
  }
};

// A segment from a's endpoint of `info` to b, as a third party would forge it.
std::vector<std::byte> forged(const ConnectionInfo& at_b, SeqNum seq, SeqNum ack,
                              std::uint8_t flags, std::string_view payload) {
  return tcp_packets::tcp_packet(at_b.remote, at_b.local, flags, seq.raw(), ack.raw(),
                                 std::as_bytes(std::span(payload.data(), payload.size())));
}

TEST(AckStorm, Injected_data_does_not_start_an_ACK_loop_RFC5961_s7) {
  Pair p;
  auto listener = p.b.listen({kB, 80}, p.now);
  ASSERT_TRUE(listener);
  auto c = p.a.connect({kB, 80}, p.now);
  p.run_for(10ms);
  auto s = p.b.accept(*listener);
  ASSERT_TRUE(c && s);
  ConnectionInfo at_b = p.b.connections().front();
  ConnectionStatus st = *p.b.status(*s);
  // 100 bytes "from a" at exactly b's RCV.NXT: b accepts them, and its ACK now acknowledges
  // data a never sent. a answers that with an ACK (SEG.ACK > SND.NXT); b finds a's sequence
  // number behind its RCV.NXT and answers with an ACK; and so on.
  p.b.receive_packet(
      forged(at_b, st.rcv_nxt, st.snd_nxt, wire::tcp_flag::ACK, std::string(100, 'x')), p.now);
  p.packets = 0;
  p.run_for(10s);
  // Without the limit this is tens of thousands of packets; with one ACK per 500 ms per end,
  // about 2 x 20, plus b's delayed ACK of the injected data.
  EXPECT_LE(p.packets, 2 * 21 + 2);
  EXPECT_GT(p.a.counters().tcp_invalid_acks_suppressed + p.b.counters().tcp_invalid_acks_suppressed,
            0u);
  EXPECT_EQ(p.a.state(*c), State::Established);
}

TEST(AckStorm, Stack_wide_limit_caps_challenge_ACKs_across_connections) {
  StackConfig config;
  config.invalid_acks_per_second = 3;
  Pair p(config);
  auto listener = p.b.listen({kB, 80}, p.now);
  ASSERT_TRUE(listener);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(p.a.connect({kB, 80}, p.now));
    p.run_for(5ms);
    ASSERT_TRUE(p.b.accept(*listener));
  }
  ASSERT_EQ(p.b.connections().size(), 10u);
  // A SYN on each connection: each one's own limit would allow an ACK; the stack's allows 3.
  std::vector<std::byte> buf;
  while (p.b.pop_packet(buf)) {
  }
  for (const auto& info : p.b.connections())
    p.b.receive_packet(forged(info, info.status.rcv_nxt, SeqNum{0}, wire::tcp_flag::SYN, ""),
                       p.now);
  int acks = 0;
  while (p.b.pop_packet(buf)) ++acks;
  EXPECT_EQ(acks, 3);
  EXPECT_EQ(p.b.counters().tcp_challenge_acks, 3u);
  EXPECT_EQ(p.b.counters().tcp_invalid_acks_suppressed, 7u);
  EXPECT_EQ(p.b.counters().drop_syn_synchronized, 10u);
}

}  // namespace ack_storm_test
}  // namespace synack
