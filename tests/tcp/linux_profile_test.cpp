// SPDX-License-Identifier: MIT
// TcpConfig fields that the Linux profile (synack::profiles::linux()) sets, each against the
// rule it follows, in virtual time.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "synack/profiles.hpp"

#undef linux

namespace synack::tcp::test {
namespace {

class LinuxProfile : public Harness {};

// RFC 7323 §2.3: the shift is chosen for the buffer; window_scale_buffer names a larger one
// (Linux: tcp_rmem[2], 32 MiB on 6.x, shift 10), while the window offered stays the buffer.
TEST_F(LinuxProfile, Window_scale_follows_window_scale_buffer) {
  config.window_scale_buffer = 32u << 20;
  open_active();
  auto syn = expect_tx({.flags = SYN, .seq = L});
  ASSERT_TRUE(syn.options.window_scale.has_value());
  EXPECT_EQ(*syn.options.window_scale, 10);
  wire::TcpOptions peer;
  peer.window_scale = 7;
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 1000, .options = peer});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .window = 262144 >> 10});
}

TEST_F(LinuxProfile, Window_scale_buffer_smaller_than_the_buffer_changes_nothing) {
  config.window_scale_buffer = 1024;
  open_active();
  auto syn = expect_tx({.flags = SYN, .seq = L});
  EXPECT_EQ(syn.options.window_scale, std::optional<std::uint8_t>(3));
}

// Follows Linux's quick-ACK mode: the first data segments are ACKed at once; without it
// (the RFC default) a lone segment waits for the delayed-ACK timer (RFC 9293 §3.8.6.3).
TEST_F(LinuxProfile, Quick_acks_answer_the_first_segments_at_once) {
  config.quick_acks = 16;
  establish_passive();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "hello"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 6});
  inject({.flags = ACK | PSH, .seq = R + 6, .ack = L + 1, .payload = "world"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 11});
}

TEST_F(LinuxProfile, Without_quick_acks_a_lone_segment_waits_for_the_timer) {
  establish_passive();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "hello"});
  expect_no_tx();
  advance(config.delayed_ack);
  call_on_timer();
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 6});
}

// Linux's "pingpong": once we answer data at once with data, ACKs are delayed again.
TEST_F(LinuxProfile, Answering_with_data_ends_quick_acks) {
  config.quick_acks = 16;
  establish_passive();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "ping"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 5});
  EXPECT_EQ(send("pong"), 4u);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 5, .payload = "pong"});
  inject({.flags = ACK | PSH, .seq = R + 5, .ack = L + 5, .payload = "ping"});
  expect_no_tx();
  advance(config.delayed_ack);
  call_on_timer();
  expect_tx({.flags = ACK, .seq = L + 5, .ack = R + 9});
}

// Follows Linux 6.x (tcp_syn_linear_timeouts = 4): SYNs at 0, 1, 2, 3, 4, 5 s, then the
// RFC 6298 §5.5 doubling: 7, 11 s.
TEST_F(LinuxProfile, Syn_linear_timeouts_delay_the_backoff) {
  config.syn_linear_timeouts = 4;
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  Instant start = now;
  for (int t : {1, 2, 3, 4, 5, 7, 11}) {
    EXPECT_EQ(conn().next_deadline(), start + std::chrono::seconds(t)) << "retransmission at " << t;
    now = start + std::chrono::seconds(t);
    call_on_timer();
    expect_tx({.flags = SYN, .seq = L});
  }
}

TEST_F(LinuxProfile, Without_linear_timeouts_SYNs_back_off_at_once) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  Instant start = now;
  for (int t : {1, 3, 7}) {
    EXPECT_EQ(conn().next_deadline(), start + std::chrono::seconds(t));
    now = start + std::chrono::seconds(t);
    call_on_timer();
    expect_tx({.flags = SYN, .seq = L});
  }
}

// Follows Linux: tcp_synack_retries separately from tcp_syn_retries.
TEST_F(LinuxProfile, Synack_retries_bound_SYN_RECEIVED) {
  config.syn_retries = 10;
  config.synack_retries = 1;
  open_passive();
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  now += std::chrono::seconds(1);
  call_on_timer();
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  now += std::chrono::seconds(2);
  call_on_timer();
  EXPECT_NE(conn().state(), State::SynReceived) << "gave up after one retransmission";
}

