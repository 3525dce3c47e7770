// SPDX-License-Identifier: MIT
// sim::model_transfer (the PFTK model with window, rate and reader bounds) and the time budget
// run_bulk holds a transfer to.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/bulk.hpp"
#include "sim/path_model.hpp"

namespace synack::sim {
namespace {

double s(Duration d) { return std::chrono::duration<double>(d).count(); }

TEST(PathModel, LosslessPathIsBoundByTheWindow) {
  PathModelInput in;
  in.bytes = 10'000'000;
  in.forward.delay = in.backward.delay = 25ms;  // RTT 50 ms
  in.window = 1'000'000;
  PathModel m = model_transfer(in);
  EXPECT_STREQ(m.bound, "window");
  EXPECT_NEAR(m.rtt_s, 0.05, 1e-9);
  EXPECT_NEAR(m.bytes_per_s, 1'000'000 / 1460.0 * 1460 / 0.05, 1);  // W / RTT
}

// PFTK (Padhye et al. 1998, eq. 31) at p = 1 %, RTT 100 ms, b = 2, T0 = 400 ms:
// 1 / (0.1 sqrt(4p/3) + 0.4 min(1, 3 sqrt(6p/8)) p (1 + 32p^2)) packets per second.
TEST(PathModel, LossyPathFollowsPftk) {
  PathModelInput in;
  in.bytes = 1'000'000;
  in.forward.delay = in.backward.delay = 50ms;
  in.forward.loss = 0.01;
  in.window = 16 << 20;
  PathModel m = model_transfer(in);
  const double p = 0.01;
  const double want = 1 / (0.1 * std::sqrt(4 * p / 3) +
                           0.4 * std::min(1.0, 3 * std::sqrt(6 * p / 8)) * p * (1 + 32 * p * p));
  EXPECT_STREQ(m.bound, "loss");
  EXPECT_NEAR(m.bytes_per_s / 1460, want, 1e-6);
  // Slower with more loss, by about 1/sqrt(p) at first.
  in.forward.loss = 0.04;
  EXPECT_LT(model_transfer(in).bytes_per_s, m.bytes_per_s / 1.9);
}

TEST(PathModel, RateAndReaderBound) {
  PathModelInput in;
  in.bytes = 1'000'000;
  in.window = 1 << 20;
  in.forward.rate_bps = 8'000'000;  // 1 MB/s on the wire
  PathModel m = model_transfer(in);
  EXPECT_STREQ(m.bound, "rate");
  EXPECT_NEAR(m.bytes_per_s, 1e6 * 1460 / 1500, 1);
  in.read_chunk = 1000;
  in.read_pause = 10ms;  // 100 kB/s
  m = model_transfer(in);
  EXPECT_STREQ(m.bound, "reader");
  EXPECT_NEAR(m.bytes_per_s, 100'000, 1e-6);
  EXPECT_GT(s(m.transfer), 10.0);
}

// run_bulk holds the transfer to budget_factor x the model + budget_slack: a budget nobody could
// meet fails the run as too slow (and stops it there); a fair one passes.
TEST(PathModel, RunBulkFailsARunBeyondItsBudget) {
  BulkOptions o;
  o.bytes = 2 << 20;
  o.link.delay = 20ms;
  o.link.loss = 0.02;
  o.budget_factor = 10;
  BulkResult fair = run_bulk(o);
  EXPECT_TRUE(fair.intact) << fair.failure;
  EXPECT_FALSE(fair.too_slow) << fair.failure;
  EXPECT_GT(fair.model_time.count(), 0);
  o.budget_factor = 0.01;
  o.budget_slack = 0s;
  BulkResult tight = run_bulk(o);
  EXPECT_TRUE(tight.too_slow);
  EXPECT_NE(tight.failure.find("too slow"), std::string::npos) << tight.failure;
  // Stopped at the budget (plus the close allowance: TIME-WAIT and a minute), not at the limit.
  EXPECT_LE(tight.total_time, tight.budget + 2 * TcpConfig{}.msl + 62s);
}

}  // namespace
}  // namespace synack::sim
