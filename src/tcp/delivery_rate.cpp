// SPDX-License-Identifier: MIT
// Delivery rate estimation, draft-cheng-iccrg-delivery-rate-estimation-02 (see the header).
#include "tcp/delivery_rate.hpp"

#include <algorithm>

namespace synack::tcp {

void DeliveryRate::on_send(SeqNum start, SeqNum end, std::uint32_t in_flight, Instant now,
                           bool retransmission) {
  // The draft §3.2: "If there are no packets in flight yet, then we can start the delivery
  // rate interval at the current time" (C.first_sent_time = C.delivered_time = Now()).
  if (in_flight == 0 || !started_) {
    first_sent_time_ = now;
    delivered_time_ = now;
    started_ = true;
  }
  if (retransmission) lost_ += static_cast<std::uint32_t>(end - start);
  if (records_.size() >= kMaxRecords) records_.erase(records_.begin());
  // The draft §3.2: P.first_sent_time, P.delivered_time, P.delivered, P.is_app_limited.
  records_.push_back(Record{.start = start,
                            .end = end,
                            .sent_time = now,
                            .delivered_time = delivered_time_,
                            .first_sent_time = first_sent_time_,
                            .delivered = delivered_,
                            .lost = lost_,
                            .tx_in_flight = in_flight + static_cast<std::uint32_t>(end - start),
                            .is_app_limited = app_limited_ != 0,
                            .retransmitted = retransmission});
}

void DeliveryRate::on_app_limited(std::uint32_t in_flight) {
  // The draft §3.4: C.app_limited = (C.delivered + C.inflight) ?: 1.
  std::uint64_t mark = delivered_ + in_flight;
  app_limited_ = mark > 0 ? mark : 1;
}

RateSample DeliveryRate::on_ack(SeqNum snd_una, const SackScoreboard& scoreboard,
                                std::uint64_t newly_acked, Instant now,
                                std::optional<Duration> min_rtt) {
  RateSample rs;
  rs.newly_acked = newly_acked;
  rs.newly_lost = lost_ - lost_at_last_ack_;
  lost_at_last_ack_ = lost_;
  // The draft §3.3 UpdateRateSample(P) for every packet newly delivered: C.delivered grows by
  // what this ACK delivered, C.delivered_time = Now().
  if (newly_acked > 0) {
    delivered_ += newly_acked;
    delivered_time_ = now;
  }
  const Record* chosen = nullptr;
  auto delivered_now = [&](const Record& r) {
    if (r.end <= snd_una) return true;
    auto sacked = scoreboard.sacked_range_at_or_after(r.start);
    return sacked && sacked->first == r.start && sacked->second >= r.end;
  };
  // Choose the most recently sent of the delivered segments: "if (!rs.has_data ||
  // P.delivered > rs.prior_delivered)" — the latest snapshot, the draft §3.3.
  Record best{};
  for (const Record& r : records_) {
    if (!delivered_now(r)) continue;
    if (!chosen || r.delivered > best.delivered ||
        (r.delivered == best.delivered && r.sent_time >= best.sent_time)) {
      best = r;
      chosen = &best;
    }
  }
  std::erase_if(records_, delivered_now);
  // The draft §3.3: "Clear app-limited field if bubble is ACKed and gone."
  if (app_limited_ != 0 && delivered_ > app_limited_) app_limited_ = 0;
  if (!chosen) return rs;
  rs.has_packet = true;
  rs.prior_delivered = best.delivered;
  rs.is_app_limited = best.is_app_limited;
  rs.tx_in_flight = best.tx_in_flight;
  rs.lost = lost_ - best.lost;
  // Karn's rule (RFC 6298 §3) for rs.rtt: a retransmitted segment's ACK may answer either copy.
  if (!best.retransmitted) rs.rtt = now - best.sent_time;
  // "C.first_sent_time = P.sent_time": the next interval's send phase starts at P's send.
  first_sent_time_ = best.sent_time;
  // The draft §3.3 GenerateRateSample: the interval is the longer of the send and ACK phases
  // ("to avoid underestimating the interval"), delivered = C.delivered - P.delivered.
  Duration send_elapsed = best.sent_time - best.first_sent_time;
  Duration ack_elapsed = delivered_time_ - best.delivered_time;
  rs.interval = std::max(send_elapsed, ack_elapsed);
  rs.delivered = delivered_ - best.delivered;
  // "Normally we expect interval >= MinRTT. Note that rate may still be over-estimated when
  // a spuriously retransmitted skb was first (s)acked because interval is under-estimated
  // ... then ignore the sample" — as the draft §3.3.
  if (min_rtt && rs.interval < *min_rtt) return rs;
  if (rs.interval <= Duration{0}) return rs;
  // The draft §3.3: rs.delivery_rate = rs.delivered / rs.interval.
  rs.delivery_rate = static_cast<std::uint64_t>(static_cast<double>(rs.delivered) * 1e6 /
                                                static_cast<double>(rs.interval.count()));
  rs.valid = true;
  return rs;
}

}  // namespace synack::tcp
