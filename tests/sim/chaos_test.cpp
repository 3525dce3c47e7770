// Chaos: seeded random hostile networks (loss up to 30 %, reordering, duplication, corruption,
// delay, bandwidth limits, tiny and zero windows, both directions at once). Every byte must
// arrive exactly once and in order, both ends must reach CLOSED, nothing may hang.
// `synack soak --seeds N` runs the same generator for as many seeds as asked.
#include <gtest/gtest.h>

#include <cstdlib>

#include "sim/chaos.hpp"

using namespace synack;
using namespace synack::sim;

namespace {

// CI runs this many seeds per shard (SYNACK_CHAOS_SEEDS overrides).
std::uint64_t seeds_per_shard() {
  if (const char* env = std::getenv("SYNACK_CHAOS_SEEDS")) return std::strtoull(env, nullptr, 10);
  return 75;
}

class Chaos : public ::testing::TestWithParam<int> {};

}  // namespace

TEST_P(Chaos, EveryByteArrivesOnceInOrderAndBothEndsClose) {
  std::uint64_t n = seeds_per_shard();
  std::uint64_t first = static_cast<std::uint64_t>(GetParam()) * n + 1;
  for (std::uint64_t seed = first; seed < first + n; ++seed) {
    BulkOptions o = chaos_options(seed);
    BulkResult r = run_bulk(o);
    EXPECT_TRUE(r.intact && !r.hung && !r.too_slow) << describe_chaos(o) << "\n  -> delivered " << r.delivered
                                     << "+" << r.reverse_delivered << ", failure: " << r.failure
                                     << " (replay: synack soak --seed " << seed << ")";
    EXPECT_EQ(r.final_state[0], State::Closed) << describe_chaos(o);
    EXPECT_EQ(r.final_state[1], State::Closed) << describe_chaos(o);
  }
}

// Four shards of 75 seeds: 300 random networks, run in parallel by ctest.
INSTANTIATE_TEST_SUITE_P(Seeds, Chaos, ::testing::Range(0, 4));

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
