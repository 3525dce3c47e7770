// SPDX-License-Identifier: MIT
// The sender's record of what the peer has SACKed (RFC 2018) and the RFC 6675 queries built on
// it: IsLost, the pipe estimate and NextSeg's choice of hole. Bytes throughout; bounded by a
// fixed number of ranges.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "synack/seqnum.hpp"
#include "wire/tcp_header.hpp"

namespace synack::tcp {

class SackScoreboard {
 public:
  static constexpr std::size_t kMaxRanges = 32;
  static constexpr std::uint32_t kDupThresh = 3;  // RFC 6675 §2 DupThresh

  // Merges the blocks of one ACK. Blocks outside (SND.UNA, SND.MAX] or with left >= right
  // lie (RFC 2018 §4 / RFC 6675 §5.1 note) and are ignored.
  struct UpdateResult {
    std::size_t ignored = 0;         // lying blocks
    std::uint32_t newly_sacked = 0;  // octets SACKed for the first time (RFC 6675 §2 DupAck)
  };
  UpdateResult update(SeqNum snd_una, SeqNum snd_max, std::span<const wire::SackBlock> blocks);
  // SND.UNA moved: forget what is now cumulatively acknowledged.
  void advance(SeqNum snd_una);
  void clear() {
    ranges_.clear();
    lost_below_.reset();
  }
  // After an RTO (RFC 6675 §5.1, RFC 8985 §6.3): every unSACKed octet below `seq` is lost,
  // whatever DupThresh says, until clear_lost_below().
  void mark_lost_below(SeqNum seq) { lost_below_ = seq; }
  void clear_lost_below() { lost_below_.reset(); }
  bool empty() const { return ranges_.empty(); }

  bool is_sacked(SeqNum seq) const;
  std::uint32_t sacked_bytes() const;

  // RFC 6675 §4 IsLost: everything unSACKed below the returned boundary is lost, because at
  // least DupThresh ranges or (DupThresh - 1) * SMSS + 1 bytes are SACKed above it (the byte
  // form is RFC 6675's; the range count is a cheap stand-in for "discontiguous segments").
  std::optional<SeqNum> loss_boundary(std::uint32_t mss) const;
  bool is_lost(SeqNum seq, std::uint32_t mss) const;

  // RFC 6675 §4 SetPipe, in bytes: unSACKed bytes in [snd_una, snd_max) not judged lost, plus
  // lost ones already retransmitted (below high_rxt).
  std::uint32_t pipe(SeqNum snd_una, SeqNum snd_max, SeqNum high_rxt, std::uint32_t mss) const;

  // RFC 6675 §4 NextSeg rule 1: the first unSACKed, lost byte at or after `from`, and how many
  // bytes of that hole follow it (at most `max_len`).
  struct Hole {
    SeqNum start;
    std::uint32_t length;
  };
  std::optional<Hole> next_lost_hole(SeqNum from, SeqNum snd_max, std::uint32_t mss,
                                     std::uint32_t max_len) const;

  // The next SACKed range starting at or after `seq`, for skipping SACKed data on go-back-N.
  std::optional<std::pair<SeqNum, SeqNum>> sacked_range_at_or_after(SeqNum seq) const;
  // SACKed octets at or above `seq`.
  std::uint32_t sacked_bytes_above(SeqNum seq) const;

 private:
  struct Range {
    SeqNum left, right;
  };
  std::vector<Range> ranges_;  // sorted, disjoint, non-adjacent
  std::optional<SeqNum> lost_below_;
};

// Lost-retransmission detection during SACK recovery, as RFC 8985 §6.2 and Linux's
// tcp_mark_lost_retrans() do it: a retransmission is lost when data first sent *after* it
// is SACKed while the retransmitted range stays a hole. RFC 6675 alone never retransmits a
// range twice (NextSeg starts above HighRxt), so a lost retransmission waits for the RTO.
// Each record is one retransmitted segment; bounded by kMaxRecords (further ones go
// untracked and fall back on the RTO).
class RetransmitLog {
 public:
  static constexpr std::size_t kMaxRecords = 64;

  // [start, end) was retransmitted while SND.MAX was `snd_max`. Sending a range of a record
  // again restarts that record's judgment with the new SND.MAX.
  void on_retransmit(SeqNum start, SeqNum end, SeqNum snd_max);
  // After the scoreboard took an ACK: forgets records cumulatively ACKed or SACKed, and marks
  // lost those with more than (DupThresh - 1) * SMSS octets SACKed at or above the SND.MAX
  // they were sent at — the RFC 6675 IsLost margin, so reordering of up to DupThresh
  // segments does not count. Returns how many were newly marked lost.
  std::size_t update(SeqNum snd_una, const SackScoreboard& scoreboard, std::uint32_t mss);
  // The first lost record's range still unSACKed at or above SND.UNA, to be sent again.
  std::optional<SackScoreboard::Hole> next_lost(SeqNum snd_una,
                                                const SackScoreboard& scoreboard) const;
  // Octets of lost records not yet sent again: no longer in the network, so they leave the
  // RFC 6675 pipe (which counts everything below HighRxt as retransmitted and in flight).
  // Counted whole, SACKed parts included: an overestimate only when a record is partly
  // SACKed, which segment-sized records rarely are.
  std::uint32_t lost_bytes(SeqNum snd_una) const;
  void clear() { records_.clear(); }
  bool empty() const { return records_.empty(); }

 private:
  struct Record {
    SeqNum start, end;
    SeqNum sent_at_snd_max;
    bool lost = false;
  };
  std::vector<Record> records_;  // in order of sending
};

}  // namespace synack::tcp
