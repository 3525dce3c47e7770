// SPDX-License-Identifier: MIT
// RACK (RFC 8985 §6), see rack.hpp.
#include "tcp/rack.hpp"

#include <algorithm>
#include <array>

namespace synack::tcp {

std::size_t Rack::first_at_or_after(SeqNum seq) const {
  // The first record whose end lies beyond `seq` (records are sorted and disjoint).
  auto it = std::partition_point(records_.begin(), records_.end(),
                                 [&](const Record& r) { return r.end <= seq; });
  return static_cast<std::size_t>(it - records_.begin());
}

bool Rack::split_at(SeqNum seq) {
  std::size_t i = first_at_or_after(seq);
  if (i == records_.size() || !(records_[i].start < seq)) return true;  // already an edge
  if (records_.size() >= kMaxRecords) return false;
  Record tail = records_[i];
  tail.start = seq;
  records_[i].end = seq;
  // The octets in flight stay the same; the flags are now on two records.
  if (tail.lost) ++lost_records_;
  if (tail.retransmitted) ++retransmitted_records_;
  records_.insert(records_.begin() + static_cast<std::ptrdiff_t>(i) + 1, tail);
  return true;
}

void Rack::mark_lost(Record& r) {
  r.lost = true;
  ++lost_records_;
  in_flight_ -= size(r);
}

void Rack::unmark_lost(Record& r) {
  if (!r.lost) return;
  r.lost = false;
  --lost_records_;
  in_flight_ += size(r);
}

Rack::Tally Rack::recount() const {
  Tally t;
  for (const Record& r : records_) {
    if (r.lost) ++t.lost;
    if (r.retransmitted) ++t.retransmitted;
    if (!r.lost && !r.sacked) t.in_flight += size(r);
  }
  return t;
}

void Rack::on_send(SeqNum start, SeqNum end, Instant now, bool retransmission) {
  if (!(start < end)) return;
  if (records_.empty() || records_.back().end <= start) {
    // New data (or data beyond every record).
    if (records_.size() >= kMaxRecords) {
      // At the bound: merged into the last record, which now looks sent at `now` — and in
      // flight: were it SACKed, the new data would look delivered before it arrived (a
      // SACKed part sent again is the cheaper mistake).
      Record& last = records_.back();
      if (last.lost) {
        --lost_records_;
      } else if (!last.sacked) {
        in_flight_ -= size(last);
      }
      if (!last.retransmitted && retransmission) ++retransmitted_records_;
      last.end = end;
      last.xmit = now;
      last.order = next_order_++;
      last.lost = false;
      last.sacked = false;
      last.retransmitted = last.retransmitted || retransmission;
      last.merged = true;
      in_flight_ += size(last);
      ++coalesced_;
      return;
    }
    records_.push_back(Record{start, end, now, next_order_++, retransmission, false, false, false});
    in_flight_ += size(records_.back());
    if (retransmission) ++retransmitted_records_;
    return;
  }
  // A retransmission of recorded data (and possibly of more beyond the last record, as when
  // going back N): §6.1, each transmission restarts the segment's clock.
  SeqNum covered_end = seq_min(end, records_.back().end);
  bool exact = split_at(start) && split_at(covered_end);
  for (std::size_t i = first_at_or_after(start); i < records_.size(); ++i) {
    Record& r = records_[i];
    if (!(r.start < covered_end)) break;
    if (!exact && !(start <= r.start && r.end <= covered_end)) ++coalesced_;
    r.xmit = now;
    r.order = next_order_;
    if (!r.retransmitted) ++retransmitted_records_;
    r.retransmitted = true;
    unmark_lost(r);
  }
  ++next_order_;
  if (records_.back().end < end) on_send(records_.back().end, end, now, true);
}

// What one ACK's scan gathers (on_ack()).
struct Rack::AckScan {
  Instant now;
  std::optional<TsClock> ts;
  SeqNum ack;
  std::optional<SeqNum> fack_before;
  // The RTT sample (see rack.hpp), as Linux tcp_clean_rtx_queue(): the send time of the oldest
  // newly cumulatively acknowledged segment sent once, and whether a retransmitted one is
  // among the acknowledged (SACKed before or not: Linux's FLAG_RETRANS_DATA_ACKED); the same
  // for newly SACKed segments (Linux tcp_sacktag_one()'s first_sackt).
  std::optional<Instant> first_acked, first_sacked;
  bool retransmitted_acked = false;
  std::uint32_t newly_sacked = 0;
};

void Rack::deliver(Record& r, std::span<const std::pair<SeqNum, SeqNum>> sacks, AckScan& scan) {
  if (r.end <= scan.ack && r.retransmitted) scan.retransmitted_acked = true;
  if (r.sacked) return;
  bool delivered = r.end <= scan.ack;
  if (delivered && !r.retransmitted && !r.merged &&
      (!scan.first_acked || r.xmit < *scan.first_acked))
    scan.first_acked = r.xmit;
  if (!delivered) {
    for (const auto& [left, right] : sacks) {
      if (left <= r.start && r.end <= right) {
        delivered = true;
        if (r.lost) {
          r.lost = false;  // not in flight before, nor now
          --lost_records_;
        } else {
          in_flight_ -= size(r);
        }
        r.sacked = true;
        scan.newly_sacked += size(r);
        if (!r.retransmitted && !r.merged && (!scan.first_sacked || r.xmit < *scan.first_sacked))
          scan.first_sacked = r.xmit;
        break;
      }
    }
  }
  if (!delivered) return;
  // §6.2 step 2: RACK_update(). "rtt = Now() - Segment.xmit_ts".
  // (At least 1 µs, as every RTT sample: RttEstimator::sample(); virtual time has no floor.)
  Duration rtt = std::max(std::chrono::duration_cast<Duration>(scan.now - r.xmit), Duration{1});
  if (r.retransmitted) {
    // "If Segment.retransmitted is TRUE: If ACK.ts_option.echo_reply < Segment.xmit_ts:
    // Return" — the ACK answers an earlier copy ...
    if (scan.ts) {
      auto sent_ts = static_cast<std::uint32_t>(to_us(r.xmit) / 1000) + scan.ts->offset;
      if (static_cast<std::int32_t>(scan.ts->tsecr - sent_ts) < 0) return;
    }
    // "... If rtt < RACK.min_RTT: Return" — or came sooner than any path RTT allows.
    if (min_rtt_ && rtt < *min_rtt_) return;
  } else {
    // §6.2 step 1: RACK.min_RTT from the samples that measure the path (Karn: a segment
    // sent once). A plain minimum over the connection, the handshake's timed sample included
    // (send_data_segment()); Linux keeps a 5-minute windowed one.
    lower_min_rtt(rtt);
    // §6.2 step 3: "If Segment.end_seq < RACK.fack ... and it was not retransmitted":
    // delivered out of order, reordering seen.
    if (scan.fack_before && r.end < *scan.fack_before) reordering_seen_ = true;
  }
  if (!xmit_ts_ || sent_after(r.xmit, r.order, r.end, *xmit_ts_, order_, end_seq_)) {
    rtt_ = rtt;
    xmit_ts_ = r.xmit;
    end_seq_ = r.end;
    order_ = r.order;
  }
  if (!fack_ || *fack_ < r.end) fack_ = r.end;
}

std::uint32_t Rack::on_ack(SeqNum ack, std::span<const std::pair<SeqNum, SeqNum>> sacks,
                           Instant now, std::optional<TsClock> ts) {
  // SACK edges become record edges, so that a record is delivered wholly or not at all.
  for (const auto& [left, right] : sacks) {
    split_at(left);
    split_at(right);
  }
  split_at(ack);
  AckScan scan{now, ts, ack, fack_, {}, {}, false, 0};
  // Only the records this ACK can deliver are looked at, in sequence order (the order the
  // §6.2 steps see them in, which min_RTT's check of a retransmission below depends on): the
  // cumulatively acknowledged ones, then those under a SACK block, blocks taken left to right.
  const std::size_t gone = first_at_or_after(ack);
  for (std::size_t i = 0; i < gone; ++i) deliver(records_[i], sacks, scan);
  // (An option holds at most kMaxSackBlocks; the caller passes no more. Sorted by distance
  // from the ACK, a total order whatever the blocks say, unlike SeqNum's modular `<`.)
  std::array<std::pair<SeqNum, SeqNum>, wire::kMaxSackBlocks> sorted{};
  const std::size_t nblocks = std::min(sacks.size(), sorted.size());
  std::copy_n(sacks.begin(), nblocks, sorted.begin());
  std::sort(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(nblocks),
            [ack](const auto& a, const auto& b) {
              return static_cast<std::uint32_t>(a.first - ack) <
                     static_cast<std::uint32_t>(b.first - ack);
            });
  std::size_t next = gone;  // the records before it have been looked at
  for (std::size_t b = 0; b < nblocks; ++b) {
    const auto& [left, right] = sorted[b];
    if (!(left < right)) continue;
    for (std::size_t i = std::max(next, first_at_or_after(left));
         i < records_.size() && records_[i].start < right; ++i) {
      deliver(records_[i], sacks, scan);
      next = i + 1;
    }
  }
  // Cumulatively acknowledged records leave, and with them their part of the counts.
  for (std::size_t i = 0; i < gone; ++i) {
    const Record& r = records_[i];
    if (r.lost) {
      --lost_records_;
    } else if (!r.sacked) {
      in_flight_ -= size(r);
    }
    if (r.retransmitted) --retransmitted_records_;
  }
  records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(gone));
  if (records_.empty()) {
    timer_.reset();
    // Nothing in flight: the records hold no memory (issue 14: an idle connection's bytes).
    std::vector<Record>().swap(records_);
    lost_records_ = retransmitted_records_ = 0;
    in_flight_ = 0;
  }
  // RFC 6298 §3 (Karn): a cumulative ACK that covers a retransmitted segment is ambiguous, and
  // gives no sample even for the once-sent segments it also covers. Otherwise a SACK may (Linux
  // tcp_ack_update_rtt(): "seq_rtt_us < 0: seq_rtt_us = sack_rtt_us") — but not on such an ACK,
  // unlike Linux: it was most likely sent when the retransmission arrived, and a segment it
  // SACKs for the first time may have been reported on an earlier, lost ACK, so the time since
  // that segment was sent would span the retransmission (chaos seed 11867: a 3.2 s sample on a
  // 79 ms path).
  ack_rtt_.reset();
  if (scan.first_acked && !scan.retransmitted_acked)
    ack_rtt_ = std::chrono::duration_cast<Duration>(now - *scan.first_acked);
  else if (scan.first_sacked && !scan.retransmitted_acked)
    ack_rtt_ = std::chrono::duration_cast<Duration>(now - *scan.first_sacked);
  return scan.newly_sacked;
}

