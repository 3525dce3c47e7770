// SPDX-License-Identifier: MIT
// One test per rule of data transfer, flow control and liveness: RFC 9293 §3.7-§3.8 (MSS,
// Nagle, keep-alive, zero-window probing, SWS avoidance, delayed ACK), RFC 6298 (RTO), RFC 5681
// / RFC 6582 / RFC 6675 / RFC 3042 / RFC 8985 §6.2 (loss recovery), RFC 7323 (PAWS, window scaling)
// and RFC 5961 §5 (old ACKs). Each test is named after its rule and scripts the exchange one
// segment at a time in virtual time, asserting the segments, the timers and the counters that
// moved.
#include <algorithm>
#include <string>

#include "harness.hpp"

namespace synack::tcp::test {
namespace transfer_rules_test {

// `n` octets of `c`: payloads whose length is what matters.
std::string text(std::size_t n, char c = 'x') { return std::string(n, c); }

wire::TcpOptions sack_permitted() {
  wire::TcpOptions o;
  o.sack_permitted = true;
  return o;
}

// An ACK's options carrying the given SACK blocks ([left, right) pairs).
wire::TcpOptions sack_blocks(std::initializer_list<std::pair<SeqNum, SeqNum>> blocks) {
  wire::TcpOptions o;
  for (auto [left, right] : blocks) o.sack[o.sack_count++] = {left.raw(), right.raw()};
  return o;
}

class Transfer : public Harness {
 protected:
  // CLOSED -> SYN-SENT -> ESTABLISHED, the peer's SYN,ACK carrying `peer` and `window` and
  // arriving `rtt` after our SYN (the first RTT sample, RFC 6298 §2.2). Returns our ACK.
  SentSegment establish_with(const wire::TcpOptions& peer, std::uint16_t window = 65535,
                             Duration rtt = Duration{0}, Loc loc = Loc()) {
    ::testing::ScopedTrace trace(loc.file, loc.line, "called here");
    open_active();
    expect_tx({.flags = SYN, .seq = L});
    expect_transition(State::Closed, State::SynSent);
    advance(rtt);
    inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = window, .options = peer});
    SentSegment ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
    expect_transition(State::SynSent, State::Established);
    return ack;
  }
  // The peer's pure ACK of `ack` (window `window`, optional options).
  void peer_ack(SeqNum ack, std::uint16_t window = 65535,
                std::optional<wire::TcpOptions> options = std::nullopt) {
    inject({.flags = ACK, .seq = R + 1, .ack = ack, .window = window, .options = options});
  }
  Duration until_next_deadline() {
    auto d = conn().next_deadline();
    return d ? *d - now : Duration{-1};
  }
};

// ---------------------------------------------------------------------------------------
// Zero-window probing (RFC 9293 §3.8.6.1)

// MUST-36/MUST-37, SHLD-17: a zero window is probed with one octet on the persist timer,
// backing off (to 60 s here); "the transmitting host SHOULD NOT close the connection" while
// the receiver keeps answering — virtual hours, far more probes than data_retries. The
// window update reopens the flow at once: the refused probe octet and the data behind it go
// out and the persist timer stops.
TEST_F(Transfer, MUST_37_zero_window_probes_back_off_and_never_close_while_answered) {
  establish_active();  // first RTT sample ~0: RTO = rto_min = 200 ms
  peer_ack(L + 1, 0);
  expect_no_tx();
  send("abc");
  expect_no_tx();  // nothing fits in a zero window
  EXPECT_EQ(until_next_deadline(), 200ms) << "persist timer armed at one RTO";
  fire_next_timer();
  auto first = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = "a"});
  EXPECT_FALSE(first.retransmission);
  peer_ack(L + 1, 0);  // "still zero"
  expect_no_tx();

  Duration interval = 400ms;
  Instant start = now;
  const int probes = 100;  // config.data_retries is 15
  for (int probe = 2; probe <= probes; ++probe) {
    SCOPED_TRACE("probe " + std::to_string(probe));
    Instant before = now;
    fire_next_timer();
    EXPECT_EQ(now - before, interval);
    auto p = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = "a"});
    EXPECT_TRUE(p.retransmission);
    peer_ack(L + 1, 0);
    expect_no_tx();
    interval = std::min<Duration>(interval * 2, 60s);
  }
  EXPECT_GT(now - start, Duration{std::chrono::hours(1)});
  expect_state(State::Established);
  expect_no_transition();
  EXPECT_EQ(counters.tcp_window_probes, static_cast<std::uint64_t>(probes));
  EXPECT_EQ(counters.tcp_timeouts, 0u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u) << "probes are paced by the persist timer";
  EXPECT_EQ(counters.tcp_fast_retransmits, 0u) << "answers to probes are not loss signals";

  // The window opens: everything goes out from SND.UNA, probing stops.
  peer_ack(L + 1, 1000);
  auto data = expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "abc"});
  EXPECT_EQ(until_next_deadline(), 200ms) << "the retransmission timer, not the persist timer";
  peer_ack(L + 4, 1000);
  expect_no_tx();
  EXPECT_FALSE(conn().next_deadline().has_value()) << "no timer left once all is acknowledged";
  EXPECT_EQ(counters.tcp_window_probes, static_cast<std::uint64_t>(probes));
}

