// SPDX-License-Identifier: MIT
// One test per rule of RFC 9293 §3.10 (and RFC 5961, RFC 7323, RFC 2018) that is not a state
// transition: how a connection answers unacceptable segments, resets, option negotiation and
// half-close. Each test is named after its rule and asserts the segments sent, the state and
// the counter that moved.
#include "harness.hpp"

namespace synack::tcp::test {
namespace {

class Rfc : public Harness {
 protected:
  void to_syn_sent() {
    open_active();
    expect_tx({.flags = SYN, .seq = L});
  }
  void to_syn_received_passive(const wire::TcpOptions& peer_options) {
    open_passive();
    inject({.flags = SYN, .seq = R, .options = peer_options});
  }
};

wire::TcpOptions only_mss(std::uint16_t mss) {
  wire::TcpOptions o;
  o.mss = mss;
  return o;
}

// ---------------------------------------------------------------------------------------
// Resets (RFC 9293 §3.5.2, §3.10.7.1-3)

// §3.10.7.3 first: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit
// is set, if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST>".
TEST_F(Rfc, SynSent_unacceptable_ACK_is_answered_with_RST_at_SEG_ACK) {
  to_syn_sent();
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 100});  // SEG.ACK > SND.NXT
  expect_tx({.flags = RST, .seq = L + 100});
  inject({.flags = ACK, .seq = R, .ack = L});  // SEG.ACK =< ISS
  expect_tx({.flags = RST, .seq = L});
  inject({.flags = RST | ACK, .seq = R, .ack = L + 100});  // an RST is never answered
  expect_no_tx();
  expect_state(State::SynSent);
  EXPECT_EQ(counters.drop_syn_sent_bad_ack, 3u);
  EXPECT_EQ(counters.tcp_resets_sent, 2u);
}

// §3.10.7.3 second: "If the ACK was acceptable ... Otherwise (no ACK), drop the segment and
// return." (RFC 5961 §3.2 leaves SYN-SENT as is.)
TEST_F(Rfc, SynSent_RST_without_acceptable_ACK_is_dropped) {
  to_syn_sent();
  inject({.flags = RST, .seq = R});
  expect_no_tx();
  expect_state(State::SynSent);
  EXPECT_EQ(counters.drop_syn_sent_rst_unacceptable, 1u);
}

// §3.10.7.3 fifth: "If neither of the SYN or RST bits is set, then drop the segment".
TEST_F(Rfc, SynSent_segment_without_SYN_or_RST_is_dropped) {
  to_syn_sent();
  inject({.flags = ACK, .seq = R, .ack = L + 1, .payload = "early"});
  expect_no_tx();
  expect_state(State::SynSent);
  EXPECT_EQ(counters.drop_syn_sent_no_syn, 1u);
}

// §3.10.7.2 second: "Any acknowledgment is bad if it arrives on a connection still in the
// LISTEN state. An acceptable reset segment should be formed ... <SEQ=SEG.ACK><CTL=RST>".
TEST_F(Rfc, Listen_ACK_is_answered_with_RST_at_SEG_ACK) {
  open_passive();
  inject({.flags = ACK, .seq = R, .ack = L + 77});
  expect_tx({.flags = RST, .seq = L + 77});
  expect_state(State::Listen);
  EXPECT_EQ(counters.drop_listen_ack, 1u);
  EXPECT_EQ(counters.tcp_resets_sent, 1u);
}

// §3.10.7.2 first: "An incoming RST segment could not be valid ... It should be ignored."
TEST_F(Rfc, Listen_RST_is_ignored) {
  open_passive();
  inject({.flags = RST, .seq = R});
  inject({.flags = RST | ACK, .seq = R, .ack = L + 1});
  expect_no_tx();
  expect_state(State::Listen);
  EXPECT_EQ(counters.drop_listen_rst, 2u);
}

