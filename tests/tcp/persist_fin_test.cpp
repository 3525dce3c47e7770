// SPDX-License-Identifier: MIT
// A zero window with only our FIN outstanding (RFC 9293 §3.8.6.1, MUST-36/MUST-37).
// Found by fuzz_connection (issue 11 §6): the probe computed the unsent octets as FIN
// sequence - SND.NXT: with the FIN already sent that is -1, read as 2^32 - 1, and the "probe"
// was a 1-octet data segment read from an empty send buffer (ASan SEGV in build_tcp_packet).
// Then found by the chaos soak (seed 111889, 2026-12-06): the probe that replaced it, a bare
// ACK at SND.NXT, is acceptable to the peer and draws no answer, so a zero window that was
// stale (an older zero-window ACK reordered behind the update that reopened it) was never
// learned to be open: LAST-ACK against FIN-WAIT-2 for ever. The probe is now the FIN itself.
// (Seed 136049, the retransmission timer after the window reopens, is replayed in
// tests/sim/chaos_test.cpp: it needs SACK recovery with the window full of what is in flight.)
#include "harness.hpp"

namespace synack::tcp::test {
namespace {

class PersistFin : public Harness {};

// The persist timer's probes, each the FIN at `fin` and nothing else.
void expect_fin_probes(Harness& h, SeqNum fin, int count) {
  for (int probe = 0; probe < count; ++probe) {
    h.fire_next_timer();
    auto p = h.pop_tx();
    EXPECT_TRUE(p.payload.empty()) << describe(p);
    EXPECT_TRUE(p.has(FIN)) << describe(p);
    EXPECT_TRUE(p.has(ACK)) << describe(p);
    EXPECT_EQ(p.seq, fin) << describe(p);
    h.expect_no_tx();
  }
}

TEST_F(PersistFin,
       RFC9293_3_8_6_1_zero_window_with_only_the_FIN_outstanding_probes_with_the_FIN_FIN_WAIT_1) {
  reach_fin_wait_1();  // our FIN is L+1, unacknowledged
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 0});  // window closes
  expect_no_tx();
  fire_next_timer();  // the retransmission timer: zero window, so the persist timer takes over
  expect_no_tx();
  expect_fin_probes(*this, L + 1, 3);
  expect_state(State::FinWait1);
  // The window opens: the ACK of the FIN completes the close as usual.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 2, .window = 1000});
  expect_state(State::FinWait2);
}

TEST_F(PersistFin,
       RFC9293_3_8_6_1_zero_window_with_only_the_FIN_outstanding_probes_with_the_FIN_CLOSING) {
  reach_closing();
  inject({.flags = ACK, .seq = R + 2, .ack = L + 1, .window = 0});
  expect_no_tx();
  fire_next_timer();
  expect_no_tx();
  expect_fin_probes(*this, L + 1, 1);
  expect_state(State::Closing);
}

// Soak seed 111889: the peer's window reopened, but an older zero-window ACK, reordered
// behind the update, closed it again for us. The peer answers nothing that is acceptable to
// it; the FIN is, when its window is open: it takes the FIN and the close completes.
TEST_F(
    PersistFin,
    RFC9293_3_8_6_1_a_stale_zero_window_in_LAST_ACK_is_probed_with_the_FIN_and_the_close_completes) {
  reach_last_ack();  // our FIN is L+1, unacknowledged; the peer's FIN was R+1
  inject({.flags = ACK, .seq = R + 2, .ack = L + 1, .window = 0});  // stale: the window is open
  expect_no_tx();
  fire_next_timer();  // retransmission timer -> persist timer
  expect_no_tx();
  expect_fin_probes(*this, L + 1, 1);
  // The peer's window was open all along: it takes the FIN and acknowledges it.
  inject({.flags = ACK, .seq = R + 2, .ack = L + 2, .window = 1000});
  expect_state(State::Closed);
}

// A peer whose window really is zero refuses the FIN (RFC 9293 §3.10.7.4) and answers with
// an ACK; the answer counts as one (MUST-37: no R2 while the peer answers), and the FIN goes
// again when the window opens.
TEST_F(PersistFin,
       RFC9293_3_8_6_1_MUST_37_a_FIN_probe_the_peer_answers_never_times_the_connection_out) {
  config.data_retries = 3;
  reach_fin_wait_1();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 0});
  fire_next_timer();  // -> persist
  expect_no_tx();
  for (int round = 0; round < 8; ++round) {
    expect_fin_probes(*this, L + 1, 1);
    inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 0});  // refused: still zero
    expect_no_tx();
  }
  expect_state(State::FinWait1);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 1000});  // the window opens
  // The FIN goes again (now, or at the retransmission timer the reopened window restarts).
  if (tx_pending() == 0) fire_next_timer();
  auto p = pop_tx();
  EXPECT_TRUE(p.has(FIN)) << describe(p);
  EXPECT_EQ(p.seq, L + 1) << describe(p);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 2, .window = 1000});
  expect_state(State::FinWait2);
}

}  // namespace
}  // namespace synack::tcp::test