// MUST-37 with both ends probing (slow readers, tiny windows, soak seeds 503/512/635/939/1680):
// each end takes the other's probe octet into its free buffer. Our ACKs must then carry
// SEQ = SND.NXT past our own probe octet (which the peer took): clamped to the zero window
// they sit one below the peer's RCV.NXT, the peer drops every one as unacceptable, and so
// its answers to our probes never arrive — R2 closed connections whose peers were alive.
TEST_F(Transfer, MUST_37_ACKs_cover_our_probe_octet_so_a_probing_peer_hears_them) {
  establish_active();
  peer_ack(L + 1, 0);
  send("abc");
  expect_no_tx();
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = "a"});
  // The peer probes our window too, before it answers ours; we have room and take it.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 0, .payload = "z"});
  expect_no_tx();
  fire_next_timer();  // delayed ACK
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 2});
  // The peer took "a" (its ACK says so) and answers with SEQ past its own probe octet.
  inject({.flags = ACK, .seq = R + 2, .ack = L + 2, .window = 0});
  expect_no_tx();
  for (int probe = 0; probe < 40; ++probe) {
    fire_next_timer();
    pop_tx();
    inject({.flags = ACK, .seq = R + 2, .ack = L + 2, .window = 0});  // "still zero"
    while (tx_pending() > 0) pop_tx();
  }
  expect_state(State::Established);
  EXPECT_EQ(counters.tcp_timeouts, 0u);
  EXPECT_EQ(conn().status().snd_una, L + 2);
}

// RFC 5961 §3.2 at the peer: an RST is taken only at exactly its RCV.NXT. After a zero-window
// probe the peer refused (its ACK still says SND.UNA, window 0), ABORT's RST goes at SND.UNA —
// the window clamp, as Linux's tcp_acceptable_seq — not past the refused probe octet, where a
// Linux peer answered with a challenge ACK and never saw the reset (tests/interop/abort.sh).
TEST_F(Transfer, RFC5961_ABORT_after_a_refused_zero_window_probe_resets_at_SND_UNA) {
  establish_active();
  peer_ack(L + 1, 0);
  send("abc");
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = "a"});
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 0});  // refused: still zero
  expect_no_tx();
  abort();
  expect_tx({.flags = RST, .seq = L + 1});
  expect_state(State::Closed);
}

// MUST-37's other half: probes nobody answers count toward R2 — after data_retries of them
// the connection is closed with TimedOut.
TEST_F(Transfer, MUST_37_unanswered_zero_window_probes_close_after_data_retries) {
  config.data_retries = 4;
  establish_active();
  peer_ack(L + 1, 0);
  send("abc");
  Instant start = now;
  for (int probe = 1; probe <= 4; ++probe) {
    fire_next_timer();
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = "a"});
  }
  expect_state(State::Established);
  fire_next_timer();
  expect_no_tx();
  expect_transition(State::Established, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(now - start, 200ms + 400ms + 800ms + 1600ms + 3200ms);
  ASSERT_TRUE(conn().error().has_value());
  EXPECT_EQ(*conn().error(), Error::TimedOut);
  EXPECT_EQ(counters.tcp_window_probes, 4u);
  EXPECT_EQ(counters.tcp_timeouts, 1u);
}

// ---------------------------------------------------------------------------------------
// Silly window syndrome (RFC 9293 §3.8.6.2)

// MUST-38 / MUST-60, §3.8.6.2.1: a window-limited segment shorter than MSS, than what is
// queued and than half the largest window the peer offered is held while nothing is in
// flight — and the override timeout sends it, so nothing waits indefinitely.
TEST_F(Transfer, MUST_38_sender_SWS_holds_a_short_segment_until_the_override_timeout) {
  establish_active();  // MAX.SND.WND = 65535, MSS 536
  peer_ack(L + 1, 100);
  send(text(300));
  expect_no_tx();
  EXPECT_EQ(until_next_deadline(), 200ms) << "override timer = one RTO";
  EXPECT_EQ(run_timers_until(now + 199ms), 0);
  expect_no_tx();
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = text(100)});
  expect_no_tx();  // the window is full
}

// §3.8.6.2.1 (3): a usable window of at least half MAX.SND.WND is sent at once.
TEST_F(Transfer, MUST_38_sender_SWS_sends_at_once_when_the_window_is_half_the_largest_offered) {
  establish_with({}, 1000);  // MAX.SND.WND = 1000
  peer_ack(L + 1, 500);
  send(text(600));
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = text(500)});
}

