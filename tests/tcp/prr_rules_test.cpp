// SPDX-License-Identifier: MIT
// Proportional Rate Reduction (RFC 6937) as the sending rate of SACK fast recovery, scripted
// in virtual time: the proportional part spreads the reduction to ssthresh over the recovery
// (about one segment per two ACKs when ssthresh = FlightSize / 2), the reduction bound
// (PRR-SSRB) slow-starts back to ssthresh after heavy loss without a burst, and recovery ends
// with cwnd = ssthresh, with NewReno's and CUBIC's ssthresh alike.
#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "harness.hpp"

namespace synack::tcp::test {
namespace prr_rules_test {

constexpr std::uint32_t kMss = 536;  // the harness's peer sends no MSS option

std::string text(std::size_t n) { return std::string(n, 'x'); }

class Prr : public Harness {
 protected:
  // RFC 6675's DupThresh rules, tested with TcpConfig::loss_detection = DupThresh (RACK, the
  // default, is tested in rack_rules_test.cpp).
  Prr() { config.loss_detection = LossDetection::DupThresh; }
  static SeqNum seg(int i) { return L + 1 + kMss * i; }
  // The peer's ACK of `a`, SACKing the segment range [from, to).
  void ack(SeqNum a, int from = 0, int to = 0) {
    wire::TcpOptions o;
    if (to > from) o.sack[o.sack_count++] = {seg(from).raw(), seg(to).raw()};
    inject({.flags = ACK, .seq = R + 1, .ack = a, .options = o});
  }
  // Segment indexes sent since the last call (new data and retransmissions alike).
  std::vector<int> sent() {
    std::vector<int> v;
    while (tx_pending() > 0) v.push_back(static_cast<int>((pop_tx().seq - seg(0)) / kMss));
    return v;
  }
  // 20 segments in flight (IW 20) and 60 more queued, so that recovery has new data to send.
  void twenty_in_flight(CongestionAlgorithm cc) {
    config.initial_window_segments = 20;
    config.congestion = cc;
    establish_sack();
    send(text(80 * kMss));
    ASSERT_EQ(sent().size(), 20u);
  }
};

// RFC 6937 §3, proportional part (pipe > ssthresh): sndcnt = CEIL(prr_delivered * ssthresh /
// RecoverFS) - prr_out. One segment of 20 lost, NewReno's ssthresh = FlightSize / 2: each ACK
// that SACKs one segment allows half a segment, so recovery sends one segment per two ACKs
// (RFC 6675 alone would send nothing until pipe fell below ssthresh, then one per ACK) and
// leaves with cwnd = ssthresh.
TEST_F(Prr, RFC6937_3_one_loss_sends_one_segment_per_two_ACKs_and_exits_at_ssthresh) {
  twenty_in_flight(CongestionAlgorithm::NewReno);
  // Segment 0 lost. SACKs of 1 and 2: limited transmit (RFC 3042) sends 20 and 21.
  ack(seg(0), 1, 2);
  ack(seg(0), 1, 3);
  EXPECT_EQ(sent(), (std::vector<int>{20, 21}));
  // The third SACKed segment shows 0 lost (RFC 6675 IsLost): fast retransmit.
  ack(seg(0), 1, 4);
  EXPECT_EQ(sent(), (std::vector<int>{0}));
  const std::uint32_t ssthresh = conn().status().ssthresh;
  EXPECT_EQ(ssthresh, 11 * kMss) << "RFC 5681 eq. 4: FlightSize (22 segments) / 2";
  // Segments 4..21 arrive one by one (18 ACKs, each delivering one segment); the new data
  // PRR sends is not SACKed in this script.
  std::vector<std::size_t> per_ack;
  for (int top = 5; top <= 22; ++top) {
    ack(seg(0), 1, top);
    per_ack.push_back(sent().size());
  }
  EXPECT_LE(*std::max_element(per_ack.begin(), per_ack.end()), 1u) << "never a burst";
  // While pipe > ssthresh (the first 12 ACKs here), every four ACKs send one or two segments
  // — half a segment per ACK — from the start of recovery.
  for (std::size_t i = 0; i + 4 <= 12; ++i) {
    std::size_t four = per_ack[i] + per_ack[i + 1] + per_ack[i + 2] + per_ack[i + 3];
    EXPECT_TRUE(four == 1 || four == 2) << "ACKs " << i << ".." << i + 3 << ": " << four;
  }
  // Then pipe has fallen to ssthresh and each ACK sends what it delivered (the reduction
  // bound), so that pipe stays at ssthresh.
  for (std::size_t i = 14; i < per_ack.size(); ++i) EXPECT_EQ(per_ack[i], 1u) << "ACK " << i;
  // prr_delivered = 21 segments (1..21), ssthresh / RecoverFS = 1/2: at most CEIL(10.5) = 11
  // segments sent in recovery, the fast retransmit and 10 new ones.
  EXPECT_EQ(std::accumulate(per_ack.begin(), per_ack.end(), std::size_t{0}), 10u);
  // The retransmission arrives: everything up to recover (SND.MAX at entry, 22) is ACKed.
  ack(seg(22));
  EXPECT_EQ(conn().status().cwnd, ssthresh) << "RFC 6937 §3: recovery ends at ssthresh";
  sent();
}

// The same with CUBIC: PRR reduces towards CUBIC's ssthresh (RFC 9438 §4.6, 0.7 FlightSize —
// here the larger of it and cwnd, Connection::reduction_basis()),
// not NewReno's half, and leaves with cwnd = that ssthresh.
TEST_F(Prr, RFC6937_3_with_CUBIC_reduces_to_its_ssthresh) {
  twenty_in_flight(CongestionAlgorithm::Cubic);
  ack(seg(0), 1, 2);
  ack(seg(0), 1, 3);
  EXPECT_EQ(sent(), (std::vector<int>{20, 21}));
  ack(seg(0), 1, 4);
  EXPECT_EQ(sent(), (std::vector<int>{0}));
  const std::uint32_t ssthresh = conn().status().ssthresh;
  EXPECT_EQ(ssthresh, 22 * kMss * 7 / 10);
  std::size_t total = 1;  // the fast retransmit
  for (int top = 5; top <= 22; ++top) {
    ack(seg(0), 1, top);
    std::size_t n = sent().size();
    EXPECT_LE(n, 1u) << "ACK of segment " << top - 1;
    total += n;
    // 0.7 segment per ACK from the start (RFC 6675 alone would wait for pipe < ssthresh).
    if (top == 7) {
      EXPECT_GE(total, 2u) << "proportional sending from the first ACKs";
    }
  }
  // CEIL(21 * 0.7 * 22 / 22) segments of data: 15 (the bytes round 10.78 KB up).
  const std::uint64_t allowed = (21ull * kMss * ssthresh + 22 * kMss - 1) / (22 * kMss);
  EXPECT_EQ(total, (allowed + kMss - 1) / kMss);
  ack(seg(22));
  EXPECT_EQ(conn().status().cwnd, ssthresh);
  sent();
}

// RFC 6937 §3 reduction bound, PRR-SSRB (pipe <= ssthresh): limit = MAX(prr_delivered -
// prr_out, DeliveredData) + MSS. Fifteen of 20 segments lost: pipe falls far below ssthresh at
// once. RFC 6675 alone would fill cwnd - pipe in one burst; PRR-SSRB sends at most one segment
// more than each ACK delivered — slow start within recovery — until pipe reaches ssthresh.
TEST_F(Prr, RFC6937_3_heavy_loss_slow_starts_to_ssthresh_without_a_burst) {
  twenty_in_flight(CongestionAlgorithm::NewReno);
  // 0..14 lost; 15, 16, 17 arrive (limited transmit sends 20 and 21 on the first two).
  ack(seg(0), 15, 16);
  ack(seg(0), 15, 17);
  EXPECT_EQ(sent(), (std::vector<int>{20, 21}));
  ack(seg(0), 15, 18);
  const std::uint32_t ssthresh = conn().status().ssthresh;
  EXPECT_EQ(ssthresh, 11 * kMss);
  // Entry: 0..14 judged lost, pipe = 18..21 and the fast retransmit = 5 segments, 6 below
  // ssthresh. The fast retransmit, then at most MAX(prr_delivered - prr_out, DeliveredData)
  // + MSS = 2 segments more, not the 6 of RFC 6675's cwnd - pipe.
  std::vector<int> first = sent();
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first[0], 0);
  EXPECT_LE(first.size(), 3u) << "fast retransmit + at most DeliveredData + 1 MSS";
  std::size_t in_recovery = first.size();
  for (int top = 19; top <= 22; ++top) {
    ack(seg(0), 15, top);  // one more segment delivered per ACK
    std::size_t n = sent().size();
    EXPECT_LE(n, 2u) << "ACK of segment " << top - 1 << ": DeliveredData + 1 MSS at most";
    in_recovery += n;
    EXPECT_LE(conn().status().cwnd, ssthresh + kMss) << "ACK of segment " << top - 1;
  }
  // Slow start within recovery: 1 + 2 on entry, then 2 per ACK (pipe still below ssthresh).
  EXPECT_EQ(in_recovery, 11u);
  sent();
}

}  // namespace prr_rules_test
}  // namespace synack::tcp::test