// Follows Linux (tcp_set_rto): RTO = SRTT + max(4 * RTTVAR, rto_min). A steady 10 ms RTT
// gives 210 ms, where RFC 6298 with a 200 ms floor gives 200 ms.
TEST(LinuxRto, Min_pads_the_variance) {
  RttEstimator linux_style(std::chrono::seconds(1), std::chrono::milliseconds(200),
                           std::chrono::seconds(120), true);
  RttEstimator rfc_style(std::chrono::seconds(1), std::chrono::milliseconds(200),
                         std::chrono::seconds(120));
  for (int i = 0; i < 50; ++i) {
    linux_style.sample(std::chrono::milliseconds(10));
    rfc_style.sample(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(linux_style.rto(), std::chrono::milliseconds(210));
  EXPECT_EQ(rfc_style.rto(), std::chrono::milliseconds(200));
}

// Follows Linux (tcp_send_active_reset): the ABORT's RST carries an ACK; RFC 9293 §3.10.5
// writes <SEQ=SND.NXT><CTL=RST>, which stays the default.
TEST_F(LinuxProfile, Abort_rst_carries_ack_when_configured) {
  config.abort_rst_with_ack = true;
  establish_passive();
  abort();
  expect_tx({.flags = RST | ACK, .seq = L + 1, .ack = R + 1});
}

TEST_F(LinuxProfile, Abort_rst_has_no_ack_by_default) {
  establish_passive();
  abort();
  expect_tx({.flags = RST, .seq = L + 1});
}

// Follows Linux (tcp_xmit_probe_skb): the zero-window probe is an empty ACK at SND.UNA - 1.
TEST_F(LinuxProfile, Zero_window_probe_is_empty_at_snd_una_minus_one) {
  config.zero_window_probe_empty = true;
  establish_active();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 0});
  send("abc");
  expect_no_tx();
  now = *conn().next_deadline();
  call_on_timer();
  expect_tx({.flags = ACK, .seq = L, .ack = R + 1});
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 1000});
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "abc"});
}

// Follows Linux (tcp_keepalive_timer): a connection keep-alives found dead is reset.
TEST_F(LinuxProfile, Keepalive_timeout_sends_rst_when_configured) {
  config.keepalive = true;
  config.keepalive_idle = std::chrono::seconds(2);
  config.keepalive_interval = std::chrono::seconds(1);
  config.keepalive_probes = 1;
  config.reset_on_keepalive_timeout = true;
  establish_active();
  now = *conn().next_deadline();
  call_on_timer();
  expect_tx({.flags = ACK, .seq = L, .ack = R + 1});
  now = *conn().next_deadline();
  call_on_timer();
  expect_tx({.flags = RST | ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(conn().state(), State::Closed);
}

// A SEND of nothing pushes what Nagle held once TCP_NODELAY is set (Linux pushes on the
// option); with Nagle still on it sends nothing (RFC 9293 §3.7.4).
TEST_F(LinuxProfile, Empty_send_pushes_data_nagle_held) {
  establish_active();
  send("a");
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "a"});
  send("b");
  expect_no_tx();
  EXPECT_EQ(send(""), 0u);
  expect_no_tx();
  conn().set_no_delay(true);
  EXPECT_EQ(send(""), 0u);
  expect_tx({.flags = ACK | PSH, .seq = L + 2, .ack = R + 1, .payload = "b"});
}

// Follows Linux (Minshall's Nagle): the short tail of a write leaves behind full segments
// still unacknowledged; only a second short segment waits. RFC 9293 §3.7.4 holds the tail.
TEST_F(LinuxProfile, Minshall_nagle_sends_a_writes_short_tail) {
  config.nagle_minshall = true;
  config.mss = 100;
  establish_active();
  send(std::string(150, 'x'));
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = std::string(100, 'x')});
  expect_tx({.flags = ACK | PSH, .seq = L + 101, .ack = R + 1, .payload = std::string(50, 'x')});
  send("y");
  expect_no_tx();
}

TEST_F(LinuxProfile, Classic_nagle_holds_the_short_tail) {
  config.mss = 100;
  establish_active();
  send(std::string(150, 'x'));
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = std::string(100, 'x')});
  expect_no_tx();
}

TEST_F(LinuxProfile, Psh_on_every_segment_when_configured) {
  config.psh_every_segment = true;
  config.mss = 100;
  establish_active();
  send(std::string(200, 'x'));
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = std::string(100, 'x')});
  expect_tx({.flags = ACK | PSH, .seq = L + 101, .ack = R + 1, .payload = std::string(100, 'x')});
}

// RFC 2883 §4 (D-SACK): a duplicate segment is reported in the first SACK block of the ACK.
class Dsack : public Harness {
 protected:
  void establish_with_sack() {
    open_passive();
    wire::TcpOptions o;
    o.sack_permitted = true;
    inject({.flags = SYN, .seq = R, .options = o});
    expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
    inject({.flags = ACK, .seq = R + 1, .ack = L + 1});
    inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "0123456789"});
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 11});
  }
};