// §3.8.6.2.2 with RFC 7323 §2.2-2.3: our window field is scaled by RCV.WIND.SHIFT in every
// segment but the SYNs; the peer's window is scaled by its shift, except in its SYN,ACK.
TEST_F(Transfer, Window_scaling_applies_to_every_window_but_the_SYNs) {
  wire::TcpOptions peer;
  peer.window_scale = 7;
  auto ack = establish_with(peer, 1000);
  EXPECT_EQ(ack.window, 262144 >> 3) << "256 KiB buffer, shift 3";
  EXPECT_EQ(conn().status().snd_wnd, 1000u) << "the window in a SYN,ACK is not scaled";
  peer_ack(L + 1, 100);
  EXPECT_EQ(conn().status().snd_wnd, 100u << 7);
  // 1001 octets received and not read: the field is rounded up, (262144 - 1001 + 7) >> 3,
  // so the right edge on the wire never moves left (SHLD-14; rounding down would move it
  // one octet left of R+1+262144).
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 100, .payload = text(1001)});
  fire_next_timer();
  auto ack2 = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1002, .window = 32643});
  EXPECT_GE((R + 1002 + (static_cast<std::uint32_t>(ack2.window) << 3)) - (R + 1 + 262144), 0);
}

// ---------------------------------------------------------------------------------------
// Keep-alive (RFC 9293 §3.8.4)

// MUST-26 (and MAY-5/SHLD-...): after keepalive_idle with nothing received, a probe
// <SEQ=SND.NXT-1> with no data; after keepalive_probes unanswered ones, the connection is
// closed with TimedOut.
TEST_F(Transfer, MUST_26_keepalive_probes_after_idle_and_closes_after_unanswered_probes) {
  config.keepalive = true;
  config.keepalive_idle = 60s;
  config.keepalive_interval = 10s;
  config.keepalive_probes = 3;
  establish_active();
  Instant established = now;
  EXPECT_EQ(until_next_deadline(), 60s) << "the idle timer starts at ESTABLISHED";
  EXPECT_EQ(run_timers_until(now + 59s), 0);
  expect_no_tx();
  for (int probe = 1; probe <= 3; ++probe) {
    fire_next_timer();
    EXPECT_EQ(now - established, 60s + (probe - 1) * 10s);
    expect_tx({.flags = ACK, .seq = L, .ack = R + 1});  // SND.NXT - 1, no data
  }
  EXPECT_EQ(counters.tcp_keepalive_probes, 3u);
  fire_next_timer();
  expect_no_tx();
  EXPECT_EQ(now - established, 90s);
  expect_transition(State::Established, State::Closed);
  ASSERT_TRUE(conn().error().has_value());
  EXPECT_EQ(*conn().error(), Error::TimedOut);
  EXPECT_EQ(counters.tcp_timeouts, 1u);
}

// MUST-26: any segment received restarts the idle time and the probe count.
TEST_F(Transfer, MUST_26_keepalive_any_segment_resets_idle_time_and_probe_count) {
  config.keepalive = true;
  config.keepalive_idle = 60s;
  config.keepalive_interval = 10s;
  config.keepalive_probes = 2;
  establish_active();
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L, .ack = R + 1});
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L, .ack = R + 1});
  peer_ack(L + 1);  // the peer answers the second probe
  expect_no_tx();
  EXPECT_EQ(until_next_deadline(), 60s) << "idle again, not the probe interval";
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L, .ack = R + 1});
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L, .ack = R + 1});
  expect_state(State::Established);  // two fresh probes allowed
  fire_next_timer();
  expect_state(State::Closed);
  EXPECT_EQ(counters.tcp_keepalive_probes, 4u);
  expect_transition(State::Established, State::Closed);
}

// MUST-26: "only ... when no data or acknowledgment packets have been received ... and
// nothing outstanding": with data unacknowledged the retransmission timer watches the peer;
// no keep-alive is sent.
TEST_F(Transfer, MUST_26_no_keepalive_while_data_is_outstanding) {
  config.keepalive = true;
  config.keepalive_idle = 60s;
  config.keepalive_interval = 10s;
  establish_active();
  send("x");
  run_timers_until(now + 100s);
  int segments = 0;
  while (tx_pending() > 0) {
    auto s = pop_tx();
    EXPECT_EQ(s.payload_string(), "x") << "only the data and its retransmissions";
    ++segments;
  }
  // Retransmissions at 0.2, 0.6, 1.4, ... 51 s (the next is at 102.2 s): the original and 8.
  EXPECT_EQ(segments, 9);
  EXPECT_EQ(counters.tcp_keepalive_probes, 0u);
  expect_state(State::Established);
  // Once everything is acknowledged the connection is idle: a probe one idle time later.
  peer_ack(L + 2);
  EXPECT_EQ(until_next_deadline(), 60s);
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});  // SND.NXT - 1 = L + 1
  EXPECT_EQ(counters.tcp_keepalive_probes, 1u);
}

// ---------------------------------------------------------------------------------------
// MSS (RFC 9293 §3.7.1)

