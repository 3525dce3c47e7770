// SPDX-License-Identifier: MIT
// Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation-02, "the draft" below):
// the connection's delivered / delivered_time / first_sent_time / app_limited, a snapshot of
// them per transmitted segment, and a rate sample per ACK. Only BBR reads it, so a connection
// allocates it (with its pacer, RateState) only when BBR is chosen: CUBIC and NewReno
// connections carry a null pointer. Bytes throughout; sans-I/O (times are arguments).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "synack/seqnum.hpp"
#include "synack/time.hpp"
#include "tcp/sack_scoreboard.hpp"

namespace synack::tcp {

// The draft's §3.3 "rs": what one ACK tells of the delivery rate.
struct RateSample {
  bool valid = false;                 // a rate (interval >= min_rtt, a snapshot found)
  std::uint64_t delivery_rate = 0;    // rs.delivery_rate, bytes per second
  std::uint64_t delivered = 0;        // rs.delivered: bytes delivered over the interval
  std::uint64_t prior_delivered = 0;  // rs.prior_delivered: C.delivered when P was sent
  Duration interval{0};               // rs.interval = max(send_elapsed, ack_elapsed)
  bool is_app_limited = false;        // rs.is_app_limited: P was sent while app-limited
  std::optional<Duration> rtt;        // rs.rtt: now - P.sent_time (P sent once only: Karn)
  std::uint64_t newly_acked = 0;      // bytes this ACK delivered (cumulative or SACKed)
  std::uint64_t newly_lost = 0;       // bytes judged lost since the last ACK
  std::uint64_t lost = 0;             // rs.lost: C.lost - P.lost, lost over the interval
  std::uint64_t tx_in_flight = 0;     // rs.tx_in_flight: in flight when P was sent (BBR)
  bool has_packet = false;            // some segment was newly delivered by this ACK
};

class DeliveryRate {
 public:
  // Bound on per-segment records (one per transmission); beyond it the oldest go.
  static constexpr std::size_t kMaxRecords = 4096;

  // The draft §3.2 "Transmitting or retransmitting a data packet": the snapshot P of C.
  // `in_flight` is the bytes in flight before this one. A retransmission also counts its
  // bytes as lost (C.lost): the sender's loss detection judged them lost to resend them.
  void on_send(SeqNum start, SeqNum end, std::uint32_t in_flight, Instant now, bool retransmission);

  // The draft §3.3 "Upon receiving ACK": `newly_acked` bytes were delivered by this ACK
  // (cumulatively or by SACK; RFC 6937's DeliveredData); segments entirely below `snd_una` or
  // SACKed on `scoreboard` are delivered. `min_rtt`: the draft §3.3's filter against
  // intervals shorter than the path's RTT (nullopt: none known).
  RateSample on_ack(SeqNum snd_una, const SackScoreboard& scoreboard, std::uint64_t newly_acked,
                    Instant now, std::optional<Duration> min_rtt);

  // The draft §3.4 "Detecting application-limited phases": the sender had less than a
  // segment to send, was not cwnd-limited and had no loss to repair: C.app_limited =
  // C.delivered + inflight (at least 1).
  void on_app_limited(std::uint32_t in_flight);
  // Marks the connection app-limited whatever it sends (BBR's ProbeRTT, draft-ietf-ccwg-bbr
  // §5.3.4.4 BBRHandleProbeRTT).
  void mark_app_limited(std::uint32_t in_flight) { on_app_limited(in_flight); }

  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t lost() const { return lost_; }
  std::uint64_t app_limited() const { return app_limited_; }
  std::size_t records() const { return records_.size(); }

 private:
  // The draft §3.2's per-packet state, one per transmission of [start, end).
  struct Record {
    SeqNum start, end;
    Instant sent_time;
    Instant delivered_time;   // P.delivered_time
    Instant first_sent_time;  // P.first_sent_time
    std::uint64_t delivered = 0;
    std::uint64_t lost = 0;
    std::uint32_t tx_in_flight = 0;
    bool is_app_limited = false;
    bool retransmitted = false;
  };

  std::vector<Record> records_;    // in send order
  std::uint64_t delivered_ = 0;    // C.delivered
  Instant delivered_time_{};       // C.delivered_time
  Instant first_sent_time_{};      // C.first_sent_time
  std::uint64_t app_limited_ = 0;  // C.app_limited (0: not app-limited)
  std::uint64_t lost_ = 0;         // C.lost
  std::uint64_t lost_at_last_ack_ = 0;
  bool started_ = false;  // C.delivered_time and C.first_sent_time set
};

// The pacer (draft-ietf-ccwg-bbr §5.6.2 "Pacing Rate": "the sender MUST NOT send faster than
// BBR.pacing_rate"): a next-send time, advanced by len / pacing_rate per transmission. The
// connection may not send data before it; when it is held back the time is a deadline the
// connection exposes next to its RTO (Connection::next_deadline()).
class Pacer {
 public:
  // May data go out at `now`?
  bool may_send(Instant now) const { return to_us(now) * 1000 >= next_send_ns_; }
  // `bytes` went out at `now` at `rate` bytes per second (0: unpaced). Kept in nanoseconds so
  // that a segment's few microseconds at high rates are not truncated away.
  void on_sent(std::uint32_t bytes, Instant now, std::uint64_t rate) {
    if (rate == 0) return;
    // Follows Linux (tcp_update_skb_after_send): time not used while idle is not banked.
    std::int64_t base = std::max(next_send_ns_, to_us(now) * 1000);
    next_send_ns_ = base + static_cast<std::int64_t>(static_cast<double>(bytes) * 1e9 /
                                                     static_cast<double>(rate));
  }
  // The next send time, rounded up to the clock's microseconds.
  Instant next_send() const { return instant_from_us((next_send_ns_ + 999) / 1000); }
  // The deadline to wake the connection at: set when output() was held back.
  std::optional<Instant> deadline;

 private:
  std::int64_t next_send_ns_ = 0;
};

// What a BBR connection allocates (Connection::rate_): the rate estimator and the pacer.
struct RateState {
  DeliveryRate delivery;
  Pacer pacer;
};

}  // namespace synack::tcp
