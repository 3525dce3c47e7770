// SPDX-License-Identifier: MIT
// BBRv3, draft-ietf-ccwg-bbr-01 (see bbr.hpp). Pseudocode names are the draft's (BBR.max_bw,
// BBRCheckStartupDone, ...); bytes instead of packets, bytes/s for rates.
#include "tcp/congestion/bbr.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace synack::tcp {

namespace {
constexpr std::uint64_t kInfinite = std::numeric_limits<std::uint64_t>::max();
constexpr double kInfiniteBw = std::numeric_limits<double>::infinity();
}  // namespace

// The draft §5.5.9 / §5.3.3.5 ack phases of a bandwidth probe.
enum class AckPhase : std::uint8_t { Init, ProbeStopping, ProbeStarting, ProbeFeedback, Refilling };

struct Bbr::Model {
  Bbr* b = nullptr;  // set at each entry (the Bbr may have moved)
  std::uint64_t initial_cwnd = 0;

  State state = State::Startup;
  double pacing_gain = kStartupPacingGain;
  double cwnd_gain = kStartupCwndGain;
  double pacing_rate = 0;  // bytes/s
  bool has_seen_rtt = false;
  std::uint64_t send_quantum = 0;

  // §5.5.1 rounds.
  std::uint64_t delivered = 0;  // C.delivered at this ACK
  std::uint64_t next_round_delivered = 0;
  std::uint64_t round_count = 0;
  bool round_start = false;

  // §5.5.2 BBR.max_bw: a windowed max over MaxBwFilterLen = 2 ProbeBW cycles.
  double max_bw_slots[2] = {0, 0};
  std::uint64_t cycle_count = 0;
  double max_bw = 0;
  double bw = 0;
  double bw_lo = kInfiniteBw;
  double bw_latest = 0;
  std::uint64_t inflight_latest = 0;
  std::uint64_t inflight_hi = kInfinite;
  std::uint64_t inflight_lo = kInfinite;
  std::uint64_t loss_round_delivered = 0;
  bool loss_round_start = false;
  bool loss_in_round = false;
  int loss_events_in_round = 0;

  // §5.3.1.2 full pipe.
  double full_bw = 0;
  int full_bw_count = 0;
  bool full_bw_now = false;
  bool filled_pipe = false;

  // §5.3.3 ProbeBW.
  AckPhase ack_phase = AckPhase::Init;
  Instant cycle_stamp{};
  Duration bw_probe_wait{0};
  std::uint64_t rounds_since_bw_probe = 0;
  int bw_probe_samples = 0;
  std::uint32_t bw_probe_up_rounds = 0;
  std::uint64_t bw_probe_up_acks = 0;
  std::uint64_t probe_up_cnt = kInfinite;
  std::uint32_t rng = 0x9e3779b9u;  // deterministic: the core is sans-I/O (no RNG)

  // §5.5.4 / §5.3.4 min_rtt and ProbeRTT.
  std::optional<Duration> min_rtt;
  Instant min_rtt_stamp{};
  std::optional<Duration> probe_rtt_min_delay;
  Instant probe_rtt_min_stamp{};
  bool probe_rtt_expired = false;
  std::optional<Instant> probe_rtt_done_stamp;
  bool probe_rtt_round_done = false;
  bool idle_restart = false;

  // §5.6.4.4 loss recovery.
  std::uint64_t prior_cwnd = 0;
  bool packet_conservation = false;
  bool in_recovery = false;
  bool recovery_pending = false;
  std::uint64_t recovery_round_end = 0;

  const RateSample* rs = nullptr;
  const BbrAck* ack = nullptr;

