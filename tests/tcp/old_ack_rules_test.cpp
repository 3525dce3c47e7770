// SPDX-License-Identifier: MIT
// A pure ACK whose SEG.SEQ lies below RCV.NXT (connection_input.cpp, check_sequence()): its
// ACK field counts. The peer clamps the sequence number of its pure ACKs to the window it last
// heard of from us (Linux's tcp_acceptable_seq()), and we may have taken octets past that
// edge; refusing such ACKs deadlocked two slow readers with small buffers under loss until
// R2 (soak seed 7519, docs/reliability.md): each end dropped the ACKs that would have opened
// the other's window.
#include "harness.hpp"

namespace synack::tcp::test {
namespace {

class OldPureAck : public Harness {
 protected:
  // ESTABLISHED; we sent "0123456789" (L+1..L+11), not yet acknowledged; the peer sent us
  // "abcdef" (R+1..R+7), which we took and acknowledged.
  void setup() {
    establish_active();
    send("0123456789");
    expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "0123456789"});
    inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "abcdef"});
    EXPECT_EQ(receive_all(), "abcdef");
    fire_next_timer();  // the delayed ACK
    expect_tx({.flags = ACK, .seq = L + 11, .ack = R + 7});
    ASSERT_EQ(conn().status().rcv_nxt, R + 7);
  }
};

// The seed-7519 shape: the peer's ACK carries SEQ = R+3, below our RCV.NXT (R+7), and
// acknowledges all we sent. SND.UNA moves, nothing is retransmitted, nothing is answered.
TEST_F(OldPureAck, Below_RCV_NXT_its_ACK_field_is_processed) {
  setup();
  inject({.flags = ACK, .seq = R + 3, .ack = L + 11});
  expect_no_tx();
  EXPECT_EQ(conn().status().snd_una, L + 11);
  EXPECT_EQ(counters.drop_sequence_unacceptable, 0u);
  run_timers_until(now + 10s);  // no retransmission timer is left
  expect_no_tx();
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
  expect_state(State::Established);
}

// The ACK field still passes RFC 5961 §5: an ACK of unsent data in such a segment is refused.
TEST_F(OldPureAck, Below_RCV_NXT_an_ACK_of_unsent_data_is_still_refused) {
  setup();
  inject({.flags = ACK, .seq = R + 3, .ack = L + 500});
  expect_tx({.flags = ACK, .seq = L + 11, .ack = R + 7});
  EXPECT_EQ(counters.drop_ack_future, 1u);
  EXPECT_EQ(conn().status().snd_una, L + 1);
}

// Further below RCV.NXT than our receive buffer: no window of ours ever reached back there;
// unacceptable as RFC 9293 §3.10.7.4 says, answered with an ACK, and the ACK field ignored.
TEST_F(OldPureAck, Older_than_the_receive_buffer_is_unacceptable) {
  setup();
  inject({.flags = ACK, .seq = R + 7 - config.receive_buffer - 1, .ack = L + 11});
  expect_tx({.flags = ACK, .seq = L + 11, .ack = R + 7});
  EXPECT_EQ(counters.drop_sequence_unacceptable, 1u);
  EXPECT_EQ(conn().status().snd_una, L + 1);
}

// Only an ACK of new data: an old pure ACK that acknowledges nothing new is a delayed copy (a
// reordered one overtaken by data): dropped and answered as before, not counted as a DupAck.
TEST_F(OldPureAck, Below_RCV_NXT_an_ACK_of_nothing_new_stays_dropped) {
  setup();
  inject({.flags = ACK, .seq = R + 3, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 11, .ack = R + 7});
  EXPECT_EQ(counters.drop_sequence_unacceptable, 1u);
  EXPECT_EQ(counters.tcp_dup_acks, 0u);
}

// Only a pure ACK: an old segment with data is a duplicate, dropped and acknowledged (with a
// D-SACK when on), its ACK field ignored as RFC 9293 §3.10.7.4 says.
TEST_F(OldPureAck, Old_data_is_still_a_dropped_duplicate) {
  setup();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 11, .payload = "ab"});
  expect_tx({.flags = ACK, .seq = L + 11, .ack = R + 7});
  EXPECT_EQ(counters.drop_sequence_unacceptable, 1u);
  EXPECT_EQ(conn().status().snd_una, L + 1);
}

}  // namespace
}  // namespace synack::tcp::test