// §3.10.7.2 fourth: "Any other control or text-bearing segment (not containing SYN) must have
// an ACK and thus would be discarded by the ACK processing".
TEST_F(Rfc, Listen_segment_without_SYN_is_dropped) {
  open_passive();
  inject({.flags = FIN, .seq = R, .payload = "x"});
  expect_no_tx();
  expect_state(State::Listen);
  EXPECT_EQ(counters.drop_listen_other, 1u);
}

// §3.10.7.1: "If the incoming segment has the ACK bit set, the reset takes its sequence
// number from the ACK field of the segment: <SEQ=SEG.ACK><CTL=RST>".
TEST(RfcClosedPort, ResetFor_segment_with_ACK_is_RST_at_SEG_ACK) {
  auto payload = bytes_of("abc");
  Segment in;
  in.flags = ACK | PSH;
  in.seq = SeqNum(5000);
  in.ack = SeqNum(777);
  in.payload = payload;
  auto rst = Connection::reset_for(in);
  ASSERT_TRUE(rst.has_value());
  EXPECT_EQ(rst->flags, RST);
  EXPECT_EQ(rst->seq, SeqNum(777));
  EXPECT_TRUE(rst->payload.empty());
}

// §3.10.7.1: "If the ACK bit is off, sequence number zero is used,
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>" — SEG.LEN counts SYN and FIN.
TEST(RfcClosedPort, ResetFor_segment_without_ACK_is_RST_ACK_at_SEG_SEQ_plus_SEG_LEN) {
  Segment syn;
  syn.flags = SYN;
  syn.seq = SeqNum(0xffffffff);
  auto rst = Connection::reset_for(syn);
  ASSERT_TRUE(rst.has_value());
  EXPECT_EQ(rst->flags, RST | ACK);
  EXPECT_EQ(rst->seq, SeqNum(0));
  EXPECT_EQ(rst->ack, SeqNum(0)) << "SEG.SEQ + 1 wraps";

  auto payload = bytes_of("hello");
  Segment data_fin;
  data_fin.flags = FIN | PSH;
  data_fin.seq = SeqNum(100);
  data_fin.payload = payload;
  rst = Connection::reset_for(data_fin);
  ASSERT_TRUE(rst.has_value());
  EXPECT_EQ(rst->flags, RST | ACK);
  EXPECT_EQ(rst->ack, SeqNum(106)) << "5 bytes + FIN";
}

// §3.10.7.1: "An incoming segment containing a RST is discarded."
TEST(RfcClosedPort, ResetFor_RST_is_never_answered) {
  Segment in;
  in.flags = RST;
  EXPECT_FALSE(Connection::reset_for(in).has_value());
  in.flags = RST | ACK;
  EXPECT_FALSE(Connection::reset_for(in).has_value());
}

// A connection in CLOSED answers exactly as reset_for says.
TEST_F(Rfc, Closed_connection_answers_with_reset_for) {
  inject({.flags = ACK, .seq = R, .ack = L + 9});
  expect_tx({.flags = RST, .seq = L + 9});
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = RST | ACK, .seq = SeqNum(0), .ack = R + 1});
  inject({.flags = RST, .seq = R});
  expect_no_tx();
  expect_state(State::Closed);
  expect_no_transition();
}

// ---------------------------------------------------------------------------------------
// Synchronized states: the first checks of §3.10.7.4