  std::uint32_t mss() const { return b->mss_; }
  std::uint64_t cwnd() const { return b->cwnd_; }
  void set_cwnd(std::uint64_t c) {
    b->cwnd_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(c, 0x7fffffffu));
  }
  std::uint64_t min_pipe_cwnd() const { return 4ull * mss(); }  // §5.6.4.3 BBRMinPipeCwnd

  double random01() {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return (rng & 0xffffff) / static_cast<double>(0x1000000);
  }

  bool in_probe_bw() const {
    return state == State::ProbeBwDown || state == State::ProbeBwCruise ||
           state == State::ProbeBwRefill || state == State::ProbeBwUp;
  }

  // --- §5.6.4.2 BDP and inflight ---
  std::uint64_t bdp_multiple(double gain) const {
    // "if (BBR.min_rtt == Inf) return InitialCwnd /* no valid RTT samples yet */"
    if (!min_rtt) return initial_cwnd;
    double bdp = bw * std::chrono::duration<double>(*min_rtt).count();
    return static_cast<std::uint64_t>(gain * bdp);
  }
  // §5.6.4.2 BBRQuantizationBudget: room for the offload budget, the minimum pipe, and two
  // segments more while probing up.
  std::uint64_t quantization_budget(std::uint64_t inflight) const {
    inflight = std::max(inflight, 3 * send_quantum);  // BBRUpdateOffloadBudget
    inflight = std::max(inflight, min_pipe_cwnd());
    if (state == State::ProbeBwUp) inflight += 2ull * mss();
    return inflight;
  }
  std::uint64_t inflight_at(double gain) const { return quantization_budget(bdp_multiple(gain)); }
  std::uint64_t target_inflight() const { return std::min(bdp_multiple(1.0), cwnd()); }
  // §5.3.3.6 BBRInflightWithHeadroom: leave 15 % of inflight_hi free for other flows.
  std::uint64_t inflight_with_headroom() const {
    if (inflight_hi == kInfinite) return kInfinite;
    auto headroom =
        std::max<std::uint64_t>(mss(), static_cast<std::uint64_t>(kHeadroom * inflight_hi));
    return std::max(inflight_hi > headroom ? inflight_hi - headroom : 0, min_pipe_cwnd());
  }

  // --- §5.5.1 rounds ---
  void start_round() { next_round_delivered = delivered; }
  // Follows Linux (tcp_bbr.c bbr_update_bw; BBRv3's bbr_update_round_start): only a valid
  // rate sample ends a round. An invalid one (draft-cheng-iccrg-delivery-rate-estimation §3.3:
  // an interval under min_RTT) is the ACK of an earlier copy of a packet sent again, whose
  // snapshot is from its retransmission: taken as a round, every partial ACK of a spurious
  // NewReno recovery ended one (soak seed 189931, below).
  void update_round() {
    round_start = false;
    if (rs->has_packet && rs->valid && rs->prior_delivered >= next_round_delivered) {
      start_round();
      ++round_count;
      ++rounds_since_bw_probe;
      round_start = true;
    }
  }

  // --- §5.5.2 BBR.max_bw ---
  void update_max_bw() {
    update_round();
    // "if (rs.delivery_rate >= BBR.max_bw || !rs.is_app_limited)": an app-limited sample
    // never lowers the estimate; it only counts when it exceeds it.
    if (!rs->valid) return;
    double rate = static_cast<double>(rs->delivery_rate);
    if (rate >= max_bw || !rs->is_app_limited) {
      max_bw_slots[0] = std::max(max_bw_slots[0], rate);
      max_bw = std::max(max_bw_slots[0], max_bw_slots[1]);
    }
  }
  // §5.5.2 BBRAdvanceMaxBwFilter: one slot per ProbeBW cycle.
  void advance_max_bw_filter() {
    ++cycle_count;
    max_bw_slots[1] = max_bw_slots[0];
    max_bw_slots[0] = 0;
    max_bw = std::max(max_bw_slots[0], max_bw_slots[1]);
  }

  // --- §5.5.10 latest delivery signals and the lower bounds ---
  // Follows Linux (BBRv3's bbr_update_latest_delivery_signals): "Not a valid observation"
  // without a valid rate sample. Soak seed 189931 (reordering on a lossless path, no SACK, no
  // timestamps): a spurious fast retransmit, then NewReno's retransmission on each partial ACK;
  // each ACK of such a segment's first copy made a loss round with no delivery rate, and
  // BBRLossLowerBounds cut bw_lo by BBRBeta each time — 863 kB/s to 1.4 kB/s in 20 ms, the
  // next transmission paced 106 s away.
  void update_latest_delivery_signals() {
    loss_round_start = false;
    if (!rs->valid) return;
    bw_latest = std::max(bw_latest, static_cast<double>(rs->delivery_rate));
    inflight_latest = std::max(inflight_latest, rs->delivered);
    if (rs->has_packet && rs->prior_delivered >= loss_round_delivered) {
      loss_round_delivered = delivered;
      loss_round_start = true;
    }
  }
  void advance_latest_delivery_signals() {
    if (loss_round_start) {
      bw_latest = static_cast<double>(rs->delivery_rate);
      inflight_latest = rs->delivered;
    }
  }
  void reset_congestion_signals() {
    loss_in_round = false;
    loss_events_in_round = 0;
    bw_latest = 0;
    inflight_latest = 0;
  }
  void reset_lower_bounds() {
    bw_lo = kInfiniteBw;
    inflight_lo = kInfinite;
  }
  bool is_probing_bw() const {
    return state == State::Startup || state == State::ProbeBwRefill || state == State::ProbeBwUp;
  }
  void update_congestion_signals() {
    update_max_bw();
    if (rs->newly_lost > 0) {
      loss_in_round = true;
      ++loss_events_in_round;
    }
    if (!loss_round_start) return;
    adapt_lower_bounds_from_congestion();
    loss_in_round = false;
    loss_events_in_round = 0;
  }
  // §5.5.10.3 BBRAdaptLowerBoundsFromCongestion: a round with loss, outside bandwidth probes,
  // lowers bw_lo and inflight_lo to what the round delivered, at most by BBRBeta at a time.
  void adapt_lower_bounds_from_congestion() {
    if (is_probing_bw()) return;
    if (!loss_in_round) return;
    if (bw_lo == kInfiniteBw) bw_lo = max_bw;  // BBRInitLowerBounds
    if (inflight_lo == kInfinite) inflight_lo = cwnd();
    bw_lo = std::max(bw_latest, kBeta * bw_lo);  // BBRLossLowerBounds
    inflight_lo = std::max(inflight_latest, static_cast<std::uint64_t>(kBeta * inflight_lo));
  }
  // §5.5.7 BBRBoundBWForModel: BBR.bw = min(BBR.max_bw, BBR.bw_lo).
  void bound_bw_for_model() { bw = std::min(max_bw, bw_lo); }

  // --- §5.3.3.6 loss: inflight_hi ---
  // BBRIsInflightTooHigh: "rs.lost > rs.tx_in_flight * BBRLossThresh" (2 %).
  bool is_inflight_too_high() const {
    return rs->lost > 0 &&
           static_cast<double>(rs->lost) > static_cast<double>(rs->tx_in_flight) * kLossThresh;
  }
  void handle_inflight_too_high() {
    bw_probe_samples = 0;
    if (!rs->is_app_limited)
      inflight_hi = std::max<std::uint64_t>(
          rs->tx_in_flight,
          static_cast<std::uint64_t>(static_cast<double>(target_inflight()) * kBeta));
    if (state == State::ProbeBwUp) start_probe_bw_down();
  }
  bool check_inflight_too_high() {
    if (is_inflight_too_high()) {
      if (bw_probe_samples) handle_inflight_too_high();
      return true;
    }
    return false;
  }

  // --- §5.3.1 Startup, §5.3.2 Drain ---
  void enter_startup() {
    state = State::Startup;
    pacing_gain = kStartupPacingGain;
    cwnd_gain = kStartupCwndGain;
  }
  void reset_full_bw() {
    full_bw = 0;
    full_bw_count = 0;
    full_bw_now = false;
  }
  // §5.3.1.2 BBRCheckFullBWReached: three rounds without 25 % growth of max_bw.
  void check_full_bw_reached() {
    if (full_bw_now || !round_start || rs->is_app_limited) return;
    if (max_bw >= full_bw * kFullBwThresh) {
      reset_full_bw();
      full_bw = max_bw;
      return;
    }
    ++full_bw_count;
    full_bw_now = full_bw_count >= kFullBwCount;
    if (full_bw_now) filled_pipe = true;
  }
  // §5.3.1.3 BBRCheckStartupHighLoss: a round of recovery with loss above BBRLossThresh and at
  // least BBRStartupFullLossCnt loss events ends Startup; inflight_hi from what was in flight.
  void check_startup_high_loss() {
    if (filled_pipe || state != State::Startup) return;
    if (loss_round_start && in_recovery && loss_events_in_round >= kStartupFullLossCount &&
        is_inflight_too_high()) {
      inflight_hi = std::max(bdp_multiple(1.0), inflight_latest);
      filled_pipe = true;
    }
  }
  void check_startup_done() {
    check_startup_high_loss();
    if (state == State::Startup && filled_pipe) enter_drain();
  }
  void enter_drain() {
    state = State::Drain;
    pacing_gain = kDrainPacingGain;  // §5.3.2: drain the queue Startup built
    cwnd_gain = kStartupCwndGain;
  }
  // §5.3.2 BBRCheckDrainDone: "if (BBR.state == Drain and packets_in_flight <=
  // BBRInflight(1.0)) BBRStartProbeBW_DOWN()".
  void check_drain_done() {
    if (state == State::Drain && ack->inflight <= inflight_at(1.0)) start_probe_bw_down();
  }

  // --- §5.3.3 ProbeBW ---
  void pick_probe_wait() {
    // §5.3.3.5.3: "BBR.rounds_since_bw_probe = random_int_between(0, 1); BBR.bw_probe_wait =
    // 2 + random_float_between(0.0, 1.0)" seconds.
    rounds_since_bw_probe = random01() < 0.5 ? 0 : 1;
    bw_probe_wait =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double>(2.0 + random01()));
  }
  void start_probe_bw_down() {
    reset_congestion_signals();
    probe_up_cnt = kInfinite;
    pick_probe_wait();
    cycle_stamp = ack->now;
    ack_phase = AckPhase::ProbeStopping;
    start_round();
    state = State::ProbeBwDown;
    pacing_gain = 0.90;  // §5.3.3.1
    cwnd_gain = 2.0;
  }
  void start_probe_bw_cruise() {
    state = State::ProbeBwCruise;
    pacing_gain = 1.0;
    cwnd_gain = 2.0;
  }
  void start_probe_bw_refill() {
    reset_lower_bounds();
    bw_probe_up_rounds = 0;
    bw_probe_up_acks = 0;
    ack_phase = AckPhase::Refilling;
    start_round();
    state = State::ProbeBwRefill;
    pacing_gain = 1.0;
    cwnd_gain = 2.0;
  }
  void start_probe_bw_up() {
    ack_phase = AckPhase::ProbeStarting;
    start_round();
    reset_full_bw();
    full_bw = static_cast<double>(rs->valid ? rs->delivery_rate : 0);
    state = State::ProbeBwUp;
    pacing_gain = 1.25;
    cwnd_gain = 2.25;
    raise_inflight_hi_slope();
  }
  // §5.3.3.6 BBRRaiseInflightHiSlope: inflight_hi grows 1, 2, 4, ... segments per round.
  void raise_inflight_hi_slope() {
    std::uint64_t growth_this_round = 1ull << bw_probe_up_rounds;
    bw_probe_up_rounds = std::min<std::uint32_t>(bw_probe_up_rounds + 1, 30);
    probe_up_cnt = std::max<std::uint64_t>(cwnd() / mss() / growth_this_round, 1);
  }
  void probe_inflight_hi_upward() {
    if (!ack->cwnd_limited || cwnd() < inflight_hi) return;
    bw_probe_up_acks += rs->newly_acked;
    std::uint64_t per = probe_up_cnt * mss();
    if (bw_probe_up_acks >= per) {
      std::uint64_t delta = bw_probe_up_acks / per;
      bw_probe_up_acks -= delta * per;
      inflight_hi += delta * mss();
    }
    if (round_start) raise_inflight_hi_slope();
  }
  // §5.3.3.6 BBRAdaptUpperBounds.
  void adapt_upper_bounds() {
    if (ack_phase == AckPhase::ProbeStarting && round_start) ack_phase = AckPhase::ProbeFeedback;
    if (ack_phase == AckPhase::ProbeStopping && round_start) {
      bw_probe_samples = 0;
      ack_phase = AckPhase::Init;
      if (in_probe_bw() && !rs->is_app_limited) advance_max_bw_filter();
    }
    if (!check_inflight_too_high()) {
      if (inflight_hi == kInfinite) return;
      if (rs->tx_in_flight > inflight_hi) inflight_hi = rs->tx_in_flight;
      if (state == State::ProbeBwUp) probe_inflight_hi_upward();
    }
  }
  bool has_elapsed_in_phase(Duration d) const { return ack->now > cycle_stamp + d; }
  // §5.3.3.5.3 BBRIsRenoCoexistenceProbeTime.
  bool is_reno_coexistence_probe_time() const {
    std::uint64_t reno_rounds = target_inflight() / mss();
    return rounds_since_bw_probe >= std::min<std::uint64_t>(reno_rounds, 63);
  }
  bool is_time_to_probe_bw() {
    if (has_elapsed_in_phase(bw_probe_wait) || is_reno_coexistence_probe_time()) {
      start_probe_bw_refill();
      return true;
    }
    return false;
  }
  bool is_time_to_cruise() const {
    if (ack->inflight > inflight_with_headroom()) return false;
    return ack->inflight <= inflight_at(1.0);
  }
  bool is_time_to_go_down() {
    if (ack->cwnd_limited && cwnd() >= inflight_hi) {
      reset_full_bw();
      full_bw = static_cast<double>(rs->valid ? rs->delivery_rate : 0);
    } else if (full_bw_now) {
      return true;
    }
    return false;
  }
  void update_probe_bw_cycle_phase() {
    if (!filled_pipe) return;
    adapt_upper_bounds();
    if (!in_probe_bw()) return;
    switch (state) {
      case State::ProbeBwDown:
        if (is_time_to_probe_bw()) return;
        if (is_time_to_cruise()) start_probe_bw_cruise();
        break;
      case State::ProbeBwCruise:
        if (is_time_to_probe_bw()) return;
        break;
      case State::ProbeBwRefill:
        if (round_start) {
          bw_probe_samples = 1;
          start_probe_bw_up();
        }
        break;
      case State::ProbeBwUp:
        if (is_time_to_go_down()) start_probe_bw_down();
        break;
      default:
        break;
    }
  }

  // --- §5.3.4 ProbeRTT and §5.5.4 min_rtt ---
  void update_min_rtt() {
    const Instant now = ack->now;
    // §5.3.4.4: ProbeRTTInterval (5 s) without a lower probe_rtt_min_delay.
    probe_rtt_expired = probe_rtt_min_delay && now > probe_rtt_min_stamp + kProbeRttInterval;
    if (rs->rtt && (!probe_rtt_min_delay || *rs->rtt < *probe_rtt_min_delay || probe_rtt_expired)) {
      probe_rtt_min_delay = *rs->rtt;
      probe_rtt_min_stamp = now;
    }
    // §5.5.4: BBR.min_rtt, a 10 s (MinRTTFilterLen) min filter.
    bool min_rtt_expired = min_rtt && now > min_rtt_stamp + kMinRttFilterLen;
    if (probe_rtt_min_delay && (!min_rtt || *probe_rtt_min_delay < *min_rtt || min_rtt_expired)) {
      min_rtt = probe_rtt_min_delay;
      min_rtt_stamp = probe_rtt_min_stamp;
    }
  }
  std::uint64_t probe_rtt_cwnd() const {
    return std::max(bdp_multiple(kProbeRttCwndGain), min_pipe_cwnd());
  }
  void check_probe_rtt(DeliveryRate& rate) {
    if (state != State::ProbeRtt && probe_rtt_expired && !idle_restart) {
      state = State::ProbeRtt;  // BBREnterProbeRTT
      pacing_gain = 1.0;
      cwnd_gain = kProbeRttCwndGain;
      save_cwnd();
      probe_rtt_done_stamp.reset();
      ack_phase = AckPhase::ProbeStopping;
      start_round();
    }
    if (state == State::ProbeRtt) handle_probe_rtt(rate);
    if (rs->delivered > 0) idle_restart = false;
  }
  // §5.3.4.4 BBRHandleProbeRTT: once inflight is down to ProbeRTT's cwnd, hold it there for
  // ProbeRTTDuration (200 ms) and at least one round.
  void handle_probe_rtt(DeliveryRate& rate) {
    rate.mark_app_limited(ack->inflight);  // "Ignore low rate samples during ProbeRTT"
    if (!probe_rtt_done_stamp && ack->inflight <= probe_rtt_cwnd()) {
      probe_rtt_done_stamp = ack->now + kProbeRttDuration;
      probe_rtt_round_done = false;
      start_round();
    } else if (probe_rtt_done_stamp) {
      if (round_start) probe_rtt_round_done = true;
      if (probe_rtt_round_done) check_probe_rtt_done();
    }
  }
  void check_probe_rtt_done() {
    if (probe_rtt_done_stamp && ack->now > *probe_rtt_done_stamp) {
      probe_rtt_min_stamp = ack->now;  // "schedule next ProbeRTT"
      restore_cwnd();
      exit_probe_rtt();
    }
  }
  void exit_probe_rtt() {
    reset_lower_bounds();
    if (filled_pipe) {
      start_probe_bw_down();
      start_probe_bw_cruise();
    } else {
      enter_startup();
    }
  }

  // --- §5.6.4.4 cwnd across loss recovery ---
  void save_cwnd() {
    // BBRSaveCwnd: "if (!InLossRecovery() and BBR.state != ProbeRTT) return cwnd else
    // return max(BBR.prior_cwnd, cwnd)".
    if (!in_recovery && state != State::ProbeRtt)
      prior_cwnd = cwnd();
    else
      prior_cwnd = std::max(prior_cwnd, cwnd());
  }
  void restore_cwnd() { set_cwnd(std::max(cwnd(), prior_cwnd)); }

  // --- §5.6 control parameters ---
  void init_pacing_rate(std::optional<Duration> srtt) {
    // §5.6.2 BBRInitPacingRate: nominal_bandwidth = InitialCwnd / (SRTT ? SRTT : 1ms).
    double rtt_s = srtt && srtt->count() > 0 ? std::chrono::duration<double>(*srtt).count() : 1e-3;
    pacing_rate = kStartupPacingGain * static_cast<double>(initial_cwnd) / rtt_s;
  }
  void set_pacing_rate() {
    // §5.6.2 BBRSetPacingRateWithGain: rate = gain * bw * (100 - PacingMarginPercent) / 100;
    // "if (BBR.filled_pipe || rate > BBR.pacing_rate) BBR.pacing_rate = rate".
    double rate = pacing_gain * bw * (1.0 - kPacingMargin);
    if (rate > 0 && (filled_pipe || rate > pacing_rate)) pacing_rate = rate;
  }
  void set_send_quantum() {
    // §5.6.3: BBR.send_quantum = pacing_rate * 1 ms, within [2 * SMSS, 64 KB].
    auto q = static_cast<std::uint64_t>(pacing_rate * 1e-3);
    send_quantum = std::clamp<std::uint64_t>(q, 2ull * mss(), 64 * 1024);
  }
  void set_cwnd() {
    // §5.6.4.2 BBRUpdateMaxInflight (no ack-aggregation allowance: BBR.extra_acked = 0).
    std::uint64_t max_inflight = quantization_budget(bdp_multiple(cwnd_gain));
    // §5.6.4.4 BBRModulateCwndForRecovery.
    std::uint64_t c = cwnd();
    if (rs->newly_lost > 0)
      c = std::max<std::uint64_t>(c > rs->newly_lost ? c - rs->newly_lost : 0, mss());
    if (packet_conservation) c = std::max<std::uint64_t>(c, ack->inflight + rs->newly_acked);
    if (!packet_conservation) {
      // §5.6.4.6 core cwnd adjustment: grow toward max_inflight by what was delivered;
      // before the pipe is full, grow freely (slow start's doubling per round).
      if (filled_pipe)
        c = std::min(c + rs->newly_acked, max_inflight);
      else if (c < max_inflight || delivered < initial_cwnd)
        c = c + rs->newly_acked;
    }
    c = std::max(c, min_pipe_cwnd());
    // §5.6.4.5 BBRBoundCwndForProbeRTT.
    if (state == State::ProbeRtt) c = std::min(c, probe_rtt_cwnd());
    // §5.6.4.7 BBRBoundCwndForModel.
    std::uint64_t cap = kInfinite;
    if (in_probe_bw() && state != State::ProbeBwCruise)
      cap = inflight_hi;
    else if (state == State::ProbeRtt || state == State::ProbeBwCruise)
      cap = inflight_with_headroom();
    cap = std::min(cap, inflight_lo);
    cap = std::max(cap, min_pipe_cwnd());
    c = std::min(c, cap);
    set_cwnd(c);
  }

  void on_sample(const RateSample& sample, const BbrAck& a, DeliveryRate& rate) {
    rs = &sample;
    ack = &a;
    delivered = rate.delivered();
    if (!has_seen_rtt && a.srtt) {
      has_seen_rtt = true;
      init_pacing_rate(a.srtt);
    }
    // §5.6.4.4: recovery starts (packet conservation for one round) or ends (restore).
    if (recovery_pending) {
      recovery_pending = false;
      save_cwnd();
      in_recovery = true;
      set_cwnd(a.inflight + std::max<std::uint64_t>(sample.newly_acked, mss()));
      packet_conservation = true;
      recovery_round_end = delivered;
    } else if (in_recovery && !a.in_recovery) {
      exit_recovery();
    }
    if (packet_conservation && sample.has_packet && sample.prior_delivered >= recovery_round_end)
      packet_conservation = false;  // "After one round-trip in Fast Recovery"
    // §5.2 BBRUpdateModelAndState.
    update_latest_delivery_signals();
    update_congestion_signals();
    check_full_bw_reached();
    check_startup_done();
    check_drain_done();
    update_probe_bw_cycle_phase();
    update_min_rtt();
    check_probe_rtt(rate);
    advance_latest_delivery_signals();
    bound_bw_for_model();
    // §5.2 BBRUpdateControlParameters.
    set_pacing_rate();
    set_send_quantum();
    set_cwnd();
    rs = nullptr;
    ack = nullptr;
  }
  void exit_recovery() {
    in_recovery = false;
    packet_conservation = false;
    restore_cwnd();
  }
};