// MUST-16: Eff.snd.MSS counts the options of the segment: a data segment carrying a SACK
// block (12 octets) has its payload cut so options + payload <= MSS (the IP packet stays
// within MSS + 40).
TEST_F(Transfer, MUST_16_SACK_blocks_on_data_come_off_the_payload) {
  wire::TcpOptions peer = sack_permitted();
  peer.mss = 1460;
  establish_with(peer);
  inject({.flags = ACK, .seq = R + 11, .ack = L + 1, .payload = "later"});  // a hole R+1..R+11
  auto dup = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  ASSERT_EQ(dup.options.sack_count, 1);
  EXPECT_EQ(dup.options.sack[0], (wire::SackBlock{(R + 11).raw(), (R + 16).raw()}));

  send(text(3000));
  for (SeqNum seq : {L + 1, L + 1449}) {
    auto s = expect_tx({.flags = ACK, .seq = seq, .ack = R + 1, .payload = text(1448)});
    EXPECT_EQ(s.options.sack_count, 1);
    EXPECT_EQ(s.options.emitted_size(), 12u);
    EXPECT_LE(s.payload.size() + s.options.emitted_size(), 1460u);
  }
  expect_no_tx();  // the last 104 octets wait for an ACK (Nagle)
}

// MUST-15 and MUST-67 for IPv6: without an MSS option the peer's is 1220 (RFC 8200 minimum
// MTU 1280 - 60), and what we announce is config.mss - 20 (the IPv6 header is 20 octets
// longer than the IPv4 one TcpConfig::mss is for).
TEST_F(Transfer, MUST_15_and_MUST_67_IPv6_default_MSS_1220_and_announced_MSS_minus_20) {
  use_ipv6();
  open_active();
  auto syn = expect_tx({.flags = SYN, .seq = L});
  ASSERT_TRUE(syn.options.mss.has_value());
  EXPECT_EQ(*syn.options.mss, 1440);
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(conn().status().snd_mss, 1220u);
  send(text(1300));
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = text(1220)});
  expect_no_tx();  // Nagle holds the 80-octet rest
}

// ---------------------------------------------------------------------------------------
// Retransmission timer (RFC 6298, MUST-18)

// §2.2: first sample R: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4 RTTVAR);
// §2.3: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|, SRTT = 7/8 SRTT + 1/8 R'.
TEST_F(Transfer, RFC6298_RTO_from_SRTT_and_RTTVAR_after_each_sample) {
  establish_with({}, 65535, 100ms);
  auto st = conn().status();
  ASSERT_TRUE(st.srtt.has_value());
  EXPECT_EQ(*st.srtt, 100ms);
  EXPECT_EQ(st.rttvar, 50ms);
  EXPECT_EQ(st.rto, 300ms);

  send("x");
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "x"});
  advance(60ms);
  peer_ack(L + 2);
  st = conn().status();
  EXPECT_EQ(*st.srtt, 95ms);      // (7 * 100 + 60) / 8
  EXPECT_EQ(st.rttvar, 47500us);  // (3 * 50 + |100 - 60|) / 4
  EXPECT_EQ(st.rto, 95ms + 190ms);
}

// §5.5 doubling, §3 Karn: an ACK for a retransmitted segment gives no sample (no
// timestamps); the backed-off RTO stays until a fresh sample (§5.7), which resets it.
TEST_F(Transfer, RFC6298_Karn_no_sample_from_retransmission_and_backoff_until_new_sample) {
  establish_with({}, 65535, 100ms);  // RTO 300 ms
  send("x");
  Instant sent = now;
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "x"});
  fire_next_timer();
  EXPECT_EQ(now - sent, 300ms);
  EXPECT_TRUE(
      expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "x"}).retransmission);
  EXPECT_EQ(conn().status().rto, 600ms);
  fire_next_timer();
  EXPECT_EQ(now - sent, 900ms);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "x"});
  EXPECT_EQ(conn().status().rto, 1200ms);

  advance(10ms);
  peer_ack(L + 2);  // ambiguous: the original or a retransmission?
  auto st = conn().status();
  EXPECT_EQ(*st.srtt, 100ms) << "Karn: no sample";
  EXPECT_EQ(st.rttvar, 50ms);
  EXPECT_EQ(st.rto, 1200ms) << "the backed-off RTO is kept";

  send("y");
  expect_tx({.flags = ACK | PSH, .seq = L + 2, .ack = R + 1, .payload = "y"});
  advance(50ms);
  peer_ack(L + 3);
  st = conn().status();
  EXPECT_EQ(*st.srtt, 93750us);  // (7 * 100 + 50) / 8
  EXPECT_EQ(st.rttvar, 50ms);    // (3 * 50 + 50) / 4
  EXPECT_EQ(st.rto, 93750us + 200ms);
}