// §3.10.7.4 first: "If an incoming segment is not acceptable, an acknowledgment should be sent
// in reply (unless the RST bit is set ...): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>". Acceptable
// means RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND or the last byte is in the window.
TEST_F(Rfc, Out_of_window_segment_is_answered_with_ACK_and_counted) {
  establish_active();
  const std::uint32_t wnd = conn().status().rcv_wnd;
  ASSERT_EQ(wnd, 65535u);
  // One byte just past the window: not acceptable.
  inject({.flags = ACK, .seq = R + 1 + wnd, .ack = L + 1, .payload = "x"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(counters.drop_sequence_unacceptable, 1u);
  // An old duplicate wholly before RCV.NXT: not acceptable either.
  inject({.flags = ACK, .seq = R - 9, .ack = L + 1, .payload = "old"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(counters.drop_sequence_unacceptable, 2u);
  EXPECT_EQ(conn().readable(), 0u);
  // The window's last byte is acceptable: stored out of order (and a duplicate ACK sent).
  inject({.flags = ACK, .seq = R + wnd, .ack = L + 1, .payload = "y"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(counters.drop_sequence_unacceptable, 2u);
  EXPECT_EQ(counters.tcp_out_of_order_segments, 1u);
  expect_state(State::Established);
}

// RFC 5961 §3.2 (RFC 9293 §3.10.7.4 second): an RST whose sequence number is in the window but
// not exactly RCV.NXT is answered with a challenge ACK and otherwise ignored; an RST outside
// the window is silently discarded.
TEST_F(Rfc, RST_in_window_but_not_at_RCV_NXT_gets_challenge_ACK) {
  establish_active();
  inject({.flags = RST, .seq = R + 11});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_state(State::Established);
  EXPECT_EQ(counters.tcp_challenge_acks, 1u);
  EXPECT_EQ(counters.drop_rst_in_window, 1u);
  inject({.flags = RST, .seq = R + 1 + 100000});
  expect_no_tx();
  expect_state(State::Established);
  EXPECT_EQ(counters.drop_rst_out_of_window, 1u);
  EXPECT_EQ(counters.tcp_challenge_acks, 1u);
  EXPECT_EQ(counters.tcp_resets_received, 0u);
}

// Follows Linux (tcp_reset_check()): after the peer's FIN, an RST at the FIN's own sequence
// number (RCV.NXT - 1) resets in CLOSE-WAIT, CLOSING and LAST-ACK — the <SEQ=SEG.ACK> answer
// of a peer whose application closed, to our data sent before its FIN arrived. Everywhere
// else RCV.NXT - 1 stays outside the window (RFC 5961 §3.2).
TEST_F(Rfc, Linux_RST_at_the_peers_FIN_resets_in_CLOSE_WAIT) {
  reach_close_wait();
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_transition(State::CloseWait, State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionReset);
  EXPECT_EQ(counters.tcp_resets_received, 1u);
  EXPECT_EQ(counters.drop_rst_out_of_window, 0u);
}

TEST_F(Rfc, Linux_RST_at_the_peers_FIN_resets_in_LAST_ACK) {
  reach_last_ack();
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_transition(State::LastAck, State::Closed);
  EXPECT_EQ(counters.tcp_resets_received, 1u);
}

TEST_F(Rfc, Linux_RST_at_the_peers_FIN_resets_in_CLOSING) {
  reach_closing();
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_transition(State::Closing, State::Closed);
  EXPECT_EQ(counters.tcp_resets_received, 1u);
}

// MUST-66 (RFC 9293 §3.4): RST is processed even when the receive window is zero — an RST at
// RCV.NXT of a connection whose buffer the application never reads.
TEST_F(Rfc, MUST_66_RST_is_processed_at_a_zero_window) {
  config.receive_buffer = 2048;
  establish_active();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = std::string(2048, 'z')});
  if (tx_pending() == 0) fire_next_timer();  // the delayed ACK
  auto full = pop_tx();
  ASSERT_EQ(full.ack, R + 1 + 2048);
  ASSERT_EQ(full.window, 0) << "the window is closed";
  inject({.flags = RST, .seq = R + 1 + 2048});
  expect_no_tx();
  expect_transition(State::Established, State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionReset);
}

// SHLD-2 (RFC 9293 §3.5.3): an RST carrying data is accepted as an RST.
TEST_F(Rfc, SHLD_2_RST_with_data_resets) {
  establish_active();
  inject({.flags = RST | ACK, .seq = R + 1, .ack = L + 1, .payload = "diagnostic text"});
  expect_no_tx();
  expect_transition(State::Established, State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionReset);
  EXPECT_EQ(counters.tcp_resets_received, 1u);
}

TEST_F(Rfc, RST_one_below_RCV_NXT_without_the_peers_FIN_is_discarded) {
  establish_active();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "x"});
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 2});
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_state(State::Established);
  EXPECT_EQ(counters.drop_rst_out_of_window, 1u);
}