Bbr::Bbr(std::uint32_t mss, std::uint32_t initial_window_segments)
    : CongestionControl(mss, initial_window_segments), m_(std::make_unique<Model>()) {
  m_->b = this;
  m_->initial_cwnd = cwnd_;
  m_->init_pacing_rate(std::nullopt);  // §5.6.2, SRTT not yet known: 1 ms
  m_->enter_startup();
}
Bbr::~Bbr() = default;
Bbr::Bbr(Bbr&& o) noexcept : CongestionControl(o), m_(std::move(o.m_)) {
  if (m_) m_->b = this;
}
Bbr& Bbr::operator=(Bbr&& o) noexcept {
  CongestionControl::operator=(o);
  m_ = std::move(o.m_);
  if (m_) m_->b = this;
  return *this;
}

void Bbr::set_mss(std::uint32_t mss) {
  CongestionControl::set_mss(mss);
  m_->b = this;
  m_->initial_cwnd = cwnd_;
  if (!m_->has_seen_rtt) m_->init_pacing_rate(std::nullopt);
}

void Bbr::on_congestion_event(std::uint32_t, Instant) {
  m_->b = this;
  if (!m_->in_recovery) m_->recovery_pending = true;  // applied at this ACK's rate sample
}

void Bbr::on_recovery_exit() {
  m_->b = this;
  m_->recovery_pending = false;
  if (m_->in_recovery) m_->exit_recovery();
}

