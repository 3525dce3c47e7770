// SPDX-License-Identifier: MIT
// Chaos: seeded random hostile networks (loss up to 30 %, reordering, duplication, corruption,
// delay, bandwidth limits, tiny and zero windows, both directions at once). Every byte must
// arrive exactly once and in order, both ends must reach CLOSED, nothing may hang.
// `synack soak --seeds N` runs the same generator for as many seeds as asked.
#include <gtest/gtest.h>

#include <cstdlib>

#include "sim/chaos.hpp"

using namespace synack;
using namespace synack::sim;

namespace chaos_test {

// CI runs this many seeds per shard (SYNACK_CHAOS_SEEDS overrides); 8 shards: 3,000 seeds.
std::uint64_t seeds_per_shard() {
  if (const char* env = std::getenv("SYNACK_CHAOS_SEEDS")) return std::strtoull(env, nullptr, 10);
  return 375;
}

// Seeds known to deliver everything intact but beyond their time budget: open findings, listed
// with their figures in docs/reliability.md. They must still deliver every byte and close; once
// one meets its budget, the test says so and it must leave this list.
// (393 left it with RACK, branch rack, 2026-12-02: 207.8 s -> within budget.)
bool known_too_slow(std::uint64_t /*seed*/) { return false; }

class Chaos : public ::testing::TestWithParam<int> {};

TEST_P(Chaos, EveryByteArrivesOnceInOrderAndBothEndsClose) {
  std::uint64_t n = seeds_per_shard();
  std::uint64_t first = static_cast<std::uint64_t>(GetParam()) * n + 1;
  for (std::uint64_t seed = first; seed < first + n; ++seed) {
    BulkOptions o = chaos_options(seed);
    BulkResult r = run_bulk(o);
    const bool slow_ok = known_too_slow(seed);
    EXPECT_TRUE(r.intact && !r.livelock && !r.watchdog && (slow_ok || !r.too_slow) &&
                (!r.hung || (slow_ok && r.too_slow)))
        << describe_chaos(o) << "\n  -> delivered " << r.delivered << "+" << r.reverse_delivered
        << ", failure: " << r.failure << " (replay: synack soak --seed " << seed << ")";
    if (slow_ok) {
      EXPECT_TRUE(r.too_slow) << "seed " << seed << " now meets its budget: take it off the "
                              << "known_too_slow list and docs/reliability.md";
      continue;
    }
    EXPECT_EQ(r.final_state[0], State::Closed) << describe_chaos(o);
    EXPECT_EQ(r.final_state[1], State::Closed) << describe_chaos(o);
  }
}

// Eight shards of 375 seeds: 3,000 random networks, run in parallel by ctest.
INSTANTIATE_TEST_SUITE_P(Seeds, Chaos, ::testing::Range(0, 8));

// Seeds beyond CI's range that once failed, replayed whole (docs/reliability.md, 2026-12-06):
// 111889 waited for ever in LAST-ACK against FIN-WAIT-2 (a stale zero window probed with a bare
// ACK that drew no answer; tests/tcp/persist_fin_test.cpp), 136049 in FIN-WAIT-2 against
// CLOSE-WAIT (the window reopened, full of a lost retransmission and a SACKed segment, with no
// retransmission timer left to repair it; RFC 6298 §5.1), 189931 and 167337 107 s and over
// 460 s on lossless paths (BBR ended rounds on rate samples without a rate;
// tests/tcp/bbr_state_test.cpp), 171518 both ends probing each other's "zero" window for ever
// (SEG.SEQ clamped below SND.WL1 by a window rounded back; tests/tcp/window_rounding_test.cpp),
// 344861 BBR paced to ~2 bytes/s by a slow reader's window (tests/tcp/bbr_rate_test.cpp).
class ChaosRegression : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(ChaosRegression, DeliversAndBothEndsClose) {
  BulkOptions o = chaos_options(GetParam());
  BulkResult r = run_bulk(o);
  EXPECT_TRUE(r.intact && !r.hung && !r.livelock && !r.too_slow)
      << describe_chaos(o) << "\n  -> failure: " << r.failure;
  EXPECT_EQ(r.final_state[0], State::Closed) << describe_chaos(o);
  EXPECT_EQ(r.final_state[1], State::Closed) << describe_chaos(o);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ChaosRegression,
                         ::testing::Values(111889u, 136049u, 167337u, 171518u, 189931u, 344861u));

TEST(ChaosCorruption, ChecksumCatchesEveryCorruptedSegment) {
  BulkOptions o;
  o.bytes = 256 * 1024;
  o.link.corrupt = 0.2;
  o.seed = 42;
  BulkResult r = run_bulk(o);
  EXPECT_TRUE(r.intact) << r.failure;
  EXPECT_GT(r.corrupted_dropped, 0u);
}

TEST(ChaosZeroWindow, SlowReaderForcesZeroWindowAndProbesReopenIt) {
  BulkOptions o;
  o.bytes = 64 * 1024;
  o.receive_buffer = 2048;
  o.read_chunk = 100;
  o.read_pause = 50ms;
  o.seed = 7;
  BulkResult r = run_bulk(o);
  EXPECT_TRUE(r.intact && !r.hung) << r.failure;
}

}  // namespace chaos_test