// TIME-WAIT has the peer's FIN too, but nothing of ours is left for the peer to refuse.
TEST_F(Rfc, RST_at_the_peers_FIN_is_discarded_in_TIME_WAIT) {
  reach_time_wait();
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_state(State::TimeWait);
  EXPECT_EQ(counters.drop_rst_out_of_window, 1u);
}

// RFC 5961 §4.2 (RFC 9293 §3.10.7.4 fourth): a SYN in a synchronized state, wherever its
// sequence number, gets a challenge ACK; the connection is not reset.
TEST_F(Rfc, SYN_in_Established_gets_challenge_ACK) {
  establish_active();
  inject({.flags = SYN, .seq = R + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_state(State::Established);
  EXPECT_EQ(counters.tcp_challenge_acks, 1u);
  EXPECT_EQ(counters.drop_syn_synchronized, 1u);
  expect_no_transition();
}

// §3.10.7.4 fifth, ESTABLISHED: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT),
// then send an ACK, drop the segment, and return." The text is not delivered.
TEST_F(Rfc, ACK_for_unsent_data_is_answered_with_ACK_and_dropped) {
  establish_active();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 100, .payload = "zz"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_no_tx();
  EXPECT_EQ(counters.drop_ack_future, 1u);
  EXPECT_EQ(conn().status().snd_una, L + 1);
  EXPECT_EQ(conn().status().rcv_nxt, R + 1);
  EXPECT_EQ(conn().readable(), 0u);
}

// §3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return".
TEST_F(Rfc, Segment_without_ACK_flag_is_dropped) {
  establish_active();
  inject({.flags = PSH, .seq = R + 1, .payload = "abc"});
  expect_no_tx();
  EXPECT_EQ(counters.drop_no_ack_flag, 1u);
  EXPECT_EQ(conn().readable(), 0u);
  EXPECT_EQ(conn().status().rcv_nxt, R + 1);
  expect_state(State::Established);
}

// §3.3.1/§3.4: RCV.WND counts from RCV.NXT. After SYN-SENT learns the peer's IRS, the window
// is the one our SYN offered, from RCV.NXT — whatever the IRS. (An IRS far from 0 once left
// the acceptance window up to 2^31 wide.)
TEST_F(Rfc, Receive_window_after_SYN_ACK_counts_from_RCV_NXT) {
  const SeqNum irs(0x90000000);
  to_syn_sent();
  inject({.flags = SYN | ACK, .seq = irs, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = irs + 1, .window = 65535});
  EXPECT_EQ(conn().status().rcv_wnd, 65535u);
  inject({.flags = ACK, .seq = irs + 1 + 100000, .ack = L + 1, .payload = "far"});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = irs + 1});
  EXPECT_EQ(counters.drop_sequence_unacceptable, 1u);
}

// §3.8.6.2.2 receiver SWS avoidance: reading sends a window update only once the window can
// move right by min(buffer/2, MSS); a read that cannot widen the window sends nothing (an
// unchanged ACK would count as a duplicate ACK at the peer, RFC 5681 §2).
TEST_F(Rfc, Window_update_is_sent_only_when_reading_opens_the_window_enough) {
  config.receive_buffer = 4096;
  to_syn_sent();
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .window = 4096});
  const std::string chunk(1024, 'd');
  for (std::uint32_t i = 0; i < 4; ++i)
    inject({.flags = ACK, .seq = R + 1 + i * 1024, .ack = L + 1, .payload = chunk});
  // §3.8.6.3: an ACK for at least every second full-sized segment.
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 2049, .window = 2048});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 4097, .window = 0});
  std::vector<std::byte> small(100);
  auto r = receive(small);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 100u);
  expect_no_tx();  // 100 bytes of room < min(2048, 536)
  EXPECT_EQ(receive_all().size(), 3996u);
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 4097, .window = 4096});
  expect_no_tx();
}