void Bbr::on_rto(std::uint32_t, Instant) {
  m_->b = this;
  // §5.6.4.4: "Upon retransmission timeout: BBR.prior_cwnd = BBRSaveCwnd(); cwnd =
  // packets_in_flight + 1" — after the timeout nothing is believed in flight.
  m_->save_cwnd();
  m_->in_recovery = true;
  m_->recovery_pending = false;
  m_->packet_conservation = false;
  cwnd_ = mss_;
}

void Bbr::undo(const CongestionPrior& p, std::uint32_t cwnd, std::uint32_t ssthresh) {
  m_->b = this;
  m_->reset_full_bw();
  m_->reset_lower_bounds();
  m_->recovery_pending = false;
  if (m_->in_recovery) m_->exit_recovery();
  CongestionControl::undo(p, cwnd, ssthresh);
}

void Bbr::on_rate_sample(const RateSample& rs, const BbrAck& ack, DeliveryRate& rate) {
  m_->b = this;
  if (m_->initial_cwnd == 0) m_->initial_cwnd = cwnd_;
  m_->on_sample(rs, ack, rate);
}

std::uint64_t Bbr::pacing_rate() const { return static_cast<std::uint64_t>(m_->pacing_rate); }
Bbr::State Bbr::state() const { return m_->state; }
double Bbr::max_bw() const { return m_->max_bw; }
double Bbr::bw() const { return m_->bw; }
std::optional<Duration> Bbr::min_rtt() const { return m_->min_rtt; }
double Bbr::pacing_gain() const { return m_->pacing_gain; }
double Bbr::cwnd_gain() const { return m_->cwnd_gain; }
bool Bbr::filled_pipe() const { return m_->filled_pipe; }
std::uint64_t Bbr::bdp() const { return m_->bdp_multiple(1.0); }
std::uint64_t Bbr::inflight_hi() const { return m_->inflight_hi; }
std::uint64_t Bbr::inflight_lo() const { return m_->inflight_lo; }
std::uint64_t Bbr::round_count() const { return m_->round_count; }

std::string_view to_string(Bbr::State s) {
  switch (s) {
    case Bbr::State::Startup:
      return "Startup";
    case Bbr::State::Drain:
      return "Drain";
    case Bbr::State::ProbeBwDown:
      return "ProbeBW_DOWN";
    case Bbr::State::ProbeBwCruise:
      return "ProbeBW_CRUISE";
    case Bbr::State::ProbeBwRefill:
      return "ProbeBW_REFILL";
    case Bbr::State::ProbeBwUp:
      return "ProbeBW_UP";
    case Bbr::State::ProbeRtt:
      return "ProbeRTT";
  }
  return "?";
}

}  // namespace synack::tcp
