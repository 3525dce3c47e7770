// SPDX-License-Identifier: MIT
// Spurious retransmissions found and their congestion response undone (src/tcp/
// spurious_retransmit.{hpp,cpp}), scripted segment by segment in virtual time: F-RTO (RFC 5682,
// the SACK-enhanced §3.1 and the basic §2.1), D-SACK (RFC 3708), the timestamp echo (Eifel
// detection, RFC 3522), the response (RFC 4015 §2 after a timeout, Linux's undo after fast
// recovery, RFC 9438 §4.9 for CUBIC's state), and a lying peer that must not inflate the window.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"
#include "tcp/congestion/bbr.hpp"
#include "tcp/congestion/cubic.hpp"

namespace synack::tcp::test {
namespace {

class Spurious : public Harness {
 protected:
  // Timeouts are scripted: the tail loss probe (on by default, RFC 8985 §7), which would go
  // before them, is off (tail_loss_probe_test.cpp tests it). Slow start grows by RFC 3465's
  // L = 2 SMSS per ACK, so that the windows below are the RFCs' own.
  Spurious() {
    config.frto = true;
    config.tail_loss_probe = false;
    config.slow_start_ack_limit = 2;
  }
  // The harness's peer sends no MSS option: 536, less 12 with timestamps (RFC 7323 §3.2).
  std::uint32_t mss = 536;
  bool ts = false;
  std::uint32_t peer_tsval = 5000;
  // The TSval each segment (by index) last left with.
  std::map<int, std::uint32_t> tsval;

  SeqNum seg(int i) const { return L + 1 + mss * static_cast<std::uint32_t>(i); }
  // Indexes of the segments sent since the last call (their TSvals recorded).
  std::vector<int> sent() {
    std::vector<int> v;
    while (tx_pending() > 0) {
      SentSegment s = pop_tx();
      int i = static_cast<int>((s.seq - seg(0)) / mss);
      if (s.options.timestamps) tsval[i] = s.options.timestamps->value;
      v.push_back(i);
    }
    return v;
  }
  // The peer's ACK of `a`, SACKing the [from, to) segment ranges (a block below `a` or inside
  // the next one is a D-SACK), echoing `echo` (default: the newest TSval we sent).
  void ack(SeqNum a, std::initializer_list<std::pair<int, int>> sacked = {},
           std::optional<std::uint32_t> echo = std::nullopt) {
    wire::TcpOptions o;
    for (auto [from, to] : sacked) o.sack[o.sack_count++] = {seg(from).raw(), seg(to).raw()};
    if (ts) {
      std::uint32_t newest = 0;
      for (auto [i, v] : tsval) newest = std::max(newest, v);
      o.timestamps = wire::Timestamps{++peer_tsval, echo.value_or(newest)};
    }
    inject({.flags = ACK, .seq = R + 1, .ack = a, .options = o});
  }
  // The handshake in 20 ms (SRTT 20 ms, RTO 200 ms), then `iw` segments out at once with
  // `queued` more waiting; 20 ms later.
  void start(bool sack, bool timestamps, int iw, int queued) {
    ts = timestamps;
    mss = ts ? 524 : 536;
    config.initial_window_segments = static_cast<std::uint32_t>(iw);
    open_active();
    SentSegment syn = pop_tx();
    expect_transition(State::Closed, State::SynSent);
    advance(20ms);
    wire::TcpOptions peer;
    peer.sack_permitted = sack;
    if (ts) peer.timestamps = wire::Timestamps{peer_tsval, syn.options.timestamps->value};
    inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 65535, .options = peer});
    pop_tx();  // the ACK of the SYN,ACK
    expect_transition(State::SynSent, State::Established);
    send(std::string(static_cast<std::size_t>(iw + queued) * mss, 'x'));
    ASSERT_EQ(sent().size(), static_cast<std::size_t>(iw));
    advance(20ms);
  }
  // The retransmission timer fires with nothing acknowledged: SND.UNA's segment goes again.
  void timeout() {
    fire_next_timer();
    ASSERT_EQ(sent(), std::vector<int>{0});
    ASSERT_EQ(counters.tcp_rto_expirations, 1u);
  }
  // RFC 4015 §2 steps (6)-(7) without an RTT: the undo brought SRTT_prev (SRTT + 2G, G = 1 ms,
  // step (0)) and RTTVAR_prev back, and the RTO from them — neither backed off nor grown by the
  // timeout. `before`: the status before the timeout.
  void expect_estimate_restored(const ConnectionStatus& before, Loc loc = Loc()) {
    SCOPED_TRACE(testing::Message() << loc.file << ":" << loc.line);
    EXPECT_EQ(counters.tcp_eifel_spurious, 1u);
    EXPECT_EQ(counters.tcp_undos, 1u);
    const ConnectionStatus s = conn().status();
    ASSERT_TRUE(s.srtt && before.srtt);
    EXPECT_EQ(*s.srtt, *before.srtt + 2ms);
    EXPECT_EQ(s.rttvar, before.rttvar);
    EXPECT_EQ(s.rto, before.rto);
  }
  // Four segments out, the first ACKed 20 ms later (RACK and SRTT have a sample; slow start
  // lets 4 and 5 out), then the retransmission timer fires with 1-5 unacknowledged and 1 goes
  // again. Returns the status before the timeout.
  ConnectionStatus timeout_on_1(bool sack) {
    start(sack, false, 4, 20);
    ack(seg(1));
    EXPECT_EQ(sent(), (std::vector<int>{4, 5}));
    const ConnectionStatus before = conn().status();
    fire_next_timer();
    EXPECT_EQ(sent(), std::vector<int>{1});
    EXPECT_EQ(counters.tcp_rto_expirations, 1u);
    advance(1ms);  // the ACKs of the originals arrive just after
    return before;
  }
  // Six segments out, the first ACKed 20 ms later (RACK has its RTT); then 2-4 SACKed with 1
  // missing: three segments above it, RACK's reo_wnd is 0 and 1 is resent (fast recovery).
  // Returns cwnd before the reduction.
  std::uint32_t fast_retransmit_of_1(bool timestamps) {
    start(true, timestamps, 6, 0);
    ack(seg(1));
    std::uint32_t before = conn().status().cwnd;
    advance(1ms);
    ack(seg(1), {{2, 5}});
    EXPECT_EQ(sent(), std::vector<int>{1});
    EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
    EXPECT_LT(conn().status().cwnd, before) << "the reduction to be undone";
    return before;
  }
};

