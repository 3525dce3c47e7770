// SPDX-License-Identifier: MIT
#include "tcp/sack_scoreboard.hpp"

#include <algorithm>

namespace synack::tcp {

SackScoreboard::UpdateResult SackScoreboard::update(SeqNum snd_una, SeqNum snd_max,
                                                    std::span<const wire::SackBlock> blocks) {
  const std::uint32_t before = sacked_bytes();
  std::size_t ignored = 0;
  for (const auto& b : blocks) {
    SeqNum left(b.left), right(b.right);
    // A block must lie above the cumulative ACK and within what we sent; a D-SACK (RFC 2883)
    // below SND.UNA carries no new information for recovery and is ignored too.
    if (right <= snd_una) continue;  // a D-SACK (RFC 2883): a duplicate, not a lie
    if (!(left < right) || left < snd_una || right > snd_max) {
      ++ignored;
      continue;
    }
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), left,
                               [](const Range& r, SeqNum l) { return r.right < l; });
    Range merged{left, right};
    auto last = it;
    while (last != ranges_.end() && last->left <= right) {
      merged.left = seq_min(merged.left, last->left);
      merged.right = seq_max(merged.right, last->right);
      ++last;
    }
    bool adds_range = it == last;
    if (adds_range && ranges_.size() >= kMaxRanges) {
      ++ignored;  // bounded: the oldest information is enough to recover
      continue;
    }
    it = ranges_.erase(it, last);
    ranges_.insert(it, merged);
  }
  return UpdateResult{ignored, sacked_bytes() - before};
}

void SackScoreboard::advance(SeqNum snd_una) {
  while (!ranges_.empty() && ranges_.front().right <= snd_una) ranges_.erase(ranges_.begin());
  if (!ranges_.empty() && ranges_.front().left < snd_una) ranges_.front().left = snd_una;
}

bool SackScoreboard::is_sacked(SeqNum seq) const {
  for (const auto& r : ranges_)
    if (r.left <= seq && seq < r.right) return true;
  return false;
}

std::uint32_t SackScoreboard::sacked_bytes() const {
  std::uint32_t n = 0;
  for (const auto& r : ranges_) n += static_cast<std::uint32_t>(r.right - r.left);
  return n;
}

std::optional<SeqNum> SackScoreboard::loss_boundary(std::uint32_t mss) const {
  std::uint32_t bytes = 0;
  std::uint32_t count = 0;
  // Highest range first. Not std::views::reverse: clang 14 (clang-tidy) cannot parse GCC 12's
  // <ranges>.
  for (auto it = ranges_.rbegin(); it != ranges_.rend(); ++it) {  // NOLINT(modernize-loop-convert)
    bytes += static_cast<std::uint32_t>(it->right - it->left);
    ++count;
    if (count >= kDupThresh || bytes > (kDupThresh - 1) * mss)
      return lost_below_ ? seq_max(*lost_below_, it->left) : it->left;
  }
  return lost_below_;
}

bool SackScoreboard::is_lost(SeqNum seq, std::uint32_t mss) const {
  auto boundary = loss_boundary(mss);
  return boundary && seq < *boundary && !is_sacked(seq);
}

std::uint32_t SackScoreboard::pipe(SeqNum snd_una, SeqNum snd_max, SeqNum high_rxt,
                                   std::uint32_t mss) const {
  SeqNum boundary = loss_boundary(mss).value_or(snd_una);
  std::uint32_t pipe = 0;
  SeqNum cursor = snd_una;
  auto add_hole = [&](SeqNum a, SeqNum b) {
    if (!(a < b)) return;
    // Part above the loss boundary: still believed in flight.
    SeqNum split = seq_min(seq_max(boundary, a), b);
    pipe += static_cast<std::uint32_t>(b - split);
    // Part below it: lost; counts again only once retransmitted.
    SeqNum rxt_end = seq_min(seq_max(high_rxt, a), split);
    pipe += static_cast<std::uint32_t>(rxt_end - a);
  };
  for (const auto& r : ranges_) {
    if (r.right <= cursor) continue;
    add_hole(cursor, seq_min(r.left, snd_max));
    cursor = seq_max(cursor, r.right);
  }
  add_hole(cursor, snd_max);
  return pipe;
}

