// SPDX-License-Identifier: MIT
// Stack::close makes the connection an orphan (tcp::Connection::set_orphaned): the stack
// finishes the close alone and, as Linux does, does not wait for ever on a peer that never
// sends its FIN (TcpConfig::orphan_fin_timeout). A connection the application still holds
// after shutdown_write() waits as long as the peer likes.
#include <gtest/gtest.h>

#include <chrono>

#include "synack/stack.hpp"
#include "two_stacks.hpp"

namespace synack {
namespace orphan_close_test {

using two_stacks::kA;
using two_stacks::kB;

using Pair = two_stacks::Wire;

TEST(OrphanClose, A_closed_connection_whose_peer_never_sends_FIN_is_gone_after_60s) {
  Pair p;
  auto listener = p.b.listen({kB, 80}, p.now);
  ASSERT_TRUE(listener);
  auto c = p.a.connect({kB, 80}, p.now);
  ASSERT_TRUE(c);
  p.shuttle();
  auto s = p.b.accept(*listener);
  ASSERT_TRUE(s);
  ASSERT_TRUE(p.a.close(*c, p.now));  // FIN-WAIT-1, then FIN-WAIT-2 once b ACKs
  p.shuttle();
  EXPECT_EQ(p.b.state(*s), State::CloseWait);  // b's application never closes
  ASSERT_EQ(p.a.connection_count(), 1u);
  p.run_until(p.now + 59s);
  EXPECT_EQ(p.a.connection_count(), 1u) << "still in FIN-WAIT-2 before tcp_fin_timeout";
  p.run_until(p.now + 2s);
  EXPECT_EQ(p.a.connection_count(), 0u);
  EXPECT_EQ(p.a.counters().tcp_orphan_timeouts, 1u);
  EXPECT_EQ(p.b.state(*s), State::CloseWait);
}

TEST(OrphanClose, A_half_closed_connection_still_held_waits_for_the_peer) {
  Pair p;
  auto listener = p.b.listen({kB, 80}, p.now);
  auto c = p.a.connect({kB, 80}, p.now);
  p.shuttle();
  auto s = p.b.accept(*listener);
  ASSERT_TRUE(s);
  ASSERT_TRUE(p.a.shutdown_write(*c, p.now));
  p.shuttle();
  EXPECT_EQ(p.a.state(*c), State::FinWait2);
  p.run_until(p.now + std::chrono::hours(1));
  EXPECT_EQ(p.a.state(*c), State::FinWait2);
  EXPECT_EQ(p.a.counters().tcp_orphan_timeouts, 0u);
}

}  // namespace orphan_close_test
}  // namespace synack