// --- F-RTO, RFC 5682 §3.1 (with SACK) ---------------------------------------------------------

// Step 2b: the first ACK after the timeout's retransmission acknowledges it without covering
// "recover" (SND.MAX at the timeout, the end of 5): two new segments go out, no more
// retransmissions.
TEST_F(Spurious, RFC5682_3_1_step2b_new_data_instead_of_retransmissions) {
  timeout_on_1(true);
  ack(seg(2));
  EXPECT_EQ(sent(), (std::vector<int>{6, 7})) << "previously unsent data, not 2, 3, 4, 5";
  EXPECT_EQ(counters.tcp_retransmitted_segments, 1u);
}

// Step 3b: the next ACK acknowledges data sent before the timeout and never resent (2 and 3):
// the timeout was spurious. RFC 4015 §2: SND.NXT = SND.MAX (new data goes on, 4 and 5 are not
// resent), cwnd = FlightSize + min(bytes_acked, IW) but never above what it was, ssthresh =
// pipe_prev.
TEST_F(Spurious, RFC5682_3_1_step3b_spurious_timeout_goes_on_with_new_data) {
  const ConnectionStatus before = timeout_on_1(true);
  ack(seg(2));
  EXPECT_EQ(sent(), (std::vector<int>{6, 7}));
  ack(seg(4));
  EXPECT_EQ(counters.tcp_frto_spurious, 1u);
  EXPECT_EQ(counters.tcp_undos, 1u);
  EXPECT_EQ(conn().status().undos, 1u);
  // FlightSize 4 (4-7) + min(2 acked, IW) = 6 segments, capped at the 5 before the timeout.
  EXPECT_EQ(conn().status().cwnd, before.cwnd);
  EXPECT_EQ(conn().status().ssthresh, before.ssthresh) << "pipe_prev: still slow start";
  EXPECT_EQ(sent(), std::vector<int>{8}) << "new data, never 4 or 5 again";
  ack(seg(9));
  EXPECT_EQ(counters.tcp_retransmitted_segments, 1u);
  EXPECT_EQ(counters.tcp_fast_retransmits, 0u);
  sent();
}

