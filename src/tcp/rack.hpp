// SPDX-License-Identifier: MIT
// RACK (RFC 8985 §6): loss detection by time. Every transmission of the data in flight is
// recorded with its send time; a segment is lost once a segment sent after it has been
// delivered (cumulatively ACKed or SACKed) and more than RACK.rtt + RACK.reo_wnd has passed
// since it was sent. Lost retransmissions are found the same way, and the reordering window
// adapts to D-SACKs. The connection keeps one Rack on the heap, made when data first goes out
// with SACK in use (an idle connection that never sent holds none); its records are empty
// when nothing is in flight. No clock, no I/O: time is an argument.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "synack/seqnum.hpp"
#include "synack/time.hpp"
#include "wire/tcp_header.hpp"

namespace synack::tcp {

class Rack {
 public:
  // Bound on the records (one per segment, or per burst of new data that left together).
  // Beyond it a new transmission is merged into the last record (counted in coalesced()):
  // its older part then looks as recent as the newest, so its loss is found later (by a
  // later RACK pass or the RTO), never earlier.
  static constexpr std::size_t kMaxRecords = 2048;
  static constexpr std::uint32_t kDupThresh = 3;  // RFC 8985 §6.2 step 4 / RFC 6675 §2

  // RFC 8985 §6.1 per-segment variables.
  struct Record {
    SeqNum start, end;        // [start, end): Segment.end_seq = end
    Instant xmit;             // Segment.xmit_ts: its latest (re)transmission
    std::uint32_t order = 0;  // rank of that transmission among all (ties of xmit_ts)
    bool retransmitted = false;
    bool lost = false;
    bool sacked = false;
    // Merged with later data at the kMaxRecords bound: `xmit` is the newest part's, so the
    // time since it says nothing about the older part's round trip (no RTT sample from it).
    bool merged = false;
  };

  // A (re)transmission of [start, end) at `now` (RFC 8985 §6.1: "Segment.xmit_ts = Now();
  // Segment.lost = FALSE" on every transmission; "retransmitted" once sent again).
  void on_send(SeqNum start, SeqNum end, Instant now, bool retransmission);

  // RFC 8985 §6.2 steps 1-3 for one ACK: every segment it newly delivers (cumulatively
  // below `ack`, or inside one of `sacks` — at most wire::kMaxSackBlocks, already checked to
  // lie in (SND.UNA, SND.MAX])
  // updates RACK.min_RTT, RACK.rtt/xmit_ts/end_seq unless its RTT sample is ambiguous, and
  // RACK.fack / reordering_seen. `tsecr`: the ACK's echoed timestamp and the connection's
  // timestamp clock (ms + offset), for the §6.2 step 2 check of retransmitted segments.
  // Records wholly below `ack` are removed. Returns the octets newly SACKed.
  //
  // It also finds the ACK's Karn-valid RTT sample (RFC 6298 §3: only segments sent once
  // measure the path), following Linux tcp_clean_rtx_queue() / tcp_sacktag_one(): the time
  // since the oldest segment it newly acknowledges cumulatively that was sent once — none if
  // the cumulative ACK covers any retransmitted segment, since it may answer either copy —
  // otherwise the time since the oldest newly SACKed segment sent once (not on an ACK that
  // covers a retransmitted segment: stricter than Linux, see on_ack()). Merged records
  // (kMaxRecords) give none. take_rtt_sample() hands it over, once.
  struct TsClock {
    std::uint32_t tsecr;
    std::uint32_t offset;
  };
  std::uint32_t on_ack(SeqNum ack, std::span<const std::pair<SeqNum, SeqNum>> sacks, Instant now,
                       std::optional<TsClock> ts);
  // The last on_ack()'s sample, if any and not yet taken.
  std::optional<Duration> take_rtt_sample() { return std::exchange(ack_rtt_, std::nullopt); }