// §2.4 minimum (rto_min, 200 ms, see docs) and §2.5 maximum (rto_max): the computed RTO
// is raised to the minimum, and backoff stops doubling at the maximum.
TEST_F(Transfer, RFC6298_RTO_clamped_to_rto_min_and_backoff_to_rto_max) {
  config.rto_max = 2s;
  establish_active();  // sample ~0 -> SRTT + max(G, 4 RTTVAR) = 1 ms, raised to 200 ms
  EXPECT_EQ(conn().status().rto, 200ms);
  send("x");
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "x"});
  for (Duration wait : {200ms, 400ms, 800ms, 1600ms, 2000ms, 2000ms}) {
    Instant before = now;
    fire_next_timer();
    EXPECT_EQ(now - before, wait);
    expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "x"});
  }
  EXPECT_EQ(counters.tcp_rto_expirations, 6u);
}

// ---------------------------------------------------------------------------------------
// Loss recovery (RFC 5681 §3.2, RFC 6582, RFC 6675)

// RFC 5681 §3.2: the third duplicate ACK retransmits SND.UNA's segment once; more
// duplicates do not. RFC 6582 §3.2 step 3: a partial ACK retransmits the next hole; the
// full ACK ends recovery.
TEST_F(Transfer, RFC5681_three_dup_ACKs_fast_retransmit_once_and_RFC6582_partial_ACK) {
  establish_active();  // MSS 536, no SACK
  send(text(4 * 536));
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = text(536)});
  expect_tx({.flags = ACK, .seq = L + 537, .ack = R + 1, .payload = text(536)});
  expect_tx({.flags = ACK, .seq = L + 1073, .ack = R + 1, .payload = text(536)});
  expect_tx({.flags = ACK | PSH, .seq = L + 1609, .ack = R + 1, .payload = text(536)});
  peer_ack(L + 537);  // the second segment is lost
  peer_ack(L + 537);
  peer_ack(L + 537);
  expect_no_tx();
  EXPECT_EQ(counters.tcp_fast_retransmits, 0u);
  peer_ack(L + 537);  // the third duplicate
  auto rx = expect_tx({.flags = ACK, .seq = L + 537, .ack = R + 1, .payload = text(536)});
  EXPECT_TRUE(rx.retransmission);
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  EXPECT_EQ(counters.tcp_dup_acks, 3u);
  peer_ack(L + 537);
  expect_no_tx();
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);

  peer_ack(L + 1073);  // partial: the third segment was lost too
  expect_tx({.flags = ACK, .seq = L + 1073, .ack = R + 1, .payload = text(536)});
  peer_ack(L + 2145);  // everything
  expect_no_tx();
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  EXPECT_EQ(conn().status().retransmits, 2u);
}

// RFC 6675 §5: with SACK, once the blocks show more than (DupThresh - 1) * SMSS octets above
// SND.UNA, the hole is retransmitted — and only the hole, never what the peer SACKed.
TEST_F(Transfer, RFC6675_SACK_recovery_retransmits_only_the_hole) {
  config.loss_detection = LossDetection::DupThresh;  // RFC 6675's rules (RACK: rack_rules_test)
  establish_with(sack_permitted());
  send(text(5 * 536));
  for (int i = 0; i < 5; ++i) pop_tx();
  peer_ack(L + 1, 65535, sack_blocks({{L + 537, L + 1073}}));
  peer_ack(L + 1, 65535, sack_blocks({{L + 537, L + 1609}}));
  expect_no_tx();
  peer_ack(L + 1, 65535, sack_blocks({{L + 537, L + 2145}}));
  auto rx = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = text(536)});
  EXPECT_TRUE(rx.retransmission);
  expect_no_tx();
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  EXPECT_EQ(counters.tcp_sack_recovered_bytes, 536u);
  // The hole is filled; the unSACKed last segment is not (yet) judged lost.
  peer_ack(L + 2145);
  expect_no_tx();
  peer_ack(L + 2681);
  expect_no_tx();
  EXPECT_EQ(counters.tcp_sack_recovered_bytes, 536u);
  EXPECT_EQ(conn().status().retransmits, 1u);
}