// Step 3a: the new data is SACKed while the old is not: the timeout was real, conventional
// recovery goes on (cwnd at most 3 MSS) and nothing is undone.
TEST_F(Spurious, RFC5682_3_1_step3a_SACK_above_recover_means_real_loss) {
  timeout_on_1(true);
  ack(seg(2));
  EXPECT_EQ(sent(), (std::vector<int>{6, 7}));
  ack(seg(2), {{6, 7}});
  EXPECT_LE(conn().status().cwnd, 3 * mss);
  std::vector<int> got = sent();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), 2) << "slow-start retransmissions of what is missing";
  EXPECT_EQ(counters.tcp_frto_spurious, 0u);
  EXPECT_EQ(counters.tcp_undos, 0u);
}

// Step 2a: the first ACK covers "recover" (everything sent before the timeout): F-RTO has
// nothing to tell; without D-SACK or echo evidence nothing is undone.
TEST_F(Spurious, RFC5682_3_1_step2a_ACK_covering_recover_ends_without_undo) {
  timeout_on_1(true);
  ack(seg(6));
  EXPECT_EQ(counters.tcp_frto_spurious, 0u);
  EXPECT_EQ(counters.tcp_undos, 0u);
  EXPECT_EQ(conn().status().cwnd, 3 * mss) << "slow start after the timeout: 1 + 2";
  EXPECT_EQ(sent(), (std::vector<int>{6, 7, 8})) << "new data in slow start";
}

// --- F-RTO, RFC 5682 §2.1 (without SACK) ------------------------------------------------------

// Steps 2b and 3b: new data after the first ACK, and an ACK advancing again shows the timeout
// spurious; no going back N.
TEST_F(Spurious, RFC5682_2_1_basic_step3b_without_SACK) {
  timeout_on_1(false);
  ack(seg(2));
  EXPECT_EQ(sent(), (std::vector<int>{6, 7})) << "not a go-back-N from 2";
  ack(seg(4));
  EXPECT_EQ(counters.tcp_frto_spurious, 1u);
  EXPECT_EQ(sent(), std::vector<int>{8});
  EXPECT_EQ(counters.tcp_retransmitted_segments, 1u);
}

// Step 3a: a duplicate ACK after the new data: the old data was lost; back N from SND.UNA with
// cwnd at most 3 MSS.
TEST_F(Spurious, RFC5682_2_1_basic_step3a_duplicate_ACK_goes_back_N) {
  timeout_on_1(false);
  ack(seg(2));
  EXPECT_EQ(sent(), (std::vector<int>{6, 7}));
  ack(seg(2));
  std::vector<int> got = sent();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), 2);
  EXPECT_EQ(counters.tcp_frto_spurious, 0u);
  EXPECT_EQ(counters.tcp_undos, 0u);
}

// Step 2a: a duplicate ACK first: the loss was real; recovery goes back N (the segment after
// the retransmission, by limited transmit), never to new data.
TEST_F(Spurious, RFC5682_2_1_basic_step2a_duplicate_ACK_reverts) {
  timeout_on_1(false);
  ack(seg(1));
  EXPECT_EQ(sent(), std::vector<int>{2});
  ack(seg(3));
  std::vector<int> got = sent();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), 3) << "go-back-N, not new data";
  EXPECT_EQ(counters.tcp_frto_spurious, 0u);
}

// --- D-SACK, RFC 3708 ---------------------------------------------------------------------

// §3: every retransmission of the episode D-SACKed (here after the recovery ended, as the
// original arrived first): the reduction is undone — cwnd and ssthresh as before (Linux's
// tcp_try_undo_dsack).
TEST_F(Spurious, RFC3708_3_every_retransmission_DSACKed_undoes_fast_recovery) {
  std::uint32_t before = fast_retransmit_of_1(false);
  const std::uint32_t ssthresh_before = 0x7fffffff;
  ack(seg(6));  // the original 1 arrived late: all acknowledged
  EXPECT_EQ(counters.tcp_undos, 0u);
  EXPECT_LT(conn().status().cwnd, before);
  ack(seg(6), {{1, 2}});  // ... and then the retransmission: D-SACK
  EXPECT_EQ(counters.tcp_dsack_spurious, 1u);
  EXPECT_EQ(counters.tcp_undos, 1u);
  EXPECT_EQ(conn().status().cwnd, before);
  EXPECT_EQ(conn().status().ssthresh, ssthresh_before);
}