  // RFC 8985 §6.2 step 4: RACK.reo_wnd for this ACK. `dsack`: the ACK carries a D-SACK;
  // `in_recovery`: fast recovery or recovery after an RTO; `sacked_bytes` / `mss` for "DupThresh
  // segments SACKed"; srtt bounds it.
  Duration update_reo_wnd(bool dsack, SeqNum snd_una, SeqNum snd_max, bool in_recovery,
                          std::uint32_t sacked_bytes, std::uint32_t mss,
                          std::optional<Duration> srtt);
  // RFC 8985 §6.2 step 4, "exiting Fast or RTO recovery": one of the 16 recoveries after a
  // D-SACK that keep the widened window.
  void on_recovery_exit();

  // RFC 8985 §6.2 step 5 RACK_detect_loss(): marks lost every unacknowledged segment sent
  // before RACK.xmit_ts (RACK_sent_after) longer than RACK.rtt + reo_wnd ago. Returns the
  // octets newly marked lost; arms (or clears) the reordering timer (§6.3) for the ones not
  // yet due.
  std::uint32_t detect_loss(Instant now, Duration reo_wnd);
  // RFC 8985 §6.3 upon RTO expiration: the first unacknowledged segment is lost; the others
  // when sent at least RACK.rtt + reo_wnd ago. Returns the octets marked lost.
  std::uint32_t on_rto(SeqNum snd_una, Instant now, Duration reo_wnd);
  // RFC 2018 §8 reneging (the scoreboard was cleared): nothing is SACKed any more.
  void forget_sacks();
  // A timeout proved spurious (RFC 4015, tcp/spurious_retransmit.hpp): nothing is lost any
  // more (Linux: tcp_undo_cwnd_reduction with unmark_loss).
  void clear_lost();

  // The RFC 6675 pipe as RFC 8985 §9.3 / Linux count it: octets sent, neither delivered nor
  // marked lost (a lost segment sent again is in flight once more). Kept as a running sum
  // (`in_flight_`), so it costs nothing per ACK; a scan only when records lie below `snd_una`.
  std::uint32_t pipe(SeqNum snd_una) const;
  // Octets marked lost and not yet sent again.
  std::uint32_t lost_bytes(SeqNum snd_una) const;
  // The first segment marked lost and not yet sent again, from SND.UNA.
  struct Hole {
    SeqNum start;
    std::uint32_t length;
  };
  std::optional<Hole> next_lost(SeqNum snd_una) const;

  // §6.3 reordering timer: when RACK_detect_loss_and_arm_timer() should run next.
  std::optional<Instant> timer() const { return timer_; }
  void disarm_timer() { timer_.reset(); }

  bool reordering_seen() const { return reordering_seen_; }
  std::uint32_t reo_wnd_mult() const { return reo_wnd_mult_; }
  std::optional<Duration> rtt() const { return xmit_ts_ ? std::optional(rtt_) : std::nullopt; }
  std::optional<Duration> min_rtt() const { return min_rtt_; }
  // A round trip measured (here, or outside the records: the handshake's): RACK.min_RTT is at
  // most it.
  void lower_min_rtt(Duration rtt) {
    if (!min_rtt_ || rtt < *min_rtt_) min_rtt_ = rtt;
  }
  std::size_t records() const { return records_.size(); }
  std::uint64_t coalesced() const { return coalesced_; }
  const std::vector<Record>& record_list() const { return records_; }
  // RACK.xmit_ts, the rank of that transmission and RACK.end_seq: the most recent delivered one
  // that detect_loss() judges the others by (none before the first valid sample).
  struct Latest {
    Instant xmit;
    std::uint32_t order;
    SeqNum end;  // RACK.end_seq
  };
  std::optional<Latest> latest_delivered() const {
    return xmit_ts_ ? std::optional(Latest{*xmit_ts_, order_, end_seq_}) : std::nullopt;
  }
  // The running counts the per-ACK work rests on (tests check them against the records).
  struct Tally {
    std::uint32_t lost = 0;           // records marked lost (never also SACKed)
    std::uint32_t retransmitted = 0;  // records sent more than once
    std::uint32_t in_flight = 0;      // octets of records neither SACKed nor lost
    bool operator==(const Tally&) const = default;
  };
  Tally tally() const { return {lost_records_, retransmitted_records_, in_flight_}; }
  // The same, counted from the records (O(n)).
  Tally recount() const;

