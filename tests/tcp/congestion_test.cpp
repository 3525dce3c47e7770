// SPDX-License-Identifier: MIT
// Congestion control against the formulas of its RFCs, driven ACK by ACK in virtual time:
// RFC 5681 (NewReno's slow start, congestion avoidance, loss and RTO responses) and RFC 9438
// (CUBIC's window function W_cubic(t), including its value after many RTTs of growth).
#include <gtest/gtest.h>

#include <cmath>

#include "tcp/congestion/cubic.hpp"
#include "tcp/congestion/new_reno.hpp"

namespace synack::tcp::test {
namespace {

constexpr Instant kT0 = instant_from_us(1'000'000);

// Acknowledges one window's worth of data, one segment per ACK, spread over `rtt`; returns
// the time after the window.
Instant ack_one_window(CongestionControl& cc, std::uint32_t mss, Instant now, Duration rtt) {
  std::uint32_t segments = cc.cwnd() / mss;
  for (std::uint32_t i = 0; i < segments; ++i) cc.on_ack(mss, now + rtt * i / segments, rtt);
  return now + rtt;
}

// RFC 5681 §3.1: slow start grows cwnd by the bytes acknowledged (RFC 3465: at most 2 SMSS
// per ACK); congestion avoidance by one SMSS per window acknowledged (eq. 3).
TEST(NewReno, RFC5681_slow_start_doubles_and_congestion_avoidance_adds_one_SMSS_per_RTT) {
  const std::uint32_t mss = 1000;
  NewReno cc(mss, 10);
  EXPECT_EQ(cc.cwnd(), 10 * mss);  // RFC 6928 IW
  Instant now = ack_one_window(cc, mss, kT0, 100ms);
  EXPECT_EQ(cc.cwnd(), 20 * mss);
  now = ack_one_window(cc, mss, now, 100ms);
  EXPECT_EQ(cc.cwnd(), 40 * mss);
  // RFC 5681 §3.2 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS); cwnd = ssthresh.
  cc.on_congestion_event(40 * mss, now);
  EXPECT_EQ(cc.ssthresh(), 20 * mss);
  EXPECT_EQ(cc.cwnd(), 20 * mss);
  for (std::uint32_t rtt = 1; rtt <= 50; ++rtt) {
    now = ack_one_window(cc, mss, now, 100ms);
    EXPECT_EQ(cc.cwnd(), (20 + rtt) * mss) << "after " << rtt << " RTTs";
  }
  // RFC 5681 §3.1 eq. 4 and LW: after an RTO, ssthresh from FlightSize and cwnd = 1 SMSS.
  cc.on_rto(30 * mss, now);
  EXPECT_EQ(cc.ssthresh(), 15 * mss);
  EXPECT_EQ(cc.cwnd(), mss);
  cc.on_rto(mss, now);
  EXPECT_EQ(cc.ssthresh(), 2 * mss) << "at least 2 SMSS";
}

// RFC 9438 §4.2 eq. 1: W_cubic(t) = C (t - K)^3 + W_max with K = cbrt(W_max (1 - beta) / C),
// §4.6 beta = 0.7, §5.1 C = 0.4. After a loss at W_max segments, the window follows W_cubic
// RTT by RTT — concave up to W_max at t = K, convex beyond — whatever the segment size. Many
// RTTs at a large window make each ACK's share of the growth a fraction of a byte: it must
// be accumulated, not truncated away.
// Stretch ACKs (a receiver that coalesces, as Linux's GRO or batch_output): one ACK for 10
// segments. RFC 3465 §2.2 with L = 2 grows the window by 2 SMSS for it; Linux's
// tcp_slow_start (TcpConfig::slow_start_ack_limit 0, the default) by all 10.
TEST(NewReno, RFC3465_2_2_slow_start_limit_L_bounds_a_stretch_ACKs_growth) {
  const std::uint32_t mss = 1000;
  NewReno limited(mss, 10);
  limited.set_slow_start_limit(2);
  limited.on_ack(10 * mss, kT0, 10ms);
  EXPECT_EQ(limited.cwnd(), 12 * mss);
  NewReno linux_like(mss, 10);
  linux_like.set_slow_start_limit(0);
  linux_like.on_ack(10 * mss, kT0, 10ms);
  EXPECT_EQ(linux_like.cwnd(), 20 * mss);
  EXPECT_EQ(TcpConfig{}.slow_start_ack_limit, 0u) << "the default follows Linux";
}

// Follows Linux (tcp_slow_start): the growth stops at ssthresh and what the ACK acknowledged
// past it counts for congestion avoidance (RFC 5681 §3.1: slow start while cwnd < ssthresh).
TEST(NewReno, slow_start_without_a_limit_stops_at_ssthresh_and_passes_the_rest_on) {
  const std::uint32_t mss = 1000;
  NewReno cc(mss, 10);
  cc.set_slow_start_limit(0);
  cc.on_ack(30 * mss, kT0, 10ms);  // 40 segments, no ssthresh yet: all of it
  EXPECT_EQ(cc.cwnd(), 40 * mss);
  cc.on_congestion_event(40 * mss, kT0);  // ssthresh = cwnd = 20 segments
  cc.on_rto(20 * mss, kT0);               // ssthresh 10, cwnd 1
  ASSERT_EQ(cc.ssthresh(), 10 * mss);
  ASSERT_EQ(cc.cwnd(), 1 * mss);
  // 40 segments acknowledged at once: 9 of them take cwnd to ssthresh, the other 31 are
  // congestion avoidance's (eq. 3 with byte counting: one SMSS per ACK that completes a
  // cwnd's worth; 21 segments' worth stay counted).
  cc.on_ack(40 * mss, kT0 + 10ms, 10ms);
  EXPECT_EQ(cc.cwnd(), 11 * mss);
  cc.on_ack(1 * mss, kT0 + 20ms, 10ms);
  EXPECT_EQ(cc.cwnd(), 12 * mss) << "the 31 carried over: 22 counted >= 11";
  NewReno without_carry(mss, 10);
  without_carry.set_slow_start_limit(0);
  without_carry.on_congestion_event(20 * mss, kT0);  // ssthresh = cwnd = 10 segments
  without_carry.on_ack(1 * mss, kT0 + 10ms, 10ms);
  EXPECT_EQ(without_carry.cwnd(), 10 * mss) << "one segment of ten: no growth yet";
}

TEST(Cubic, RFC9438_window_follows_W_cubic_over_many_RTTs_at_a_large_window) {
  const std::uint32_t mss = 100;
  const Duration rtt = 100ms;
  Cubic cc(mss, 10);
  Instant now = kT0;
  while (cc.cwnd() < 4000 * mss) now = ack_one_window(cc, mss, now, rtt);  // slow start
  const double w_max = static_cast<double>(cc.cwnd()) / mss;
  cc.on_congestion_event(cc.cwnd(), now);
  EXPECT_NEAR(static_cast<double>(cc.cwnd()) / mss, 0.7 * w_max, 1.0);  // §4.6
  const double k = std::cbrt(w_max * (1 - 0.7) / 0.4);
  auto w_cubic = [&](double t) { return 0.4 * std::pow(t - k, 3) + w_max; };
  const Instant epoch = now;
  const double rtt_s = std::chrono::duration<double>(rtt).count();
  for (int round = 1; round <= static_cast<int>(1.5 * k / rtt_s); ++round) {
    now = ack_one_window(cc, mss, now, rtt);
    double t = std::chrono::duration<double>(now - epoch).count();
    double cwnd = static_cast<double>(cc.cwnd()) / mss;
    // §4.4: each RTT the window aims at W_cubic one RTT ahead; it lies between the curve
    // now and the curve an RTT later (a segment's slack for rounding).
    ASSERT_GE(cwnd, w_cubic(t - rtt_s) - 1.0) << "round " << round << ", t = " << t << " s";
    ASSERT_LE(cwnd, w_cubic(t + rtt_s) + 1.0) << "round " << round << ", t = " << t << " s";
  }
  EXPECT_GT(static_cast<double>(cc.cwnd()) / mss, w_max) << "convex region reached";
}

// RFC 9438 §4.7 fast convergence: a loss below the previous W_max lowers W_max further to
// W (1 + beta) / 2; §4.6 ssthresh = FlightSize * beta (at least 2 segments).
TEST(Cubic, RFC9438_multiplicative_decrease_and_fast_convergence) {
  const std::uint32_t mss = 1000;
  Cubic cc(mss, 10);
  Instant now = kT0;
  while (cc.cwnd() < 100 * mss) now = ack_one_window(cc, mss, now, 100ms);
  std::uint32_t flight = cc.cwnd();
  cc.on_congestion_event(flight, now);
  EXPECT_EQ(cc.ssthresh(), static_cast<std::uint32_t>(flight * 0.7));
  EXPECT_EQ(cc.cwnd(), cc.ssthresh());
  cc.on_rto(2 * mss, now);
  EXPECT_EQ(cc.ssthresh(), 2 * mss);
  EXPECT_EQ(cc.cwnd(), mss);
}

}  // namespace
}  // namespace synack::tcp::test