Duration Rack::update_reo_wnd(bool dsack, SeqNum snd_una, SeqNum snd_max, bool in_recovery,
                              std::uint32_t sacked_bytes, std::uint32_t mss,
                              std::optional<Duration> srtt) {
  // §6.2 step 4: "If RACK.dsack_round is not None and SND.UNA >= RACK.dsack_round:
  // RACK.dsack_round = None".
  if (dsack_round_ && snd_una >= *dsack_round_) dsack_round_.reset();
  // "If RACK.dsack_round is None and any DSACK option is present on latest received ACK:
  // RACK.dsack_round = SND.NXT; RACK.reo_wnd_mult += 1; RACK.reo_wnd_persist = 16" — at
  // most one widening per round trip, however many D-SACKs a peer sends.
  if (!dsack_round_ && dsack) {
    dsack_round_ = snd_max;
    if (reo_wnd_mult_ < 255) ++reo_wnd_mult_;
    reo_wnd_persist_ = 16;
  }
  // "If RACK.reordering_seen is FALSE: If in Fast or RTO recovery: Return 0; Else if
  // RACK.segs_sacked >= DupThresh: Return 0" (segments counted in octets as RFC 6675 §4
  // IsLost does: more than (DupThresh - 1) * SMSS).
  if (!reordering_seen_) {
    if (in_recovery) return Duration{0};
    if (sacked_bytes > (kDupThresh - 1) * mss) return Duration{0};
  }
  // "Return min(RACK.reo_wnd_mult * RACK.min_RTT / 4, SRTT)".
  Duration base = min_rtt_.value_or(Duration{0});
  Duration wnd = base * reo_wnd_mult_ / 4;
  if (srtt) wnd = std::min(wnd, *srtt);
  return wnd;
}

