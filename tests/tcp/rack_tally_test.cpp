// SPDX-License-Identifier: MIT
// tcp::Rack's per-ACK work rests on running counts (records lost, records retransmitted, octets
// in flight) and on the records being in send order while none was retransmitted. Random
// senders — new data, retransmissions of any range, ACKs with up to four SACK blocks (lying
// ones too), RACK passes, RTOs, reneging, undo — check after every step that the counts equal
// what the records say, that pipe(), lost_bytes() and next_lost() equal a walk over the
// records, and that no record RFC 8985 §6.2 step 5 would mark lost is left unmarked.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "tcp/rack.hpp"

namespace synack::tcp {
namespace rack_tally_test {

using std::chrono::microseconds;

struct Walk {
  std::uint32_t pipe = 0, lost = 0;
  std::optional<Rack::Hole> first_lost;
};

Walk walk(const Rack& rack, SeqNum una) {
  Walk w;
  for (const auto& r : rack.record_list()) {
    if (r.end <= una) continue;
    auto from = seq_max(r.start, una);
    auto len = static_cast<std::uint32_t>(r.end - from);
    if (r.lost && !r.sacked) {
      w.lost += len;
      if (!w.first_lost) w.first_lost = Rack::Hole{from, len};
    }
    if (!r.lost && !r.sacked) w.pipe += len;
  }
  return w;
}

bool sent_before(const Rack::Latest& latest, const Rack::Record& r) {
  if (latest.xmit != r.xmit) return latest.xmit > r.xmit;
  if (latest.order != r.order) return static_cast<std::int32_t>(latest.order - r.order) > 0;
  return r.end < latest.end;  // one transmission, split: sequence order (RFC 8985 §6.2)
}

void check(const Rack& rack, SeqNum una, const char* step, int seed, int i) {
  SCOPED_TRACE(testing::Message() << "seed " << seed << " step " << i << " after " << step);
  EXPECT_EQ(rack.tally(), rack.recount());
  Walk w = walk(rack, una);
  EXPECT_EQ(rack.pipe(una), w.pipe);
  EXPECT_EQ(rack.lost_bytes(una), w.lost);
  auto hole = rack.next_lost(una);
  ASSERT_EQ(hole.has_value(), w.first_lost.has_value());
  if (hole) {
    EXPECT_EQ(hole->start, w.first_lost->start);
    EXPECT_EQ(hole->length, w.first_lost->length);
  }
}

// What a run went through, so that a test can tell it reached the states it is about.
struct Seen {
  std::uint32_t lost = 0, retransmitted = 0;
  std::uint64_t coalesced = 0;
};

Seen run(int seed, std::uint32_t max_segment, int steps, std::uint32_t advance_one_in = 4) {
  Seen seen;
  std::mt19937 rng(static_cast<unsigned>(seed));
  auto pick = [&](std::uint32_t n) {
    return std::uniform_int_distribution<std::uint32_t>(0, n)(rng);
  };
  Rack rack;
  const SeqNum iss(0xfffff000u + static_cast<std::uint32_t>(seed));  // wraps soon
  SeqNum una = iss, nxt = iss;
  Instant now{};
  for (int i = 0; i < steps; ++i) {
    now += microseconds(pick(2000));
    std::uint32_t op = pick(99);
    std::uint32_t outstanding = static_cast<std::uint32_t>(nxt - una);
    if (op < 40 || outstanding == 0) {
      std::uint32_t len = 1 + pick(max_segment - 1);
      rack.on_send(nxt, nxt + len, now, false);
      nxt += len;
      check(rack, una, "new data", seed, i);
    } else if (op < 50) {
      SeqNum s = una + pick(outstanding - 1);
      std::uint32_t len = 1 + pick(static_cast<std::uint32_t>(nxt - s) - 1);
      rack.on_send(s, s + len, now, true);
      check(rack, una, "retransmission", seed, i);
    } else if (op < 80) {
      SeqNum ack = una + (pick(advance_one_in - 1) == 0 ? pick(outstanding) : 0);
      std::vector<std::pair<SeqNum, SeqNum>> sacks;
      std::uint32_t above = static_cast<std::uint32_t>(nxt - ack);
      for (std::uint32_t b = pick(4); b > 0 && above > 1; --b) {
        SeqNum left = ack + 1 + pick(above - 2);
        SeqNum right = left + 1 + pick(static_cast<std::uint32_t>(nxt - left) - 1);
        if (pick(9) == 0) std::swap(left, right);  // a lying block delivers nothing
        sacks.emplace_back(left, right);
      }
      rack.on_ack(ack, sacks, now, std::nullopt);
      una = ack;
      check(rack, una, "ack", seed, i);
      // Every record wholly under a (well-formed) block is SACKed; none is left below the ACK.
      for (const auto& r : rack.record_list()) {
        EXPECT_LT(ack, r.end);
        for (const auto& [l, rt] : sacks)
          if (l < rt && l <= r.start && r.end <= rt) {
            EXPECT_TRUE(r.sacked);
          }
      }
    } else if (op < 94) {
      auto reo = microseconds(pick(5000));
      rack.detect_loss(now, reo);
      check(rack, una, "detect_loss", seed, i);
      auto latest = rack.latest_delivered();
      auto rtt = rack.rtt();
      if (latest && rtt)
        for (const auto& r : rack.record_list())
          if (!r.sacked && !r.lost && sent_before(*latest, r)) {
            EXPECT_GT(r.xmit + *rtt + reo, now) << "§6.2 step 5: due, yet not marked lost";
          }
    } else if (op < 97) {
      rack.on_rto(una, now, microseconds(pick(5000)));
      check(rack, una, "on_rto", seed, i);
    } else if (op < 98) {
      rack.forget_sacks();
      check(rack, una, "forget_sacks", seed, i);
    } else {
      rack.clear_lost();
      check(rack, una, "clear_lost", seed, i);
    }
    seen.lost = std::max(seen.lost, rack.tally().lost);
    seen.retransmitted = std::max(seen.retransmitted, rack.tally().retransmitted);
    if (testing::Test::HasFailure()) break;
  }
  seen.coalesced = rack.coalesced();
  return seen;
}

TEST(RackTally, counts_equal_the_records_through_random_senders) {
  Seen most;
  for (int seed = 1; seed <= 40; ++seed) {
    Seen s = run(seed, 1500, 2000);
    most.lost = std::max(most.lost, s.lost);
    most.retransmitted = std::max(most.retransmitted, s.retransmitted);
  }
  EXPECT_GT(most.lost, 10u);
  EXPECT_GT(most.retransmitted, 10u);
}

// Small segments and many steps: past kMaxRecords (2,048), where new data merges into the
// last record.
TEST(RackTally, counts_hold_at_the_record_bound) {
  for (int seed = 1; seed <= 2; ++seed) EXPECT_GT(run(seed, 8, 12000, 2000).coalesced, 0u);
}

}  // namespace rack_tally_test
}  // namespace synack::tcp