// RFC 9293 §3.8.6.3 (SHLD-18 lets an ACK wait, never asks it to): a one-way flow of short
// pushed segments — the shape of a sender whose send buffer holds less than two segments, each
// one held by Nagle (§3.7.4) until the previous is ACKed. The first pushed segment waits for
// the delayed-ACK timer (it could be a request about to be answered); from the second with no
// reply of ours between, the read that empties the buffer sends the ACK at once (Linux:
// tcp_cleanup_rbuf, ICSK_ACK_PUSHED). Soak seed 75497: 118 s -> 0.57 s for 3.2 MB.
TEST_F(Rfc, Reading_pushed_text_of_a_one_way_flow_to_the_end_ACKs_at_once) {
  establish_active();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = std::string(832, 'a')});
  EXPECT_EQ(receive_all().size(), 832u);
  expect_no_tx();  // the first: maybe a request, its ACK waits for the reply
  fire_next_timer();
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 833});
  inject({.flags = ACK | PSH, .seq = R + 833, .ack = L + 1, .payload = std::string(1216, 'b')});
  expect_no_tx();  // not before the application has read it
  EXPECT_EQ(receive_all().size(), 1216u);
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 2049});
}

// The same two pushed segments with our reply between them: request and response, whose
// replies carry the ACKs; the second read sends nothing either.
TEST_F(Rfc, Reading_pushed_text_answered_by_a_reply_keeps_the_delayed_ACK) {
  establish_active();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "request 1"});
  EXPECT_EQ(receive_all(), "request 1");
  expect_no_tx();
  send("reply 1");
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 10, .payload = "reply 1"});
  inject({.flags = ACK | PSH, .seq = R + 10, .ack = L + 8, .payload = "request 2"});
  EXPECT_EQ(receive_all(), "request 2");
  expect_no_tx();
}

TEST_F(Rfc, Reading_sends_no_ACK_when_the_window_field_cannot_grow) {
  establish_active();  // 256 KiB buffer, no window scaling: the field is pinned at 65535
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "abc"});
  fire_next_timer();  // delayed ACK
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 4, .window = 65535});
  EXPECT_EQ(receive_all(), "abc");
  expect_no_tx();
}

// A SYN,ACK shows at most 65,535 octets (RFC 7323 §2.2) while the buffer holds 256 KiB: the
// first read of a short request finds the room already larger than the offered window, but
// did not make it so. No separate update (it would be one more segment per short connection;
// Linux sends none either); the ACK that carries our reply shows the whole window.
TEST_F(Rfc, Reading_after_a_SYN_limited_window_sends_no_separate_update) {
  open_passive();
  wire::TcpOptions opts;
  opts.window_scale = 7;
  inject({.flags = SYN, .seq = R, .options = opts});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1, .window = 65535});
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1});
  expect_state(State::Established);
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "GET / HTTP/1.1"});
  EXPECT_EQ(receive_all(), "GET / HTTP/1.1");
  expect_no_tx();
  send("HTTP/1.1 200 OK");
  auto reply =
      expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 15, .payload = "HTTP/1.1 200 OK"});
  EXPECT_EQ(reply.window, 262144 >> 3) << "the reply carries the whole 256 KiB window";
}