void Rack::on_recovery_exit() {
  // §6.2 step 4: "Else if exiting Fast or RTO recovery: RACK.reo_wnd_persist -= 1; If
  // RACK.reo_wnd_persist <= 0: RACK.reo_wnd_mult = 1".
  if (--reo_wnd_persist_ <= 0) {
    reo_wnd_persist_ = 0;
    reo_wnd_mult_ = 1;
  }
}

std::uint32_t Rack::detect_loss(Instant now, Duration reo_wnd) {
  timer_.reset();
  if (!xmit_ts_) return 0;
  std::uint32_t newly_lost = 0;
  Duration timeout{0};
  // With no retransmission among them, the records (in sequence order) are also in send
  // order, so the first one not sent before RACK.xmit_ts ends the walk: every later one was
  // sent later still. Otherwise every record is looked at.
  const bool in_send_order = retransmitted_records_ == 0;
  for (Record& r : records_) {
    const bool before = sent_after(*xmit_ts_, order_, end_seq_, r.xmit, r.order, r.end);
    if (!before && in_send_order) break;
    // "For each segment, Segment, not acknowledged yet" (and not already lost: §6.2 sets a
    // lost segment's xmit_ts to INFINITE_TS, so it is not judged again until resent).
    if (r.sacked || r.lost || !before) continue;
    // "remaining = Segment.xmit_ts + RACK.rtt + RACK.reo_wnd - Now()".
    auto remaining = (r.xmit + rtt_ + reo_wnd) - now;
    if (remaining <= Duration{0}) {
      mark_lost(r);
      newly_lost += size(r);
    } else {
      timeout = std::max(timeout, std::chrono::duration_cast<Duration>(remaining));
    }
  }
  // §6.2 RACK_detect_loss_and_arm_timer(): "If timeout != 0: Arm the RACK timer".
  if (timeout > Duration{0}) timer_ = now + timeout;
  return newly_lost;
}