// RFC 3042 §2 limited transmit: each of the first two duplicate ACKs sends one new segment
// beyond cwnd (cwnd itself unchanged), so that a small window still yields the third
// duplicate that starts fast retransmit instead of waiting for the RTO.
TEST_F(Transfer, RFC3042_limited_transmit_sends_new_data_on_the_first_two_dup_ACKs) {
  config.initial_window_segments = 4;
  establish_active();  // MSS 536, no SACK
  auto seg = [](int i) { return L + 1 + 536 * i; };
  send(text(6 * 536));
  for (int i = 0; i < 4; ++i)
    expect_tx({.flags = ACK, .seq = seg(i), .ack = R + 1, .payload = text(536)});
  expect_no_tx();
  std::uint32_t cwnd = conn().status().cwnd;
  peer_ack(seg(0));  // the first segment is lost
  expect_tx({.flags = ACK, .seq = seg(4), .ack = R + 1, .payload = text(536)});
  peer_ack(seg(0));
  expect_tx({.flags = ACK | PSH, .seq = seg(5), .ack = R + 1, .payload = text(536)});
  EXPECT_EQ(conn().status().cwnd, cwnd);
  EXPECT_EQ(counters.tcp_fast_retransmits, 0u);
  peer_ack(seg(0));  // the third: fast retransmit
  auto rx = expect_tx({.flags = ACK, .seq = seg(0), .ack = R + 1, .payload = text(536)});
  EXPECT_TRUE(rx.retransmission);
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  peer_ack(seg(6));
  expect_no_tx();
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// RFC 6582 §3.2 step 2: recovery may begin again once the cumulative ACK "covers more than
// recover" (the highest sequence number sent when the last recovery began). An ACK of
// exactly everything sent then qualifies: a loss right after it is fast-retransmitted, not
// left to the RTO.
TEST_F(Transfer, RFC6582_new_recovery_once_the_ACK_covers_the_previous_recover) {
  config.initial_window_segments = 4;
  establish_active();  // MSS 536, no SACK
  auto seg = [](int i) { return L + 1 + 536 * i; };
  send(text(14 * 536));
  for (int i = 0; i < 4; ++i) pop_tx();
  peer_ack(seg(0));  // segment 0 lost; limited transmit sends 4 and 5
  peer_ack(seg(0));
  expect_tx({.flags = ACK, .seq = seg(4), .ack = R + 1, .payload = text(536)});
  expect_tx({.flags = ACK, .seq = seg(5), .ack = R + 1, .payload = text(536)});
  peer_ack(seg(0));
  expect_tx({.flags = ACK, .seq = seg(0), .ack = R + 1, .payload = text(536)});
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  std::vector<SentSegment> sent;  // new data the inflated window lets out, segment 6 first
  while (tx_pending() > 0) sent.push_back(pop_tx());
  // Everything sent before the recovery began (recover = segment 5's last octet) is ACKed.
  peer_ack(seg(6));
  while (tx_pending() > 0) sent.push_back(pop_tx());
  ASSERT_GE(sent.size(), 3u);
  EXPECT_EQ(sent[0].seq, seg(6));
  // Segment 6 is lost: three duplicate ACKs of it (= the old recover) start a new recovery.
  for (int i = 0; i < 3; ++i) {
    peer_ack(seg(6));
    while (tx_pending() > 0) sent.push_back(pop_tx());
  }
  auto retransmitted = std::count_if(sent.begin(), sent.end(), [&](const SentSegment& s) {
    return s.seq == seg(6) && s.retransmission;
  });
  EXPECT_EQ(retransmitted, 1);
  EXPECT_EQ(counters.tcp_fast_retransmits, 2u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// RFC 8985 §6.2 (Linux: lost-retransmission marking): RFC 6675 never sends a range twice,
// so a lost retransmission used to wait for the RTO. When more than (DupThresh - 1) * SMSS
// octets first sent after the retransmission are SACKed while it stays a hole, it was lost
// and goes out again at once; one or two SACKed segments beyond it may be reordering and
// do not count.
TEST_F(Transfer, RFC8985_lost_retransmission_detected_by_SACK_is_sent_again_without_RTO) {
  config.loss_detection = LossDetection::DupThresh;  // RFC 6675's rules (RACK: rack_rules_test)
  config.initial_window_segments = 8;
  establish_with(sack_permitted());
  auto seg = [](int i) { return L + 1 + 536 * i; };
  send(text(40 * 536));
  for (int i = 0; i < 8; ++i) pop_tx();
  std::vector<SentSegment> sent;
  auto drain = [&] {
    while (tx_pending() > 0) sent.push_back(pop_tx());
  };
  auto resends_of_first = [&] {
    return std::count_if(sent.begin(), sent.end(),
                         [&](const SentSegment& s) { return s.seq == seg(0) && s.retransmission; });
  };
  auto highest_sent = [&] {
    SeqNum high = seg(8);
    for (const auto& s : sent)
      high = seq_max(high, s.seq + static_cast<std::uint32_t>(s.payload.size()));
    return high;
  };
  // Segment 0 is lost; segments 1, 2, 3 are SACKed: recovery retransmits segment 0.
  for (int k = 2; k <= 4; ++k) {
    peer_ack(seg(0), 65535, sack_blocks({{seg(1), seg(k)}}));
    drain();
  }
  ASSERT_EQ(resends_of_first(), 1);
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  SeqNum sent_after_retransmission = highest_sent();
  // The retransmission is lost too. Everything else arrives, one segment per ACK.
  int k = 4;
  for (; seg(k) <= sent_after_retransmission + 2 * 536; ++k) {
    ASSERT_LT(seg(k), highest_sent()) << "recovery stalled";
    peer_ack(seg(0), 65535, sack_blocks({{seg(1), seg(k + 1)}}));
    drain();
    if (seg(k + 1) <= sent_after_retransmission + 2 * 536) {
      EXPECT_EQ(resends_of_first(), 1) << "at most two segments beyond it may be reordering";
    }
  }
  EXPECT_EQ(resends_of_first(), 2) << "the third segment sent after it shows it lost";
  EXPECT_EQ(counters.tcp_lost_retransmits, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
  // The second retransmission arrives: the cumulative ACK jumps over the SACKed data.
  peer_ack(seg(k + 1));
  drain();
  EXPECT_EQ(resends_of_first(), 2);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// ---------------------------------------------------------------------------------------
// Nagle (RFC 9293 §3.7.4)

// SHLD-7: a second short segment waits until the first is acknowledged.
TEST_F(Transfer, Nagle_second_small_segment_waits_for_the_ACK_of_the_first) {
  establish_active();
  send("a");
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "a"});
  send("b");
  send("c");
  expect_no_tx();
  peer_ack(L + 2);
  expect_tx({.flags = ACK | PSH, .seq = L + 2, .ack = R + 1, .payload = "bc"});
}

// MUST-17: the application can turn Nagle off for one connection (TCP_NODELAY).
TEST_F(Transfer, Nagle_off_with_no_delay_sends_each_small_segment_at_once) {
  establish_active();
  conn().set_no_delay(true);
  send("a");
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "a"});
  send("b");
  expect_tx({.flags = ACK | PSH, .seq = L + 2, .ack = R + 1, .payload = "b"});
}

// ---------------------------------------------------------------------------------------
// Delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2)

// MUST-58/SHLD-18/SHLD-19: one segment is acknowledged after delayed_ack (40 ms), not
// before; the second full segment is acknowledged at once.
TEST_F(Transfer, Delayed_ACK_after_40ms_for_one_segment_and_at_once_for_two) {
  establish_active();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = text(536)});
  expect_no_tx();
  EXPECT_EQ(run_timers_until(now + 39ms), 0);
  expect_no_tx();
  Instant before = now;
  fire_next_timer();
  EXPECT_EQ(now - before, 1ms);
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 537});
  EXPECT_EQ(counters.tcp_delayed_acks, 1u);

  inject({.flags = ACK, .seq = R + 537, .ack = L + 1, .payload = text(536)});
  expect_no_tx();
  inject({.flags = ACK, .seq = R + 1073, .ack = L + 1, .payload = text(536)});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1609});
  EXPECT_FALSE(conn().next_deadline().has_value()) << "the delayed-ACK timer is stopped";
  EXPECT_EQ(counters.tcp_delayed_acks, 1u);
}