// The same with the MSS of a 65,520-byte MTU: the 65,455 bytes a SYN,ACK leaves after an
// 80-byte request are less than one MSS, yet the sender is not held back by them (its SWS rule
// waits only below half the largest window it was offered, §3.8.6.2.1), so no update follows
// the read. Its next segment is ACKed with the whole window the buffer has left.
TEST_F(Rfc, Reading_with_a_64KiB_MSS_updates_only_a_sender_that_waits) {
  config.mss = 65480;
  open_passive();
  wire::TcpOptions opts;
  opts.mss = 65480;
  opts.window_scale = 7;
  inject({.flags = SYN, .seq = R, .options = opts});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1, .window = 65535});
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1});
  const std::string request(80, 'r');  // curl's GET: 65,455 octets left, under one MSS
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = request});
  EXPECT_EQ(receive_all(), request);
  expect_no_tx();  // 65,455 octets still offered: the sender can send them
  const std::string rest(65535 - 80, 'x');
  inject({.flags = ACK, .seq = R + 81, .ack = L + 1, .payload = rest});
  // The window is used up: the ACK goes at once and shows what is left, rounded up (SHLD-14).
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1 + 65535});
  EXPECT_EQ(ack.window, (262144 - 65455 + 7) >> 3);
  // Reading the 65,455 octets cannot move the right edge by an MSS (receiver SWS avoidance,
  // §3.8.6.2.2), and the sender has 192 KiB offered: nothing to send.
  EXPECT_EQ(receive_all().size(), rest.size());
  expect_no_tx();
}

// The other side of that rule: when the sender has used up the window (here a 64 KiB buffer
// filled by a bulk sender), the read that frees an MSS of room sends the update at once.
TEST_F(Rfc, Reading_sends_the_update_that_reopens_a_closed_window) {
  config.receive_buffer = 65536;
  establish_active();
  const std::string chunk(536, 'x');
  std::uint32_t offset = 0;
  while (conn().status().rcv_wnd >= 536) {
    inject({.flags = ACK, .seq = R + 1 + offset, .ack = L + 1, .payload = chunk});
    offset += 536;
  }
  while (tx_pending() > 0) pop_tx();
  std::vector<std::byte> small(100);
  ASSERT_TRUE(receive(small).has_value());
  expect_no_tx();  // 100 octets cannot widen the window by an MSS (receiver SWS avoidance)
  std::vector<std::byte> part(600);
  ASSERT_TRUE(receive(part).has_value());
  auto update = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1 + offset});
  EXPECT_GE(update.window, 536u) << "the window reopened by more than one MSS";
}

// ---------------------------------------------------------------------------------------
// Options (RFC 9293 §3.7.1, RFC 7323, RFC 2018)

// §3.7.1 (MUST-15): "If an MSS Option is not received at connection setup, TCP
// implementations MUST assume a default send MSS of 536". Segments are cut at 536 bytes.
TEST_F(Rfc, MSS_is_536_when_the_peer_sends_none) {
  to_syn_sent();
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(conn().status().snd_mss, 536u);
  EXPECT_EQ(send(std::string(1000, 'a')), 1000u);
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = std::string(536, 'a')});
  expect_no_tx();  // Nagle (§3.7.4) holds the short rest while data is unacknowledged
  inject({.flags = ACK, .seq = R + 1, .ack = L + 537});
  expect_tx({.flags = ACK | PSH, .seq = L + 537, .ack = R + 1, .payload = std::string(464, 'a')});
}

// §3.7.1: the peer's MSS option bounds what we send (together with our own MSS).
TEST_F(Rfc, MSS_option_from_the_peer_is_used) {
  to_syn_sent();
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .options = only_mss(1000)});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(conn().status().snd_mss, 1000u);
  EXPECT_EQ(send(std::string(1200, 'b')), 1200u);
  auto first =
      expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = std::string(1000, 'b')});
  EXPECT_EQ(first.payload.size(), 1000u);
}