std::uint32_t Rack::on_rto(SeqNum snd_una, Instant now, Duration reo_wnd) {
  timer_.reset();
  std::uint32_t lost = 0;
  bool first = true;
  for (Record& r : records_) {
    if (r.sacked || r.end <= snd_una) continue;
    // §6.3: "the first segment is marked lost (it was sent an RTO ago); for all the other
    // segments ... if Segment.xmit_ts + RACK.rtt + RACK.reo_wnd - Now() <= 0, mark lost".
    if (!r.lost && (first || (r.xmit + rtt_ + reo_wnd) - now <= Duration{0})) {
      mark_lost(r);
      lost += size(r);
    }
    first = false;
  }
  return lost;
}

void Rack::forget_sacks() {
  for (Record& r : records_) {
    if (!r.sacked) continue;
    r.sacked = false;  // (a SACKed record is never marked lost)
    in_flight_ += size(r);
  }
}

void Rack::clear_lost() {
  for (Record& r : records_) unmark_lost(r);
}

std::uint32_t Rack::pipe(SeqNum snd_una) const {
  // on_ack() leaves no record below the ACK it was given; only when SND.UNA has moved past
  // records without one do they need to be cut.
  if (records_.empty()) return 0;
  if (!(records_.front().start < snd_una)) return in_flight_;
  std::uint32_t pipe = 0;
  for (const Record& r : records_) {
    if (r.sacked || r.lost || r.end <= snd_una) continue;
    pipe += static_cast<std::uint32_t>(r.end - seq_max(r.start, snd_una));
  }
  return pipe;
}

std::uint32_t Rack::lost_bytes(SeqNum snd_una) const {
  if (lost_records_ == 0) return 0;
  std::uint32_t lost = 0;
  for (const Record& r : records_)
    if (r.lost && !r.sacked && snd_una < r.end)
      lost += static_cast<std::uint32_t>(r.end - seq_max(r.start, snd_una));
  return lost;
}

std::optional<Rack::Hole> Rack::next_lost(SeqNum snd_una) const {
  if (lost_records_ == 0) return std::nullopt;
  for (const Record& r : records_) {
    if (!r.lost || r.sacked || r.end <= snd_una) continue;
    SeqNum s = seq_max(r.start, snd_una);
    return Hole{s, static_cast<std::uint32_t>(r.end - s)};
  }
  return std::nullopt;
}

}  // namespace synack::tcp