// §3: one of two retransmissions D-SACKed is not enough; a repeat of the same block does not
// count twice, and a block outside what was resent does not count at all.
TEST_F(Spurious, RFC3708_3_partial_DSACK_repeats_and_foreign_blocks_do_not_undo) {
  start(true, false, 6, 0);
  ack(seg(1));
  advance(1ms);
  ack(seg(1), {{3, 6}});  // 1 and 2 lost
  EXPECT_EQ(sent(), (std::vector<int>{1, 2}));
  ack(seg(6));
  ack(seg(6), {{1, 2}});
  ack(seg(6), {{1, 2}});  // repeated
  ack(seg(6), {{4, 5}});  // never retransmitted
  EXPECT_EQ(counters.tcp_undos, 0u);
  EXPECT_EQ(counters.tcp_undo_evidence_ignored, 2u);
  ack(seg(6), {{2, 3}});
  EXPECT_EQ(counters.tcp_undos, 1u) << "now every resent octet was reported twice";
}

// --- the timestamp echo, RFC 3522 ----------------------------------------------------------

// §3.2: the ACK ending the recovery echoes a TSval older than the retransmission's: an original
// filled the hole, the fast retransmit was spurious, and the reduction is undone.
TEST_F(Spurious, RFC3522_3_2_echo_older_than_retransmission_undoes_fast_recovery) {
  std::uint32_t before = fast_retransmit_of_1(true);
  ack(seg(6), {}, tsval[5]);  // echoes the original 5's TSval, sent before the retransmission
  EXPECT_EQ(counters.tcp_eifel_spurious, 1u);
  EXPECT_EQ(counters.tcp_undos, 1u);
  EXPECT_EQ(conn().status().cwnd, before);
}

// The same ACK echoing the retransmission: the hole was filled by it, the loss was real.
TEST_F(Spurious, RFC3522_3_2_echo_of_the_retransmission_keeps_the_reduction) {
  std::uint32_t before = fast_retransmit_of_1(true);
  ack(seg(6), {}, tsval[1]);
  EXPECT_EQ(counters.tcp_eifel_spurious, 0u);
  EXPECT_EQ(counters.tcp_undos, 0u);
  EXPECT_LT(conn().status().cwnd, before);
}

// §3.2 after a timeout (RFC 4015's SPUR_TO): the first ACK of new data echoes the original's
// TSval: spurious at once, no F-RTO round needed; new data goes on and the RTO is adapted
// (RFC 4015 §2: SRTT = max(SRTT_prev, RTT), the backoff gone).
TEST_F(Spurious, RFC3522_3_2_timeout_first_ACK_echoing_the_original_is_spurious) {
  start(true, true, 4, 10);
  const Instant first_sent = now - 20ms;
  timeout();
  const Duration backed_off = conn().status().rto;
  advance(50ms);
  ack(seg(2), {}, tsval[1]);
  EXPECT_EQ(counters.tcp_eifel_spurious, 1u);
  EXPECT_EQ(counters.tcp_frto_spurious, 0u);
  EXPECT_EQ(counters.tcp_undos, 1u);
  std::vector<int> got = sent();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), 4) << "new data, not the segments the timeout marked lost";
  EXPECT_EQ(std::count(got.begin(), got.end(), 2), 0);
  const ConnectionStatus s = conn().status();
  ASSERT_TRUE(s.srtt);
  EXPECT_GE(*s.srtt, std::chrono::duration_cast<Duration>(now - first_sent - 1ms))
      << "SRTT at least the delayed segment's round trip";
  EXPECT_NE(s.rto, backed_off);
}

// --- the response, RFC 4015 §2 --------------------------------------------------------------

