// SPDX-License-Identifier: MIT
// BBR's state machine (draft-ietf-ccwg-bbr-01, src/tcp/congestion/bbr.*) on a scripted path in
// virtual time: a connection sends through a bottleneck of a fixed rate and propagation delay
// (a FIFO that never drops), the peer ACKs every segment. The tests follow the model and the
// states ACK by ACK: Startup ends after three rounds without 25 % growth, Drain ends once
// inflight <= BDP, ProbeRTT comes after ProbeRTTInterval without a lower RTT and holds cwnd
// at its floor for 200 ms, and app-limited samples leave the bandwidth estimate alone.
#include <algorithm>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "harness.hpp"
#include "tcp/congestion/bbr.hpp"

namespace synack::tcp::test {
namespace {

using std::chrono::milliseconds;
using BbrState = Bbr::State;

constexpr std::uint32_t kMss = 536;             // the harness's peer sends no MSS option
constexpr double kBottleneck = 500'000;         // bytes per second
constexpr Duration kOneWay = milliseconds(20);  // RTT 40 ms: BDP = 20,000 bytes

class BbrPath : public Harness {
 protected:
  BbrPath() { config.congestion = CongestionAlgorithm::Bbr; }

  struct Ack {
    Instant at;
    SeqNum ack;
  };

  const Bbr& bbr() { return *conn().bbr(); }
  std::uint32_t in_flight() const { return static_cast<std::uint32_t>(highest_ - acked_); }

  void start() {
    establish_sack();
    acked_ = highest_ = L + 1;
  }
  // Keeps `bytes` queued for sending (a bulk sender never runs dry).
  void keep_queued(std::size_t bytes) {
    std::size_t queued = static_cast<std::size_t>(queued_end_ - highest_);
    if (queued_end_ < highest_) queued = 0;
    if (queued < bytes) {
      std::size_t n = bytes - queued;
      send(std::string(n, 'x'));
      queued_end_ = seq_max(queued_end_, highest_) + static_cast<std::uint32_t>(n);
    }
  }
  // Moves what the connection sent into the bottleneck: each segment leaves it
  // len / kBottleneck after the one before, and is ACKed one propagation delay later.
  void collect() {
    while (tx_pending() > 0) {
      SentSegment s = pop_tx();
      auto len = static_cast<std::uint32_t>(s.payload.size());
      if (len == 0) continue;
      Instant arrive = s.at + kOneWay;
      Instant start_service = std::max(arrive, link_free_);
      link_free_ = start_service + Duration(static_cast<std::int64_t>(len / kBottleneck * 1e6));
      SeqNum end = s.seq + len;
      highest_ = seq_max(highest_, end);
      acks_.push_back({link_free_ + kOneWay, end});
    }
  }
  // Runs the path until `until` (or `stop` says so after an ACK): ACKs and timers in time
  // order. `on_ack` runs after each ACK is processed.
  void run(
      Instant until, const std::function<bool()>& after_ack = [] { return false; },
      std::size_t queue = 64 * 1024) {
    for (int guard = 0; guard < 2'000'000; ++guard) {
      if (queue > 0) keep_queued(queue);
      collect();
      std::optional<Instant> timer = conn().next_deadline();
      std::optional<Instant> ack = acks_.empty() ? std::nullopt : std::optional(acks_.front().at);
      Instant next = until;
      if (timer && *timer < next) next = *timer;
      if (ack && *ack < next) next = *ack;
      if (next >= until && !(ack && *ack == until)) {
        now = std::max(now, until);
        return;
      }
      now = std::max(now, next);
      if (ack && *ack <= now) {
        Ack a = acks_.front();
        acks_.pop_front();
        acked_ = seq_max(acked_, a.ack);
        inject({.flags = ACK, .seq = R + 1, .ack = a.ack});
        collect();
        if (after_ack()) return;
      } else {
        run_timers_until(now);
      }
    }
    ADD_FAILURE() << "path did not reach its end";
  }