 private:
  // Splits the record containing `seq` strictly inside it; false when at the bound.
  bool split_at(SeqNum seq);
  // RFC 8985 §6.2 steps 1-3 for one delivered record (on_ack()).
  struct AckScan;
  void deliver(Record& r, std::span<const std::pair<SeqNum, SeqNum>> sacks, AckScan& scan);
  void mark_lost(Record& r);
  void unmark_lost(Record& r);
  static std::uint32_t size(const Record& r) { return static_cast<std::uint32_t>(r.end - r.start); }
  std::size_t first_at_or_after(SeqNum seq) const;
  // RFC 8985 §6.2 RACK_sent_after(t1, seq1, t2, seq2): "t1 > t2 or (t1 == t2 and seq1 >
  // seq2)". The RFC breaks a tie of timestamps by sequence number because the order of two
  // segments sent in the same clock tick is unknown; here it is known, and in virtual time (and
  // with a coarse clock) ties are common: new data sent on one ACK and a retransmission sent on
  // the next ACK of the same instant would tie, and the new data — higher in sequence but sent
  // first — would wrongly make the retransmission look lost. So ties go by transmission order,
  // and within one transmission (a burst that leaves as one GSO packet, or a range sent again
  // at once, later split at SACK edges) by sequence, the RFC's rule: the link cuts a burst into
  // segments in sequence order. (Without that last step a segment lost inside a burst was never
  // found by the burst's own later segments: at the end of a transfer, with nothing sent after
  // it, it waited for the RTO — 2026-12-05, bench/loss.sh at 10 %.)
  static bool sent_after(Instant t1, std::uint32_t o1, SeqNum e1, Instant t2, std::uint32_t o2,
                         SeqNum e2) {
    if (t1 != t2) return t1 > t2;
    if (o1 != o2) return static_cast<std::int32_t>(o1 - o2) > 0;
    return e2 < e1;
  }

  std::vector<Record> records_;     // sorted by start, disjoint
  std::optional<Instant> xmit_ts_;  // RACK.xmit_ts (none until the first valid sample)
  SeqNum end_seq_;                  // RACK.end_seq
  std::uint32_t order_ = 0;         // the order of RACK.xmit_ts's transmission (see sent_after)
  std::uint32_t next_order_ = 0;
  // Running counts over records_ (see Tally), kept by every change to a record's flags, so
  // that an ACK costs what it delivers, not what is in flight: with a 4 MiB window of
  // 1,448-byte segments, 2,048 records would otherwise be walked several times per ACK.
  // (At most kMaxRecords records, and the octets of one send window: 32 bits hold them.)
  std::uint32_t lost_records_ = 0;
  Duration rtt_{0};                    // RACK.rtt
  std::optional<Duration> min_rtt_;    // RACK.min_RTT
  std::optional<SeqNum> fack_;         // RACK.fack
  std::optional<SeqNum> dsack_round_;  // RACK.dsack_round
  std::uint32_t reo_wnd_mult_ = 1;     // RACK.reo_wnd_mult
  std::int32_t reo_wnd_persist_ = 0;   // RACK.reo_wnd_persist
  std::uint32_t retransmitted_records_ = 0;
  std::uint32_t in_flight_ = 0;
  bool reordering_seen_ = false;  // RACK.reordering_seen
  std::optional<Instant> timer_;  // §6.3 reordering timer
  std::uint64_t coalesced_ = 0;
  std::optional<Duration> ack_rtt_;  // the last ACK's Karn-valid sample (on_ack)
};

}  // namespace synack::tcp