// Steps (6)-(7): after a spurious timeout the RTO is SRTT + 4 RTTVAR from SRTT = max(SRTT_prev,
// RTT) and RTTVAR = max(RTTVAR_prev, RTT / 2) — not the doubled timer, not the old estimate.
TEST_F(Spurious, RFC4015_2_RTO_adapted_after_spurious_timeout) {
  start(true, true, 4, 10);
  timeout();
  advance(100ms);
  ack(seg(2), {}, tsval[1]);
  ASSERT_EQ(counters.tcp_undos, 1u);
  const ConnectionStatus s = conn().status();
  ASSERT_TRUE(s.srtt);
  // RTT: the original went out at 20 ms, its echo came back at 220 + 100 ms.
  const Duration rtt = std::chrono::milliseconds(300);
  EXPECT_EQ(*s.srtt, rtt);
  EXPECT_EQ(s.rttvar, rtt / 2);
  EXPECT_EQ(s.rto, rtt + 4 * (rtt / 2));
  sent();
}

// The ACK after a timeout reports the retransmission as a duplicate (D-SACK) and echoes the
// original's TSval, as Linux's receiver does (it drops the duplicate before recording its
// TSval): the originals all arrived and only their ACKs were lost. Spurious, undone — but the
// echo times the whole timeout, not the path: SRTT and RTTVAR stay as they were (bench/loss.sh
// at 5 %: a 200 ms "RTT" on a 50 µs path made the RTO 0.6 s).
TEST_F(Spurious, RFC4015_2_no_RTT_from_the_echo_of_an_ACK_reporting_a_duplicate) {
  start(true, true, 4, 10);
  const ConnectionStatus before = conn().status();
  ASSERT_TRUE(before.srtt);
  timeout();
  advance(1ms);
  ack(seg(4), {{0, 1}}, tsval[1]);
  EXPECT_EQ(counters.tcp_rtt_samples_discarded, 1u) << "the ACK's timestamp sample";
  expect_estimate_restored(before);
  sent();
}

// The first ACK after a timeout echoes the original's TSval but rides on the peer's data: a
// piggybacked acknowledgment may have waited for its data (for the peer's own retransmission
// timer, when our ACKs were lost as well), so it detects — the original arrived — but times
// nothing: SRTT and RTTVAR stay as they were (soak seed 52940: 12–22 s "RTTs" on a 30 ms path).
TEST_F(Spurious, RFC4015_2_no_RTT_from_an_echo_that_rides_on_data) {
  start(false, true, 4, 10);
  const ConnectionStatus before = conn().status();
  ASSERT_TRUE(before.srtt);
  timeout();
  advance(100ms);
  wire::TcpOptions o;
  o.timestamps = wire::Timestamps{++peer_tsval, tsval[1]};
  inject({.flags = ACK, .seq = R + 1, .ack = seg(2), .payload = "data", .options = o});
  expect_estimate_restored(before);
  EXPECT_EQ(sent().front(), 4) << "new data goes on (the ACK of the peer's data rides on it)";
}

// The same rule in fast recovery, where the undo leaves the estimator alone: an ACK reporting
// the retransmission as a duplicate, 100 ms later and echoing an original sent before it, adds
// no timestamp sample (the cumulative ACK covers a retransmission: no sequence sample either).
TEST_F(Spurious, RFC7323_4_1_no_timestamp_sample_from_an_ACK_reporting_a_duplicate) {
  fast_retransmit_of_1(true);
  const ConnectionStatus before = conn().status();
  ASSERT_TRUE(before.srtt);
  advance(100ms);
  ack(seg(6), {{1, 2}}, tsval[5]);
  EXPECT_EQ(counters.tcp_eifel_spurious, 1u);
  EXPECT_EQ(counters.tcp_rtt_samples_discarded, 1u);
  ASSERT_TRUE(conn().status().srtt);
  EXPECT_EQ(*conn().status().srtt, *before.srtt);
  EXPECT_EQ(conn().status().rttvar, before.rttvar);
}

// --- a peer that lies -----------------------------------------------------------------------

// D-SACKs at random, repeated, for every range: one undo per episode, cwnd never above the
// saved one, ssthresh never above the saved one; the rest is counted and ignored.
TEST_F(Spurious, Lying_peer_random_DSACKs_undo_at_most_once_and_never_above_what_was_saved) {
  std::uint32_t before = fast_retransmit_of_1(false);
  ack(seg(6));
  ack(seg(6), {{1, 2}});
  ASSERT_EQ(counters.tcp_undos, 1u);
  for (int i = 0; i < 50; ++i) {
    int a = i % 5;
    ack(seg(6), {{a, std::min(a + 1 + i % 3, 6)}});
    ack(seg(6), {{0, 6}});
  }
  EXPECT_EQ(counters.tcp_undos, 1u);
  EXPECT_EQ(conn().status().cwnd, before);
  EXPECT_EQ(conn().status().undos, 1u);
  EXPECT_GE(counters.tcp_undo_evidence_ignored, 100u);
  EXPECT_EQ(sent(), std::vector<int>{});
}