  std::deque<Ack> acks_;
  Instant link_free_{};
  SeqNum acked_{}, highest_{}, queued_end_{L + 1};
};

// draft-ietf-ccwg-bbr §5.3.1.2 (BBRCheckFullBWReached): Startup ends when max_bw has not grown
// by 25 % (BBRFullBwThresh) for three rounds (BBRFullBwCount) in a row; then Drain (§5.3.2).
TEST_F(BbrPath, BBR_5_3_1_2_startup_exits_after_3_rounds_without_25_percent_growth) {
  start();
  EXPECT_EQ(bbr().state(), BbrState::Startup);
  EXPECT_DOUBLE_EQ(bbr().pacing_gain(), Bbr::kStartupPacingGain);
  EXPECT_DOUBLE_EQ(bbr().cwnd_gain(), Bbr::kStartupCwndGain);
  // max_bw at the end of each round (index = round count).
  std::vector<double> max_bw_at_round{0};
  std::uint64_t exit_round = 0;
  run(now + std::chrono::seconds(3), [&] {
    while (max_bw_at_round.size() <= bbr().round_count()) max_bw_at_round.push_back(bbr().max_bw());
    max_bw_at_round[bbr().round_count()] = bbr().max_bw();
    if (bbr().state() != BbrState::Startup) {
      exit_round = bbr().round_count();
      return true;
    }
    return false;
  });
  ASSERT_GT(exit_round, 3u) << "Startup never ended";
  EXPECT_TRUE(bbr().filled_pipe());
  EXPECT_EQ(bbr().state(), BbrState::Drain);
  // The bandwidth found is the bottleneck's.
  EXPECT_NEAR(bbr().max_bw(), kBottleneck, kBottleneck * 0.1);
  // The rule, from the record: the last round whose max_bw was 25 % above the reference
  // before it (the reference restarts there) is exactly three rounds before the exit.
  double full_bw = 0;
  std::uint64_t last_growth = 0;
  for (std::uint64_t r = 1; r < exit_round; ++r) {
    if (max_bw_at_round[r] >= full_bw * 1.25) {
      full_bw = max_bw_at_round[r];
      last_growth = r;
    }
  }
  EXPECT_EQ(exit_round - last_growth, 3u) << "rounds without 25 % growth before Startup ended";
  // And during Startup the bandwidth kept growing by 25 % per round at first (it doubled).
  EXPECT_GE(last_growth, 3u);
}

// draft-ietf-ccwg-bbr §5.3.2 (BBRCheckDrainDone): Drain paces at 0.35 x bw until what is in
// flight is down to BBRInflight(1.0) — the BDP — then ProbeBW_DOWN starts.
TEST_F(BbrPath, BBR_5_3_2_drain_until_inflight_at_most_BDP) {
  start();
  run(now + std::chrono::seconds(3), [&] { return bbr().state() == BbrState::Drain; });
  ASSERT_EQ(bbr().state(), BbrState::Drain);
  EXPECT_DOUBLE_EQ(bbr().pacing_gain(), Bbr::kDrainPacingGain);
  EXPECT_GT(in_flight(), bbr().bdp()) << "Startup left a queue to drain";
  std::vector<std::uint32_t> in_drain;
  std::uint32_t at_exit = 0;
  run(now + std::chrono::seconds(3), [&] {
    if (bbr().state() == BbrState::Drain) {
      in_drain.push_back(in_flight());
      return false;
    }
    at_exit = in_flight();
    return true;
  });
  // BBRStartProbeBW_DOWN; the same ACK may find inflight low enough to cruise (§5.3.3.2).
  EXPECT_TRUE(bbr().state() == BbrState::ProbeBwDown || bbr().state() == BbrState::ProbeBwCruise)
      << to_string(bbr().state());
  EXPECT_LE(at_exit, bbr().bdp()) << "left Drain with inflight <= BDP";
  for (std::uint32_t f : in_drain) EXPECT_GT(f, bbr().bdp()) << "stayed in Drain at or below BDP";
  // The BDP is the path's: 500 kB/s x 40 ms.
  EXPECT_NEAR(static_cast<double>(bbr().bdp()), kBottleneck * 0.040, kBottleneck * 0.040 * 0.15);
}

// draft-ietf-ccwg-bbr §5.3.4.4: ProbeRTT starts when no RTT sample has been lower than
// probe_rtt_min_delay for ProbeRTTInterval (5 s in BBRv3; BBRv1 used the 10 s min_rtt filter),
// and holds cwnd at BBRProbeRTTCwnd = max(0.5 x BDP, BBRMinPipeCwnd = 4 segments) for
// ProbeRTTDuration (200 ms) and a round once inflight got there; then ProbeBW resumes.
TEST_F(BbrPath, BBR_5_3_4_probe_rtt_after_interval_holds_cwnd_at_floor_for_200ms) {
  start();
  std::optional<Instant> entered, left, floor_reached;
  std::uint32_t max_cwnd_at_floor = 0;
  std::uint32_t floor_cwnd = 0;
  run(now + std::chrono::seconds(8), [&] {
    bool in = bbr().state() == BbrState::ProbeRtt;
    if (in && !entered) entered = now;
    if (in) {
      floor_cwnd = std::max<std::uint32_t>(static_cast<std::uint32_t>(bbr().bdp() / 2), 4 * kMss);
      if (!floor_reached && in_flight() <= floor_cwnd) floor_reached = now;
      if (floor_reached) max_cwnd_at_floor = std::max(max_cwnd_at_floor, conn().status().cwnd);
    }
    if (!in && entered && !left) {
      left = now;
      return true;
    }
    return false;
  });
  ASSERT_TRUE(entered.has_value()) << "no ProbeRTT in 8 s";
  ASSERT_TRUE(left.has_value());
  // The path's RTT never fell below the first samples: ProbeRTT 5 s after them (+ a round).
  Duration since_start = *entered - kStart;
  EXPECT_GE(since_start, Bbr::kProbeRttInterval);
  EXPECT_LE(since_start, Bbr::kProbeRttInterval + milliseconds(500));
  ASSERT_TRUE(floor_reached.has_value());
  EXPECT_LE(max_cwnd_at_floor, floor_cwnd) << "cwnd held at BBRProbeRTTCwnd";
  EXPECT_LT(max_cwnd_at_floor, bbr().bdp()) << "below the BDP while probing the RTT";
  EXPECT_GE(*left - *floor_reached, Bbr::kProbeRttDuration) << "held at least 200 ms";
  EXPECT_LE(*left - *floor_reached, Bbr::kProbeRttDuration + milliseconds(100));
  EXPECT_NE(bbr().state(), BbrState::Startup) << "the pipe was full: back to ProbeBW";
}

// draft-ietf-ccwg-bbr §5.5.2 (BBRUpdateMaxBw): "if (rs.delivery_rate >= BBR.max_bw ||
// !rs.is_app_limited)" — samples taken while the application sent too little to fill the pipe
// (draft-cheng §3.4) do not lower BBR.max_bw, nor advance its window; a trickle of one segment
// per 100 ms for 10 s leaves the estimate where bulk transfer put it.
// Known weakness: mutating BBRUpdateMaxBw to take every sample and advance the filter on
// app-limited rounds does not fail this test (the trickle does not get the filter through two
// ProbeBW cycles); it fails only if the estimate itself drops. The app-limited marking is checked
// by DeliveryRate.DraftCheng_3_4_* in bbr_rate_test.cpp.
TEST_F(BbrPath, BBR_5_5_2_app_limited_samples_do_not_lower_the_bandwidth_estimate) {
  start();
  run(now + std::chrono::seconds(2));  // bulk: Startup, Drain, ProbeBW
  ASSERT_TRUE(bbr().filled_pipe());
  const double bulk_bw = bbr().max_bw();
  ASSERT_NEAR(bulk_bw, kBottleneck, kBottleneck * 0.15);
  // Drain what is queued; from now on one segment every 100 ms.
  run(
      now + std::chrono::seconds(1), [] { return false; }, 0);
  int app_limited_samples = 0;
  for (int i = 0; i < 100; ++i) {
    send(std::string(kMss, 'y'));
    queued_end_ = queued_end_ + kMss;
    run(
        now + milliseconds(100),
        [&] {
          if (conn().rate_state()->delivery.app_limited() != 0) ++app_limited_samples;
          return false;
        },
        0);
  }
  EXPECT_GT(app_limited_samples, 50) << "the trickle was app-limited";
  EXPECT_GE(bbr().max_bw(), bulk_bw * 0.99) << "max_bw kept; trickle rate is ~5 kB/s";
}

// A BBR model fed rate samples by hand: a steady 1 MB/s with a 10 ms RTT, and the same sample
// without a rate (draft-cheng §3.3: its interval under min_RTT — the ACK of an earlier copy of
// a segment sent again — with that segment counted lost).
class BbrSamples : public ::testing::Test {
 protected:
  void feed(const RateSample& rs, Duration after) {
    ack_.now += after;
    bbr_.on_rate_sample(rs, ack_, rate_);
  }
  static RateSample steady() {
    return RateSample{.valid = true,
                      .delivery_rate = 1'000'000,
                      .delivered = 10'000,
                      .interval = milliseconds(10),
                      .rtt = milliseconds(10),
                      .newly_acked = 1000,
                      .has_packet = true};
  }
  static RateSample without_rate() {
    RateSample rs = steady();
    rs.valid = false;
    rs.delivery_rate = 0;
    rs.newly_lost = 1000;
    return rs;
  }
  Bbr bbr_{1000, 10};
  DeliveryRate rate_;
  BbrAck ack_{.now = instant_from_us(1'000'000), .inflight = 5000, .srtt = milliseconds(10)};
};

// Follows Linux (tcp_bbr.c bbr_update_bw; BBRv3 bbr_update_round_start): a sample without a
// rate ends no round. Soak seed 189931: a spurious NewReno recovery ended a (loss) round on
// every partial ACK and BBRLossLowerBounds took the pacing rate from 863 kB/s to 1.4 kB/s in
// 20 ms.
TEST_F(BbrSamples, BBR_5_5_1_a_sample_without_a_rate_ends_no_round) {
  feed(steady(), Duration{0});
  const auto rounds = bbr_.round_count();
  EXPECT_EQ(rounds, 1u);
  for (int i = 0; i < 10; ++i) feed(without_rate(), milliseconds(1));
  EXPECT_EQ(bbr_.round_count(), rounds) << "samples without a rate ended rounds";
  feed(steady(), milliseconds(1));
  EXPECT_EQ(bbr_.round_count(), rounds + 1);
}

// The same for the lower bounds (BBRv3's bbr_update_latest_delivery_signals: "Not a valid
// observation"): outside a bandwidth probe, a loss round made of samples without a rate would
// cut bw_lo by BBRBeta each time, down towards nothing.
TEST_F(BbrSamples, BBR_5_5_10_samples_without_a_rate_cut_no_lower_bound) {
  // Rounds at a steady 1 MB/s: Startup ends (no growth), Drain ends (5,000 octets in flight
  // against a 10,000-octet BDP): ProbeBW, not probing.
  for (int i = 0; i < 20 && (bbr_.state() == BbrState::Startup || bbr_.state() == BbrState::Drain);
       ++i)
    feed(steady(), milliseconds(10));
  ASSERT_TRUE(bbr_.state() == BbrState::ProbeBwDown || bbr_.state() == BbrState::ProbeBwCruise)
      << to_string(bbr_.state());
  const double bw = bbr_.bw();
  ASSERT_GT(bw, 0.9e6);
  double lowest = bw;
  for (int i = 0; i < 10; ++i) {
    feed(without_rate(), milliseconds(1));
    lowest = std::min(lowest, bbr_.bw());  // (a probe's REFILL resets the bounds)
  }
  EXPECT_GE(lowest, bw) << "bw_lo was cut by samples without a rate";
}

}  // namespace
}  // namespace synack::tcp::test
