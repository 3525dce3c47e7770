// SPDX-License-Identifier: MIT
// Found by fuzz_connection (issue 11 §6): a zero window with only our FIN outstanding. The
// retransmission timer hands over to the persist timer (RFC 9293 §3.8.6.1), whose probe
// computed the unsent octets as FIN sequence - SND.NXT: with the FIN already sent that is -1,
// read as 2^32 - 1, and the "probe" was a 1-octet data segment read from an empty send buffer
// (a null pointer; ASan SEGV in build_tcp_packet). The probe with nothing left to send is an
// ACK, as Linux's tcp_xmit_probe_skb.
#include "harness.hpp"

namespace synack::tcp::test {
namespace {

class PersistFin : public Harness {};

TEST_F(PersistFin, Zero_window_with_only_the_FIN_outstanding_probes_with_an_ACK_FIN_WAIT_1) {
  reach_fin_wait_1();  // our FIN is L+1, unacknowledged
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 0});  // window closes
  expect_no_tx();
  fire_next_timer();  // the retransmission timer: zero window, so the persist timer takes over
  expect_no_tx();
  for (int probe = 0; probe < 3; ++probe) {
    fire_next_timer();
    auto p = pop_tx();
    EXPECT_TRUE(p.payload.empty()) << describe(p);
    EXPECT_TRUE(p.has(ACK)) << describe(p);
    expect_no_tx();
  }
  expect_state(State::FinWait1);
  // The window opens: the ACK of the FIN completes the close as usual.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 2, .window = 1000});
  expect_state(State::FinWait2);
}

TEST_F(PersistFin, Zero_window_with_only_the_FIN_outstanding_probes_with_an_ACK_CLOSING) {
  reach_closing();
  inject({.flags = ACK, .seq = R + 2, .ack = L + 1, .window = 0});
  expect_no_tx();
  fire_next_timer();
  expect_no_tx();
  fire_next_timer();
  auto p = pop_tx();
  EXPECT_TRUE(p.payload.empty()) << describe(p);
  expect_no_tx();
  expect_state(State::Closing);
}

}  // namespace
}  // namespace synack::tcp::test