// RFC 7323 §2.2-2.3: "Window scaling is enabled only if both sides send the option"; the
// window of a SYN is never scaled, every later window field is shifted.
TEST_F(Rfc, Window_scale_is_used_when_both_sides_send_it) {
  open_active();
  auto syn = expect_tx({.flags = SYN, .seq = L});
  ASSERT_TRUE(syn.options.window_scale.has_value());
  EXPECT_EQ(*syn.options.window_scale, 3) << "256 KiB buffer needs shift 3";
  wire::TcpOptions peer;
  peer.window_scale = 2;
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 1000, .options = peer});
  auto st = conn().status();
  EXPECT_TRUE(st.window_scale);
  EXPECT_EQ(st.snd_wscale, 2);
  EXPECT_EQ(st.rcv_wscale, 3);
  EXPECT_EQ(st.snd_wnd, 1000u) << "the SYN,ACK's window is not scaled";
  // Our ACK advertises the whole 256 KiB buffer, shifted right by 3.
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .window = 262144 >> 3});
  EXPECT_EQ(conn().status().rcv_wnd, 262144u);
  // The peer's later window fields are shifted left by 2.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 1000});
  EXPECT_EQ(conn().status().snd_wnd, 4000u);
}

TEST_F(Rfc, Window_scale_is_not_used_when_the_peer_does_not_send_it) {
  to_syn_sent();
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 1000});
  auto st = conn().status();
  EXPECT_FALSE(st.window_scale);
  EXPECT_EQ(st.snd_wscale, 0);
  EXPECT_EQ(st.rcv_wscale, 0) << "our offered shift is dropped too";
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .window = 65535});
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 1000});
  EXPECT_EQ(conn().status().snd_wnd, 1000u);
}

TEST_F(Rfc, Window_scale_is_not_used_when_we_do_not_send_it) {
  config.window_scale = false;
  open_active();
  auto syn = expect_tx({.flags = SYN, .seq = L});
  EXPECT_FALSE(syn.options.window_scale.has_value());
  wire::TcpOptions peer;
  peer.window_scale = 7;
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 1000, .options = peer});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .window = 65535});
  EXPECT_FALSE(conn().status().window_scale);
  EXPECT_EQ(conn().status().snd_wscale, 0);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 1000});
  EXPECT_EQ(conn().status().snd_wnd, 1000u);
}

// RFC 7323 §2.2: a SYN,ACK carries the window scale option only if the SYN did.
TEST_F(Rfc, SYN_ACK_answers_window_scale_only_if_offered) {
  wire::TcpOptions peer;
  peer.window_scale = 5;
  to_syn_received_passive(peer);
  auto synack = expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  ASSERT_TRUE(synack.options.window_scale.has_value());
  EXPECT_EQ(*synack.options.window_scale, 3);
  EXPECT_EQ(conn().status().snd_wscale, 5);
}

TEST_F(Rfc, SYN_ACK_omits_window_scale_when_not_offered) {
  to_syn_received_passive({});
  auto synack = expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  EXPECT_FALSE(synack.options.window_scale.has_value());
  EXPECT_FALSE(conn().status().window_scale);
}

// RFC 7323 §3.2 and RFC 2018 §2: timestamps and SACK are used only when both sides offered
// them in the SYNs. Negotiated timestamps appear on every later segment (TSecr = TS.Recent)
// and come off the MSS (§3.7.1).
TEST_F(Rfc, Timestamps_and_SACK_are_negotiated_when_both_offer) {
  wire::TcpOptions peer;
  peer.sack_permitted = true;
  peer.timestamps = wire::Timestamps{500, 0};
  to_syn_received_passive(peer);
  wire::TcpOptions answer;
  answer.mss = 1460;
  answer.sack_permitted = true;
  answer.timestamps = wire::Timestamps{1000, 500};  // TSval = our 1 ms clock, TSecr = peer's
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1, .options = answer});
  auto st = conn().status();
  EXPECT_TRUE(st.sack);
  EXPECT_TRUE(st.timestamps);
  EXPECT_EQ(st.snd_mss, 536u - 12u) << "536 default minus the 12-byte timestamp option";
  wire::TcpOptions ack_ts;
  ack_ts.timestamps = wire::Timestamps{600, 1000};
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .options = ack_ts});
  expect_state(State::Established);
  advance(5ms);
  EXPECT_EQ(send("ts"), 2u);
  auto data = expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "ts"});
  ASSERT_TRUE(data.options.timestamps.has_value());
  EXPECT_EQ(data.options.timestamps->value, 1005u);
  EXPECT_EQ(data.options.timestamps->echo, 600u) << "TSecr echoes TS.Recent";
}

