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
  // lie (RFC 2018 §4 / RFC 6675 §5.1 note) and are ignored; returns how many were ignored.
  std::size_t update(SeqNum snd_una, SeqNum snd_max, std::span<const wire::SackBlock> blocks);
  // SND.UNA moved: forget what is now cumulatively acknowledged.
  void advance(SeqNum snd_una);
  void clear() { ranges_.clear(); }
  bool empty() const { return ranges_.empty(); }

  bool is_sacked(SeqNum seq) const;
  std::uint32_t sacked_bytes() const;
  std::optional<SeqNum> highest_sacked() const;

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

 private:
  struct Range {
    SeqNum left, right;
  };
  std::vector<Range> ranges_;  // sorted, disjoint, non-adjacent
};

}  // namespace synack::tcp