// Echoes from the future tell nothing: not taken as Eifel evidence (and counted); F-RTO still
// decides.
TEST_F(Spurious, Lying_peer_echo_from_the_future_is_ignored) {
  start(true, true, 4, 10);
  timeout();
  ack(seg(1), {}, tsval[0] + 1'000'000);
  EXPECT_EQ(counters.tcp_eifel_spurious, 0u);
  EXPECT_EQ(counters.tcp_undo_evidence_ignored, 1u);
  EXPECT_EQ(sent(), (std::vector<int>{4, 5})) << "F-RTO step 2b as without timestamps";
}

// Old echoes on every ACK of every episode: each episode is undone at most once, and cwnd comes
// back to what it was before each reduction, never above; the transfer completes.
TEST_F(Spurious, Lying_peer_old_echoes_cannot_inflate_the_window) {
  start(true, true, 6, 40);
  const std::uint32_t first_echo = tsval[0];
  std::uint32_t max_cwnd = conn().status().cwnd;
  int next = 0;
  for (int round = 0; round < 40 && conn().status().snd_una < seg(46); ++round) {
    advance(20ms);
    std::vector<int> out = sent();
    int top = next;
    for (int s : out) top = std::max(top, s + 1);
    // Every other round one segment "lost" (SACKed around), always echoing the first TSval.
    if (round % 2 == 0 && top - next > 4) {
      ack(seg(next), {{next + 1, top}}, first_echo);
    }
    ack(seg(top), {}, first_echo);
    next = top;
    max_cwnd = std::max(max_cwnd, conn().status().cwnd);
    EXPECT_LE(counters.tcp_undos, counters.tcp_fast_retransmits + counters.tcp_rto_expirations);
  }
  sent();
  // Slow start's own growth is all there is: never more than twice the data acknowledged.
  EXPECT_LE(max_cwnd, 2 * 46 * mss);
}

// --- the congestion controls' own state ------------------------------------------------------

// RFC 9438 §4.9: after an undo CUBIC goes on as if the reduction never happened — W_max, K,
// W_est and the epoch restored with cwnd and ssthresh.
TEST(SpuriousCongestion, RFC9438_4_9_CUBIC_state_restored_by_undo) {
  const Instant t0 = instant_from_us(1'000'000);
  Cubic a(1000, 10), b(1000, 10);
  a.on_congestion_event(40000, t0);  // both in congestion avoidance from the same point
  b.on_congestion_event(40000, t0);
  Instant t = t0;
  for (int i = 0; i < 200; ++i, t += 5ms) {
    a.on_ack(1000, t, 50ms);
    b.on_ack(1000, t, 50ms);
  }
  const CongestionPrior p = b.prior();
  b.on_congestion_event(b.cwnd(), t);
  EXPECT_LT(b.cwnd(), a.cwnd());
  b.undo(p, p.cwnd, p.ssthresh);
  EXPECT_EQ(b.cwnd(), a.cwnd());
  EXPECT_EQ(b.ssthresh(), a.ssthresh());
  for (int i = 0; i < 400; ++i, t += 5ms) {
    a.on_ack(1000, t, 50ms);
    b.on_ack(1000, t, 50ms);
  }
  EXPECT_EQ(b.cwnd(), a.cwnd()) << "the same curve, the same epoch";
}

// Follows Linux (bbr_undo_cwnd): BBR leaves recovery with its cwnd restored, never above the one
// saved before the response.
TEST(SpuriousCongestion, BBR_undo_restores_cwnd_saved_before_the_timeout) {
  Bbr b(1000, 10);
  const CongestionPrior p = b.prior();
  b.on_rto(p.cwnd, instant_from_us(1'000'000));
  EXPECT_EQ(b.cwnd(), 1000u);
  b.undo(p, 10 * p.cwnd, p.ssthresh);
  EXPECT_EQ(b.cwnd(), p.cwnd);
}

}  // namespace
}  // namespace synack::tcp::test