TEST_F(Rfc, Timestamps_and_SACK_are_not_used_when_the_peer_does_not_offer) {
  to_syn_received_passive({});
  wire::TcpOptions answer;
  answer.mss = 1460;
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1, .options = answer});
  EXPECT_FALSE(conn().status().sack);
  EXPECT_FALSE(conn().status().timestamps);
}

TEST_F(Rfc, Timestamps_and_SACK_are_not_used_when_we_do_not_offer) {
  config.sack = false;
  config.timestamps = false;
  open_active();
  auto syn = expect_tx({.flags = SYN, .seq = L});
  EXPECT_FALSE(syn.options.sack_permitted);
  EXPECT_FALSE(syn.options.timestamps.has_value());
  wire::TcpOptions peer;
  peer.sack_permitted = true;
  peer.timestamps = wire::Timestamps{500, 1000};
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .options = peer});
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_FALSE(ack.options.timestamps.has_value());
  EXPECT_FALSE(conn().status().sack);
  EXPECT_FALSE(conn().status().timestamps);
}

TEST_F(Rfc, SACK_alone_is_negotiated_without_timestamps) {
  to_syn_sent();
  wire::TcpOptions peer;
  peer.sack_permitted = true;
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .options = peer});
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_FALSE(ack.options.timestamps.has_value());
  EXPECT_TRUE(conn().status().sack);
  EXPECT_FALSE(conn().status().timestamps);
}

// ---------------------------------------------------------------------------------------
// Half-close (RFC 9293 §3.6: CLOSE means "I have no more to send")

// §3.10.7.4 seventh, FIN-WAIT-2: "Once in the ESTABLISHED state, it is possible to deliver
// segment data to user RECEIVE buffers" applies to FIN-WAIT-1/2 too; the data is acknowledged
// (here by the delayed-ACK timer, §3.8.6.3) and read with RECEIVE.
TEST_F(Rfc, Half_close_FinWait2_still_receives_and_acks_peer_data) {
  reach_fin_wait_2();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 2, .payload = "hello"});
  expect_state(State::FinWait2);
  EXPECT_TRUE(conn().take_events() & event::Readable);
  EXPECT_EQ(conn().next_deadline(), now + config.delayed_ack);
  const Instant arrived = now;
  fire_next_timer();
  EXPECT_EQ(now - arrived, 40ms);
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 6});
  EXPECT_EQ(counters.tcp_delayed_acks, 1u);
  EXPECT_EQ(receive_all(), "hello");
  expect_no_tx();
  // The peer finishes in turn.
  inject({.flags = FIN | ACK, .seq = R + 6, .ack = L + 2});
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 7});
  expect_transition(State::FinWait2, State::TimeWait);
}

// §3.10.2 SEND, CLOSE-WAIT: "Segmentize the buffer and send it." The peer's FIN closes only
// its direction.
TEST_F(Rfc, Half_close_CloseWait_can_still_send_data) {
  reach_close_wait();
  EXPECT_EQ(send("reply"), 5u);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 2, .payload = "reply"});
  inject({.flags = ACK, .seq = R + 2, .ack = L + 6});
  expect_no_tx();
  EXPECT_EQ(conn().status().snd_una, L + 6);
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 6, .ack = R + 2});
  expect_transition(State::CloseWait, State::LastAck);
  inject({.flags = ACK, .seq = R + 2, .ack = L + 7});
  expect_transition(State::LastAck, State::Closed);
  expect_state(State::Closed);
}

}  // namespace
}  // namespace synack::tcp::test