// RFC 5681 §4.2 / RFC 2018 §4: an out-of-order segment gets an immediate duplicate ACK
// with a SACK block; the segment filling the hole gets an immediate ACK (no SACK left).
TEST_F(Transfer, Delayed_ACK_not_for_out_of_order_segment_or_hole_fill_with_SACK) {
  establish_with(sack_permitted());
  inject({.flags = ACK, .seq = R + 537, .ack = L + 1, .payload = text(536, 'b')});
  auto dup = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  ASSERT_EQ(dup.options.sack_count, 1);
  EXPECT_EQ(dup.options.sack[0], (wire::SackBlock{(R + 537).raw(), (R + 1073).raw()}));
  EXPECT_EQ(counters.tcp_out_of_order_segments, 1u);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = text(536, 'a')});
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1073});
  EXPECT_EQ(ack.options.sack_count, 0);
  EXPECT_EQ(receive_all(), text(536, 'a') + text(536, 'b'));
}

// ---------------------------------------------------------------------------------------
// Reassembly (RFC 9293 §3.10.7.4 seventh, §3.4)

// Out-of-order, overlapping and duplicate segments: every octet is delivered once, in
// order, when the hole fills.
TEST_F(Transfer, Reassembly_delivers_each_octet_once_in_order_after_the_hole_fills) {
  establish_active();
  inject({.flags = ACK, .seq = R + 6, .ack = L + 1, .payload = "fghij"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  inject({.flags = ACK, .seq = R + 9, .ack = L + 1, .payload = "ijklm"});  // overlaps
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  inject({.flags = ACK, .seq = R + 6, .ack = L + 1, .payload = "fghij"});  // duplicate
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(conn().readable(), 0u);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "abcdefg"});  // fills, overlaps
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 14});
  EXPECT_EQ(receive_all(), "abcdefghijklm");
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "abcde"});  // old duplicate
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 14});
  EXPECT_EQ(receive_all(), "");
  EXPECT_EQ(conn().status().bytes_received, 13u);
}