std::optional<SackScoreboard::Hole> SackScoreboard::next_lost_hole(SeqNum from, SeqNum snd_max,
                                                                   std::uint32_t mss,
                                                                   std::uint32_t max_len) const {
  auto boundary = loss_boundary(mss);
  if (!boundary) return std::nullopt;
  SeqNum cursor = from;
  for (const auto& r : ranges_) {
    if (r.right <= cursor) continue;
    if (cursor < r.left) {
      SeqNum end = seq_min(seq_min(r.left, *boundary), snd_max);
      if (cursor < end)
        return Hole{cursor, std::min(max_len, static_cast<std::uint32_t>(end - cursor))};
      return std::nullopt;  // the next hole starts past the loss boundary
    }
    cursor = r.right;
    if (!(cursor < *boundary)) return std::nullopt;
  }
  // Above the last SACKed range: lost only below a boundary set by an RTO.
  SeqNum end = seq_min(*boundary, snd_max);
  if (cursor < end)
    return Hole{cursor, std::min(max_len, static_cast<std::uint32_t>(end - cursor))};
  return std::nullopt;
}

std::optional<std::pair<SeqNum, SeqNum>> SackScoreboard::sacked_range_at_or_after(
    SeqNum seq) const {
  for (const auto& r : ranges_)
    if (r.right > seq) return std::make_pair(seq_max(r.left, seq), r.right);
  return std::nullopt;
}

std::uint32_t SackScoreboard::sacked_bytes_above(SeqNum seq) const {
  std::uint32_t n = 0;
  for (const auto& r : ranges_)
    if (r.right > seq) n += static_cast<std::uint32_t>(r.right - seq_max(r.left, seq));
  return n;
}

void RetransmitLog::on_retransmit(SeqNum start, SeqNum end, SeqNum snd_max) {
  if (!(start < end)) return;
  for (auto& r : records_) {
    if (r.start <= start && start < r.end) {  // sent again: judge it from now on
      r.end = seq_max(r.end, end);
      r.sent_at_snd_max = snd_max;
      r.lost = false;
      return;
    }
  }
  if (records_.size() >= kMaxRecords) return;  // bounded: the RTO still covers it
  records_.push_back(Record{start, end, snd_max});
}

std::size_t RetransmitLog::update(SeqNum snd_una, const SackScoreboard& scoreboard,
                                  std::uint32_t mss) {
  std::size_t newly_lost = 0;
  std::erase_if(records_, [&](const Record& r) {
    if (r.end <= snd_una) return true;
    // Delivered if every octet above SND.UNA is SACKed.
    for (SeqNum s = seq_max(r.start, snd_una); s < r.end;) {
      auto sacked = scoreboard.sacked_range_at_or_after(s);
      if (!sacked || sacked->first != s) return false;
      s = sacked->second;
    }
    return true;
  });
  for (auto& r : records_) {
    if (r.lost) continue;
    // RFC 8985 §6.2: segments sent after the retransmission were delivered (SACKed) while
    // it was not; with the DupThresh margin of RFC 6675 §4 IsLost against reordering.
    if (scoreboard.sacked_bytes_above(r.sent_at_snd_max) > (SackScoreboard::kDupThresh - 1) * mss) {
      r.lost = true;
      ++newly_lost;
    }
  }
  return newly_lost;
}

std::optional<SackScoreboard::Hole> RetransmitLog::next_lost(
    SeqNum snd_una, const SackScoreboard& scoreboard) const {
  for (const auto& r : records_) {
    if (!r.lost) continue;
    SeqNum s = seq_max(r.start, snd_una);
    while (s < r.end) {
      auto sacked = scoreboard.sacked_range_at_or_after(s);
      if (!sacked || !(sacked->first < r.end))
        return SackScoreboard::Hole{s, static_cast<std::uint32_t>(r.end - s)};
      if (s < sacked->first)
        return SackScoreboard::Hole{s, static_cast<std::uint32_t>(sacked->first - s)};
      s = sacked->second;
    }
  }
  return std::nullopt;
}

std::uint32_t RetransmitLog::lost_bytes(SeqNum snd_una) const {
  std::uint32_t n = 0;
  for (const auto& r : records_)
    if (r.lost && snd_una < r.end)
      n += static_cast<std::uint32_t>(r.end - seq_max(r.start, snd_una));
  return n;
}

}  // namespace synack::tcp