TEST_F(Dsack, Duplicate_segment_is_reported_by_default) {
  EXPECT_TRUE(config.dsack);
  config.quick_acks = 16;
  establish_with_sack();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "0123456789"});
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 11});
  ASSERT_EQ(ack.options.sack_count, 1);
  EXPECT_EQ(ack.options.sack[0].left, (R + 1).raw());
  EXPECT_EQ(ack.options.sack[0].right, (R + 11).raw());
}

// A SYN carrying data wholly below RCV.NXT (an old duplicate, or forged) is answered with a
// challenge ACK and no D-SACK: its data starts one past its sequence number, and a challenge
// suppressed by the rate limit would leave the block to a later, unrelated ACK (Linux sends
// none there either).
TEST_F(Dsack, Duplicate_SYN_with_data_gets_no_DSACK_now_or_later) {
  config.quick_acks = 16;
  establish_with_sack();
  inject({.flags = SYN, .seq = R, .payload = "01234"});
  auto challenge = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 11});
  EXPECT_EQ(challenge.options.sack_count, 0);
  advance(std::chrono::milliseconds(1));
  inject({.flags = SYN, .seq = R, .payload = "01234"});  // the challenge is rate-limited
  expect_no_tx();
  advance(std::chrono::seconds(2));
  inject({.flags = ACK | PSH, .seq = R + 11, .ack = L + 1, .payload = "abc"});
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 14});
  EXPECT_EQ(ack.options.sack_count, 0);
}

TEST_F(Dsack, Duplicate_segment_gets_a_plain_ack_when_off) {
  config.dsack = false;
  config.quick_acks = 16;
  establish_with_sack();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "0123456789"});
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 11});
  EXPECT_EQ(ack.options.sack_count, 0);
}

// Follows Linux: a FIN beyond a hole is SACKed; by default only the hole's ACK is sent.
TEST_F(Dsack, Fin_beyond_a_hole_is_sacked_when_configured) {
  config.sack_fin = true;
  config.quick_acks = 16;
  establish_with_sack();
  inject({.flags = ACK | FIN, .seq = R + 21, .ack = L + 1});
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 11});
  ASSERT_EQ(ack.options.sack_count, 1);
  EXPECT_EQ(ack.options.sack[0].left, (R + 21).raw());
  EXPECT_EQ(ack.options.sack[0].right, (R + 22).raw());
  inject({.flags = ACK, .seq = R + 11, .ack = L + 1, .payload = "abcdefghij"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 22});
}

TEST_F(Dsack, Fin_beyond_a_hole_is_not_sacked_by_default) {
  config.quick_acks = 16;
  establish_with_sack();
  inject({.flags = ACK | FIN, .seq = R + 21, .ack = L + 1});
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 11});
  EXPECT_EQ(ack.options.sack_count, 0);
}

TEST(Profiles, Rfc_is_the_default_config) {
  StackConfig rfc = profiles::rfc();
  StackConfig def;
  EXPECT_EQ(rfc.tcp.syn_retries, def.tcp.syn_retries);
  EXPECT_EQ(rfc.tcp.window_scale_buffer, 0u);
  EXPECT_EQ(rfc.tcp.msl, def.tcp.msl);
}

TEST(Profiles, Linux_makes_the_kernels_choices) {
  StackConfig l = profiles::linux();
  EXPECT_EQ(l.tcp.syn_retries, 10);
  EXPECT_EQ(l.tcp.syn_linear_timeouts, 4);
  EXPECT_EQ(l.tcp.synack_retries, std::optional<std::uint8_t>(5));
  EXPECT_TRUE(l.tcp.rto_min_in_variance);
  EXPECT_EQ(l.tcp.window_scale_buffer, 32u << 20);
  EXPECT_EQ(l.tcp.msl, std::chrono::seconds(30));
  EXPECT_EQ(l.tcp.delayed_ack, std::chrono::milliseconds(40));
  EXPECT_EQ(l.tcp.initial_window_segments, 10u);
  EXPECT_EQ(l.tcp.quick_acks, 16);
  // tcp_send_loss_probe: one segment; tcp_schedule_loss_probe: not in Recovery.
  EXPECT_EQ(l.tcp.loss_probe_segments, 1);
  EXPECT_FALSE(l.tcp.recovery_probe);
  // tcp_schedule_loss_probe: 2 SRTT + TCP_TIMEOUT_MIN_US with more than one packet out.
  EXPECT_EQ(l.tcp.loss_probe_slack, std::chrono::milliseconds(2));
  EXPECT_FALSE(profiles::by_name("bsd").has_value());
}

}  // namespace
}  // namespace synack::tcp::test