// The reassembly store is bounded: past max_reassembly_ranges out-of-order ranges a
// segment is dropped and counted (the peer sends it again).
TEST_F(Transfer, Reassembly_is_bounded_by_max_reassembly_ranges) {
  config.max_reassembly_ranges = 2;
  establish_active();
  inject({.flags = ACK, .seq = R + 11, .ack = L + 1, .payload = "b"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  inject({.flags = ACK, .seq = R + 21, .ack = L + 1, .payload = "c"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  inject({.flags = ACK, .seq = R + 31, .ack = L + 1, .payload = "d"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(counters.drop_reassembly_full, 1u);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = text(10, 'a')});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 12});
  EXPECT_EQ(receive_all(), text(10, 'a') + "b");
}

// ---------------------------------------------------------------------------------------
// Old segments and lying ACKs (RFC 7323 §5, RFC 5961 §5, RFC 2018)

// RFC 7323 §5.3 R1: a segment whose TSval is older than TS.Recent is an old duplicate:
// dropped (its data is not delivered) and answered with an ACK.
TEST_F(Transfer, RFC7323_PAWS_drops_older_TSval_and_answers_with_ACK) {
  wire::TcpOptions peer;
  peer.timestamps = wire::Timestamps{500, 1000};
  establish_with(peer);
  wire::TcpOptions old_ts;
  old_ts.timestamps = wire::Timestamps{400, 1000};
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "old", .options = old_ts});
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  ASSERT_TRUE(ack.options.timestamps.has_value());
  EXPECT_EQ(ack.options.timestamps->echo, 500u) << "TS.Recent unchanged";
  EXPECT_EQ(counters.drop_paws, 1u);
  EXPECT_EQ(conn().readable(), 0u);
  wire::TcpOptions new_ts;
  new_ts.timestamps = wire::Timestamps{600, 1000};
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "new", .options = new_ts});
  fire_next_timer();  // delayed ACK
  auto ack2 = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 4});
  EXPECT_EQ(ack2.options.timestamps->echo, 600u);
  EXPECT_EQ(receive_all(), "new");
  EXPECT_EQ(counters.drop_paws, 1u);
}

// RFC 7323 §5.3 R1 as Linux applies it (tcp_paws_discard(), TCP_PAWS_WINDOW): a TSval one tick
// older than TS.Recent passes — a peer's ACKs sent from two CPUs cross by that much — and does
// not move TS.Recent back; two ticks older is an old duplicate again.
TEST_F(Transfer, RFC7323_PAWS_lets_a_TSval_one_tick_older_through_as_Linux_does) {
  wire::TcpOptions peer;
  peer.timestamps = wire::Timestamps{500, 1000};
  establish_with(peer);
  wire::TcpOptions one_older;
  one_older.timestamps = wire::Timestamps{499, 1000};
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "one", .options = one_older});
  fire_next_timer();  // delayed ACK
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 4});
  ASSERT_TRUE(ack.options.timestamps.has_value());
  EXPECT_EQ(ack.options.timestamps->echo, 500u) << "TS.Recent does not move back";
  EXPECT_EQ(counters.drop_paws, 0u);
  EXPECT_EQ(receive_all(), "one");
  wire::TcpOptions two_older;
  two_older.timestamps = wire::Timestamps{498, 1000};
  inject({.flags = ACK, .seq = R + 4, .ack = L + 1, .payload = "two", .options = two_older});
  auto reply = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 4});
  EXPECT_EQ(reply.options.timestamps->echo, 500u);
  EXPECT_EQ(counters.drop_paws, 1u);
  EXPECT_EQ(conn().readable(), 0u);
}

// RFC 5961 §5.2: an ACK below SND.UNA - MAX.SND.WND is dropped and answered with an ACK;
// an older ACK within MAX.SND.WND is only ignored.
TEST_F(Transfer, RFC5961_ACK_older_than_SND_UNA_minus_MAX_SND_WND_dropped_with_ACK) {
  establish_with({}, 1000);  // MAX.SND.WND = 1000
  send(text(536));
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = text(536)});
  peer_ack(L + 537, 1000);
  expect_no_tx();
  peer_ack(L - 500, 1000);  // below L + 537 - 1000
  expect_tx({.flags = ACK, .seq = L + 537, .ack = R + 1});
  EXPECT_EQ(counters.drop_ack_too_old, 1u);
  peer_ack(L + 1, 1000);  // old, but within MAX.SND.WND
  expect_no_tx();
  EXPECT_EQ(counters.drop_ack_too_old, 1u);
  EXPECT_EQ(conn().status().snd_una, L + 537);
}

// RFC 2018 §4 / RFC 6675 §5.1: SACK blocks beyond SND.MAX cannot be true; they are ignored
// (no recovery, nothing marked SACKed) and counted.
TEST_F(Transfer, RFC2018_SACK_blocks_above_SND_MAX_are_ignored_and_counted) {
  config.loss_detection = LossDetection::DupThresh;  // RFC 6675's rules (RACK: rack_rules_test)
  establish_with(sack_permitted());
  send(text(3 * 536));
  for (int i = 0; i < 3; ++i) pop_tx();
  peer_ack(L + 1, 65535, sack_blocks({{L + 5000, L + 6000}}));
  expect_no_tx();
  EXPECT_EQ(counters.drop_sack_invalid, 1u);
  peer_ack(L + 1, 65535, sack_blocks({{L + 537, L + 1609}, {L + 1609, L + 9000}}));
  expect_no_tx();
  EXPECT_EQ(counters.drop_sack_invalid, 2u);
  EXPECT_EQ(counters.tcp_sack_recovered_bytes, 0u);
  EXPECT_EQ(counters.tcp_fast_retransmits, 0u);
}

}  // namespace transfer_rules_test
}  // namespace synack::tcp::test
