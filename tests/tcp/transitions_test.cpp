// SPDX-License-Identifier: MIT
// One test per transition of RFC 9293 Figure 5 and of the further transitions §3.10.7
// defines, each scripted one segment at a time in virtual time. Every test asserts the exact
// segments sent (<SEQ><ACK><CTL> per §3.10), the transition taken and the state after it.
//
// Notation as in RFC 9293 §3.5: L is our ISS, R the peer's (harness.hpp); the peer sends no
// TCP options unless a test says so, so no timestamps appear on our non-SYN segments.
#include "harness.hpp"

namespace synack::tcp::test {
namespace {

class Transition : public Harness {};

// ---------------------------------------------------------------------------------------
// CLOSED

// Figure 5: CLOSED --passive OPEN / create TCB--> LISTEN
TEST_F(Transition, Closed_to_Listen_on_passive_open) {
  open_passive();
  expect_transition(State::Closed, State::Listen);
  expect_state(State::Listen);
  expect_no_tx();
  EXPECT_TRUE(conn().passive());
  EXPECT_FALSE(conn().next_deadline().has_value()) << "LISTEN runs no timer";
}

// Figure 5: CLOSED --active OPEN / create TCB, snd SYN--> SYN-SENT.
// §3.10.1: "A SYN segment of the form <SEQ=ISS><CTL=SYN> is sent. Set SND.UNA to ISS,
// SND.NXT to ISS+1". §3.7.1 MUST-14: the SYN carries our MSS; RFC 7323/2018 options offered.
TEST_F(Transition, Closed_to_SynSent_on_active_open) {
  open_active();
  wire::TcpOptions offered;
  offered.mss = 1460;
  offered.window_scale = 3;  // the smallest shift that advertises the 256 KiB buffer
  offered.sack_permitted = true;
  offered.timestamps = wire::Timestamps{1000, 0};  // 1 ms clock at t = 1 s; TSecr 0 in a SYN
  expect_tx({.flags = SYN, .seq = L, .window = 65535, .options = offered});
  expect_transition(State::Closed, State::SynSent);
  expect_state(State::SynSent);
  auto st = conn().status();
  EXPECT_EQ(st.iss, L);
  EXPECT_EQ(st.snd_una, L);
  EXPECT_EQ(st.snd_nxt, L + 1);
  EXPECT_EQ(conn().next_deadline(), now + 1s) << "RFC 6298 §2.1: initial RTO 1 s";
  EXPECT_EQ(counters.tcp_segments_out, 1u);
}

// ---------------------------------------------------------------------------------------
// LISTEN

// Figure 5: LISTEN --rcv SYN / snd SYN,ACK--> SYN-RECEIVED.
// §3.10.7.2: "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ ... <SEQ=ISS><ACK=RCV.NXT>
// <CTL=SYN,ACK> ... SND.NXT is set to ISS+1 and SND.UNA to ISS."
TEST_F(Transition, Listen_to_SynReceived_on_rcv_SYN) {
  open_passive();
  expect_transition(State::Closed, State::Listen);
  inject({.flags = SYN, .seq = R, .window = 1000});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  expect_transition(State::Listen, State::SynReceived);
  expect_state(State::SynReceived);
  auto st = conn().status();
  EXPECT_EQ(st.irs, R);
  EXPECT_EQ(st.rcv_nxt, R + 1);
  EXPECT_EQ(st.snd_una, L);
  EXPECT_EQ(st.snd_nxt, L + 1);
  EXPECT_EQ(st.snd_wnd, 1000u);
  EXPECT_EQ(counters.tcp_passive_opens, 1u);
}

// A listener's child (Connection::for_listener) is born in LISTEN and takes the same edge.
TEST_F(Transition, Listen_to_SynReceived_on_rcv_SYN_in_listener_child) {
  use_listener_child();
  expect_state(State::Listen);
  EXPECT_TRUE(conn().passive());
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  expect_transition(State::Listen, State::SynReceived);
  expect_no_transition();
}

// Figure 5: LISTEN --SEND / snd SYN--> SYN-SENT. §3.10.2 LISTEN: "change the connection from
// passive to active, select an ISS. Send a SYN segment". The data waits for ESTABLISHED.
TEST_F(Transition, Listen_to_SynSent_on_send) {
  open_passive();
  expect_transition(State::Closed, State::Listen);
  EXPECT_EQ(send("hello"), 5u);
  expect_tx({.flags = SYN, .seq = L});
  expect_no_tx();
  expect_transition(State::Listen, State::SynSent);
  EXPECT_FALSE(conn().passive());
  // The queued data goes out with the handshake's completion.
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1});
  expect_transition(State::SynSent, State::Established);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "hello"});
  expect_no_tx();
}

// Figure 5: LISTEN --CLOSE / delete TCB--> CLOSED. §3.10.4 LISTEN: "delete TCB, enter CLOSED".
TEST_F(Transition, Listen_to_Closed_on_close) {
  open_passive();
  expect_transition(State::Closed, State::Listen);
  close();
  expect_no_tx();
  expect_transition(State::Listen, State::Closed);
  expect_state(State::Closed);
  EXPECT_TRUE(conn().take_events() & event::Closed);
  // §3.10.7.1: now a segment is answered as for a closed port.
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = RST | ACK, .seq = SeqNum(0), .ack = R + 1});
}

// ---------------------------------------------------------------------------------------
// SYN-SENT

// Figure 5: SYN-SENT --rcv SYN / snd SYN,ACK--> SYN-RECEIVED (simultaneous open, Figure 7).
// §3.10.7.3 fourth: "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment
// <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send it."
TEST_F(Transition, SynSent_to_SynReceived_on_simultaneous_open) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  expect_transition(State::Closed, State::SynSent);
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  expect_transition(State::SynSent, State::SynReceived);
  expect_state(State::SynReceived);
  EXPECT_FALSE(conn().passive()) << "an active OPEN stays active in SYN-RECEIVED";
  EXPECT_EQ(conn().status().irs, R);
}

// Figure 5: SYN-SENT --rcv SYN,ACK / snd ACK--> ESTABLISHED. §3.10.7.3 fourth: "If SND.UNA >
// ISS (our SYN has been ACKed), change the connection state to ESTABLISHED, form an ACK
// segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
TEST_F(Transition, SynSent_to_Established_on_rcv_SYN_ACK) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  expect_transition(State::Closed, State::SynSent);
  advance(50ms);
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 1000});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_no_tx();
  expect_transition(State::SynSent, State::Established);
  expect_state(State::Established);
  auto st = conn().status();
  EXPECT_EQ(st.snd_una, L + 1);
  EXPECT_EQ(st.rcv_nxt, R + 1);
  EXPECT_EQ(st.snd_wnd, 1000u) << "RFC 7323 §2.2: the window of a SYN is never scaled";
  ASSERT_TRUE(st.srtt.has_value());
  EXPECT_EQ(*st.srtt, 50ms) << "RFC 6298 §2.2: first sample from the SYN";
  EXPECT_TRUE(conn().take_events() & event::Connected);
  EXPECT_EQ(counters.tcp_connections_established, 1u);
  EXPECT_FALSE(conn().next_deadline().has_value()) << "SYN acked: retransmission timer off";
}

// Figure 5: SYN-SENT --CLOSE / delete TCB--> CLOSED. §3.10.4 SYN-SENT: "Delete the TCB".
TEST_F(Transition, SynSent_to_Closed_on_close) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  expect_transition(State::Closed, State::SynSent);
  close();
  expect_no_tx();
  expect_transition(State::SynSent, State::Closed);
  expect_state(State::Closed);
  EXPECT_FALSE(conn().next_deadline().has_value());
  EXPECT_FALSE(conn().error().has_value());
}

// §3.10.7.3 second: "If the ACK was acceptable, then signal to the user 'error: connection
// reset', drop the segment, enter CLOSED state, delete TCB" (connection refused).
TEST_F(Transition, SynSent_to_Closed_on_RST_with_acceptable_ACK) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  expect_transition(State::Closed, State::SynSent);
  inject({.flags = RST | ACK, .seq = SeqNum(0), .ack = L + 1, .window = 0});
  expect_no_tx();
  expect_transition(State::SynSent, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionRefused);
  auto ev = conn().take_events();
  EXPECT_TRUE(ev & event::Reset);
  EXPECT_TRUE(ev & event::Closed);
  EXPECT_EQ(counters.tcp_resets_received, 1u);
  EXPECT_FALSE(conn().next_deadline().has_value());
}

// §3.8.3 R2 for a SYN (syn_retries, default 7) with RFC 6298 §5.5 backoff: the SYN goes out
// at t, t+1, t+3, t+7, ..., t+63 (intervals 1, 2, 4, ..., 32 s), then t+123 (64 s capped at
// rto_max = 60 s, RFC 6298 §2.5), then after one more RTO (60 s) CLOSED: 183 s in all, past
// MUST-23's 3 minutes.
TEST_F(Transition, SynSent_to_Closed_after_syn_retries_with_exponential_backoff) {
  ASSERT_EQ(config.syn_retries, 7);
  const Instant start = now;
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  expect_transition(State::Closed, State::SynSent);
  Instant last = start;
  Duration interval = config.rto_initial;
  for (int retry = 1; retry <= config.syn_retries; ++retry) {
    SCOPED_TRACE("retransmission " + std::to_string(retry));
    ASSERT_EQ(conn().next_deadline(), last + interval);
    advance(interval - 1us);
    EXPECT_EQ(run_timers_until(now), 0) << "nothing due 1 us before the RTO";
    expect_no_tx();
    fire_next_timer();
    EXPECT_EQ(now, last + interval);
    auto syn = expect_tx({.flags = SYN, .seq = L});
    EXPECT_TRUE(syn.retransmission);
    expect_state(State::SynSent);
    last = now;
    interval = std::min<Duration>(interval * 2, config.rto_max);
  }
  ASSERT_EQ(config.rto_max, 60s);
  EXPECT_EQ(now - start, 123s);
  fire_next_timer();
  EXPECT_EQ(now - start, 183s);
  EXPECT_GE(now - start, 180s);
  expect_no_tx();
  expect_transition(State::SynSent, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::TimedOut);
  EXPECT_EQ(counters.tcp_timeouts, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 8u);
  EXPECT_EQ(counters.tcp_retransmitted_segments, 7u);
  EXPECT_FALSE(conn().next_deadline().has_value());
}

// ---------------------------------------------------------------------------------------
// SYN-RECEIVED

// Figure 5: SYN-RECEIVED --rcv ACK of SYN--> ESTABLISHED. §3.10.7.4 fifth: "If SND.UNA <
// SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue processing with the
// variables SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK".
TEST_F(Transition, SynReceived_to_Established_on_rcv_ACK_of_SYN) {
  open_passive();
  expect_transition(State::Closed, State::Listen);
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  expect_transition(State::Listen, State::SynReceived);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 1234});
  expect_no_tx();
  expect_transition(State::SynReceived, State::Established);
  expect_state(State::Established);
  auto st = conn().status();
  EXPECT_EQ(st.snd_una, L + 1);
  EXPECT_EQ(st.snd_wnd, 1234u);
  EXPECT_TRUE(conn().take_events() & event::Connected);
  EXPECT_EQ(counters.tcp_connections_established, 1u);
  EXPECT_FALSE(conn().next_deadline().has_value());
}

// Figure 7 (simultaneous open), completed. The peer's SYN,ACK <SEQ=R><ACK=L+1> arrives in
// SYN-RECEIVED with RCV.NXT = R+1: by §3.10.7.4 first it is not acceptable (it ends before
// RCV.NXT) and is answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; the peer's own answer,
// an ACK of our SYN, then takes us to ESTABLISHED.
TEST_F(Transition, SynReceived_to_Established_after_simultaneous_open) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  // RFC 9293 Figure 7 line 6: the peer's SYN,ACK completes the open on this side at once.
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_state(State::Established);
  // The peer's own ACK (Figure 7 line 7) is then a plain duplicate: nothing to answer.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1});
  expect_no_tx();
  expect_transition(State::Closed, State::SynSent);
  expect_transition(State::SynSent, State::SynReceived);
  expect_transition(State::SynReceived, State::Established);
  expect_state(State::Established);
}

// Figure 5: SYN-RECEIVED --CLOSE / snd FIN--> FIN-WAIT-1. §3.10.4 SYN-RECEIVED: "If no SENDs
// have been issued and there is no pending data to send, then form a FIN segment and send
// it, and enter FIN-WAIT-1 state".
TEST_F(Transition, SynReceived_to_FinWait1_on_close) {
  open_passive();
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 1});
  expect_no_tx();
  expect_transition(State::Closed, State::Listen);
  expect_transition(State::Listen, State::SynReceived);
  expect_transition(State::SynReceived, State::FinWait1);
  expect_state(State::FinWait1);
  // The peer acknowledges the SYN and the FIN together: FIN-WAIT-2.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 2});
  expect_no_tx();
  expect_transition(State::FinWait1, State::FinWait2);
  expect_state(State::FinWait2);
}

// If the SYN,ACK is lost after a CLOSE in SYN-RECEIVED, the retransmission timer must resend
// the SYN,ACK (the head of the retransmission queue, RFC 6298 §5.4), then the FIN.
TEST_F(Transition, SynReceived_to_FinWait1_retransmits_the_SYN_ACK_first) {
  open_passive();
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 1});
  fire_next_timer();
  auto again = expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  EXPECT_TRUE(again.retransmission);
  expect_state(State::FinWait1);
  // The peer acknowledges the SYN only: the FIN, next in the queue, goes again.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1});
  auto fin = expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_TRUE(fin.retransmission);
  expect_state(State::FinWait1);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 2});
  expect_no_tx();
  expect_state(State::FinWait2);
}

// §3.10.7.4 second, SYN-RECEIVED: "If this connection was initiated with a passive OPEN
// (i.e., came from the LISTEN state), then return this connection to LISTEN state".
TEST_F(Transition, SynReceived_to_Listen_on_RST_passive) {
  open_passive();
  expect_transition(State::Closed, State::Listen);
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  expect_transition(State::Listen, State::SynReceived);
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_transition(State::SynReceived, State::Listen);
  expect_state(State::Listen);
  EXPECT_FALSE(conn().next_deadline().has_value()) << "the SYN,ACK is no longer retransmitted";
  EXPECT_EQ(counters.tcp_resets_received, 1u);
  // It is a listener again: a new SYN starts a new handshake.
  const SeqNum r2 = R + 100000;
  inject({.flags = SYN, .seq = r2});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = r2 + 1});
  expect_transition(State::Listen, State::SynReceived);
}

// §3.10.7.4 second, SYN-RECEIVED: "If this connection was initiated with an active OPEN
// (i.e., came from SYN-SENT state), then the connection was refused; signal the user
// 'connection refused' ... enter the CLOSED state and delete the TCB".
TEST_F(Transition, SynReceived_to_Closed_on_RST_after_simultaneous_open) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  expect_transition(State::Closed, State::SynSent);
  expect_transition(State::SynSent, State::SynReceived);
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_transition(State::SynReceived, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionRefused);
  EXPECT_FALSE(conn().next_deadline().has_value());
}

// §3.8.3 R2 for the SYN,ACK: after syn_retries backed-off retransmissions the half-open
// connection is given up (CLOSED), with intervals doubling from the initial RTO.
TEST_F(Transition, SynReceived_to_Closed_after_synack_retries) {
  config.syn_retries = 3;
  open_passive();
  inject({.flags = SYN, .seq = R});
  const Instant start = now;
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  expect_transition(State::Closed, State::Listen);
  expect_transition(State::Listen, State::SynReceived);
  std::vector<Duration> sent_at;
  for (int i = 0; i < 3; ++i) {
    fire_next_timer();
    auto s = expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
    EXPECT_TRUE(s.retransmission);
    sent_at.push_back(now - start);
  }
  EXPECT_EQ(sent_at, (std::vector<Duration>{1s, 3s, 7s})) << "intervals 1 s, 2 s, 4 s";
  expect_state(State::SynReceived);
  fire_next_timer();
  EXPECT_EQ(now - start, 15s);
  expect_no_tx();
  EXPECT_EQ(expect_transition(State::SynReceived, State::Closed).at, start + 15s);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::TimedOut);
  EXPECT_EQ(counters.tcp_timeouts, 1u);
}

// ---------------------------------------------------------------------------------------
// ESTABLISHED

// Figure 5: ESTABLISHED --CLOSE / snd FIN--> FIN-WAIT-1. §3.10.4 ESTABLISHED: "Queue this
// until all preceding SENDs have been segmentized, then form a FIN segment and send it."
TEST_F(Transition, Established_to_FinWait1_on_close) {
  establish_active();
  EXPECT_EQ(send("abc"), 3u);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "abc"});
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 4, .ack = R + 1});
  expect_no_tx();
  expect_transition(State::Established, State::FinWait1);
  expect_state(State::FinWait1);
  EXPECT_EQ(conn().status().snd_nxt, L + 5) << "the FIN occupies one sequence number";
  EXPECT_TRUE(conn().next_deadline().has_value()) << "data and FIN are being timed";
}

// Figure 5: ESTABLISHED --rcv FIN / snd ACK--> CLOSE-WAIT. §3.10.7.4 eighth: "advance
// RCV.NXT over the FIN, and send an acknowledgment for the FIN".
TEST_F(Transition, Established_to_CloseWait_on_rcv_FIN) {
  establish_active();
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 2});
  expect_no_tx();
  expect_transition(State::Established, State::CloseWait);
  expect_state(State::CloseWait);
  EXPECT_TRUE(conn().take_events() & event::PeerClosed);
  EXPECT_EQ(conn().status().rcv_nxt, R + 2);
  std::byte buf[8];
  auto r = receive(buf);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 0u) << "§3.10.3: end of stream after the peer's FIN";
}

// §3.10.7.4 second, ESTABLISHED: an RST at exactly RCV.NXT (RFC 5961 §3.2) -> "any
// outstanding RECEIVEs and SEND should receive 'reset' responses ... enter the CLOSED state".
TEST_F(Transition, Established_to_Closed_on_rcv_RST) {
  establish_active();
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_transition(State::Established, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionReset);
  EXPECT_TRUE(conn().take_events() & event::Reset);
  EXPECT_EQ(counters.tcp_resets_received, 1u);
  auto r = try_send("late");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::ConnectionReset);
}

// §3.10.7.4 second (RST in ESTABLISHED): text received and acknowledged before the RST stays
// readable, and RECEIVE reports the reset only once it has all been read. RFC 9293 says the
// queues "should be flushed"; this follows Linux (tcp_recvmsg() copies what the receive queue
// holds before it returns sk_err), so that a reader sees what the peer sent before it aborted.
TEST_F(Transition, Established_to_Closed_on_rcv_RST_keeps_received_text_readable_like_Linux) {
  establish_active();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 1, .payload = "hello"});
  inject({.flags = RST, .seq = R + 6});
  expect_state(State::Closed);
  while (tx_pending() > 0) pop_tx();  // the ACK of "hello", if it was not delayed
  EXPECT_TRUE(conn().take_events() & event::Reset);
  EXPECT_EQ(receive_all(), "hello");
  std::vector<std::byte> buf(16);
  auto r = receive(buf);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::ConnectionReset);
}

// §3.10.5 ABORT, ESTABLISHED: "Send a reset segment: <SEQ=SND.NXT><CTL=RST>". SND.NXT is past
// the unacknowledged data, not SND.UNA.
TEST_F(Transition, Established_to_Closed_on_abort_sends_RST_at_SND_NXT) {
  establish_active();
  EXPECT_EQ(send("hello"), 5u);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "hello"});
  abort();
  expect_tx({.flags = RST, .seq = L + 6});
  expect_no_tx();
  expect_transition(State::Established, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionAborted);
  EXPECT_EQ(counters.tcp_resets_sent, 1u);
  EXPECT_FALSE(conn().next_deadline().has_value());
}

// ---------------------------------------------------------------------------------------
// FIN-WAIT-1

// Figure 5: FIN-WAIT-1 --rcv ACK of FIN--> FIN-WAIT-2. §3.10.7.4 fifth, FIN-WAIT-1: "if the
// FIN segment is now acknowledged, then enter FIN-WAIT-2". An ACK of the data alone is not
// enough.
TEST_F(Transition, FinWait1_to_FinWait2_on_rcv_ACK_of_FIN) {
  establish_active();
  EXPECT_EQ(send("abc"), 3u);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "abc"});
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 4, .ack = R + 1});
  expect_transition(State::Established, State::FinWait1);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 4});
  expect_no_tx();
  expect_no_transition();
  expect_state(State::FinWait1);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 5});
  expect_no_tx();
  expect_transition(State::FinWait1, State::FinWait2);
  expect_state(State::FinWait2);
  EXPECT_FALSE(conn().next_deadline().has_value()) << "nothing left to retransmit";
}

// Figure 5: FIN-WAIT-1 --rcv FIN / snd ACK--> CLOSING (simultaneous close, Figure 13).
// §3.10.7.4 eighth: "If our FIN has been ACKed ... enter TIME-WAIT ...; otherwise, enter
// the CLOSING state."
TEST_F(Transition, FinWait1_to_Closing_on_rcv_FIN) {
  reach_fin_wait_1();
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 2});
  expect_no_tx();
  expect_transition(State::FinWait1, State::Closing);
  expect_state(State::Closing);
  EXPECT_TRUE(conn().take_events() & event::PeerClosed);
}

// §3.10.7.4 eighth, FIN-WAIT-1: "If our FIN has been ACKed (perhaps in this segment), then
// enter TIME-WAIT, start the time-wait timer, turn off the other timers". One FIN,ACK that
// acknowledges our FIN takes FIN-WAIT-1 straight to TIME-WAIT.
TEST_F(Transition, FinWait1_to_TimeWait_on_FIN_ACK_acking_our_FIN) {
  reach_fin_wait_1();
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 2});
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 2});
  expect_no_tx();
  expect_transition(State::FinWait1, State::TimeWait);
  expect_no_transition();
  expect_state(State::TimeWait);
  EXPECT_EQ(conn().next_deadline(), now + 2 * config.msl) << "only the 2 MSL timer runs";
}

// RFC 9293 §3.8.3 / RFC 6298 §5.5: the FIN is retransmitted with the timer doubling each
// time; after data_retries retransmissions the connection is closed (R2).
TEST_F(Transition, FinWait1_to_Closed_after_FIN_retransmissions_with_backoff) {
  config.data_retries = 4;
  reach_fin_wait_1();
  const Instant fin_at = now;
  // The handshake's RTT sample was 0 (no virtual time passed), so the RTO sits at its floor.
  const Duration rto = conn().status().rto;
  ASSERT_EQ(rto, config.rto_min);
  Instant last = fin_at;
  Duration interval = rto;
  for (int retry = 1; retry <= 4; ++retry) {
    SCOPED_TRACE("retransmission " + std::to_string(retry));
    fire_next_timer();
    EXPECT_EQ(now - last, interval);
    auto fin = expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 1});
    EXPECT_TRUE(fin.retransmission);
    expect_state(State::FinWait1);
    last = now;
    interval *= 2;
  }
  fire_next_timer();
  EXPECT_EQ(now - last, interval);
  expect_no_tx();
  expect_transition(State::FinWait1, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::TimedOut);
  EXPECT_EQ(counters.tcp_timeouts, 1u);
  EXPECT_EQ(conn().status().retransmits, 4u);
}

// RFC 9293 §3.8.3 (SHLD-11: R2 at least 100 s) with the defaults: data_retries = 22 and
// rto_max = 60 s (RFC 6298 §2.5) from the 200 ms floor — retransmissions 0.2, 0.6, 1.4, ...,
// 102.2 s (nine doublings), then every 60 s — give up 942.2 s after the data was first sent,
// about Linux's 924.6 s for tcp_retries2 = 15 with its 120 s maximum.
TEST_F(Transition, Established_to_Closed_after_R2_of_the_defaults_past_100s) {
  ASSERT_EQ(config.data_retries, 22);
  establish_active();
  ASSERT_EQ(conn().status().rto, config.rto_min);
  send("x");
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "x"});
  const Instant sent_at = now;
  int retransmissions = 0;
  while (conn().state() == State::Established && retransmissions <= 100) {
    fire_next_timer();
    if (conn().state() != State::Established) break;
    EXPECT_TRUE(pop_tx().retransmission);
    ++retransmissions;
    if (retransmissions == 9) {
      EXPECT_EQ(now - sent_at, 102200ms);
    }
    if (retransmissions == 10) {
      EXPECT_EQ(now - sent_at, 162200ms) << "capped at 60 s";
    }
  }
  EXPECT_EQ(retransmissions, 22);
  expect_transition(State::Established, State::Closed);
  EXPECT_EQ(conn().error(), Error::TimedOut);
  EXPECT_EQ(now - sent_at, 942200ms);
  EXPECT_GE(now - sent_at, 100s) << "SHLD-11";
}

// §3.10.7.4 second, FIN-WAIT-1: an RST at RCV.NXT closes the connection.
TEST_F(Transition, FinWait1_to_Closed_on_RST_at_RCV_NXT) {
  reach_fin_wait_1();
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_transition(State::FinWait1, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionReset);
}

// ---------------------------------------------------------------------------------------
// FIN-WAIT-2

// Figure 5: FIN-WAIT-2 --rcv FIN / snd ACK--> TIME-WAIT. §3.10.7.4 eighth, FIN-WAIT-2:
// "Enter the TIME-WAIT state. Start the time-wait timer, turn off the other timers."
TEST_F(Transition, FinWait2_to_TimeWait_on_rcv_FIN) {
  reach_fin_wait_2();
  advance(5s);
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 2});
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 2});
  expect_no_tx();
  expect_transition(State::FinWait2, State::TimeWait);
  expect_state(State::TimeWait);
  EXPECT_EQ(conn().next_deadline(), now + 60s) << "2 x MSL with MSL = 30 s";
}

// §3.10.7.4 second, FIN-WAIT-2.
TEST_F(Transition, FinWait2_to_Closed_on_RST_at_RCV_NXT) {
  reach_fin_wait_2();
  inject({.flags = RST, .seq = R + 1});
  expect_no_tx();
  expect_transition(State::FinWait2, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionReset);
}

// ---------------------------------------------------------------------------------------
// CLOSE-WAIT

// Figure 5: CLOSE-WAIT --CLOSE / snd FIN--> LAST-ACK.
TEST_F(Transition, CloseWait_to_LastAck_on_close) {
  reach_close_wait();
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 2});
  expect_no_tx();
  expect_transition(State::CloseWait, State::LastAck);
  expect_state(State::LastAck);
}

// §3.10.7.4 second, CLOSE-WAIT.
TEST_F(Transition, CloseWait_to_Closed_on_RST_at_RCV_NXT) {
  reach_close_wait();
  inject({.flags = RST, .seq = R + 2});
  expect_no_tx();
  expect_transition(State::CloseWait, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::ConnectionReset);
}

// ---------------------------------------------------------------------------------------
// CLOSING

// Figure 5: CLOSING --rcv ACK of FIN--> TIME-WAIT. §3.10.7.4 fifth, CLOSING: "if the ACK
// acknowledges our FIN, then enter the TIME-WAIT state; otherwise, ignore the segment."
TEST_F(Transition, Closing_to_TimeWait_on_rcv_ACK_of_FIN) {
  reach_closing();
  inject({.flags = ACK, .seq = R + 2, .ack = L + 1});  // acknowledges nothing new
  expect_no_tx();
  expect_no_transition();
  expect_state(State::Closing);
  inject({.flags = ACK, .seq = R + 2, .ack = L + 2});
  expect_no_tx();
  expect_transition(State::Closing, State::TimeWait);
  expect_state(State::TimeWait);
  EXPECT_EQ(conn().next_deadline(), now + 2 * config.msl);
}

// §3.10.7.4 second, CLOSING: "enter the CLOSED state, delete the TCB, and return."
TEST_F(Transition, Closing_to_Closed_on_RST_at_RCV_NXT) {
  reach_closing();
  inject({.flags = RST, .seq = R + 2});
  expect_no_tx();
  expect_transition(State::Closing, State::Closed);
  expect_state(State::Closed);
}

// ---------------------------------------------------------------------------------------
// LAST-ACK

// Figure 5: LAST-ACK --rcv ACK of FIN--> CLOSED. §3.10.7.4 fifth, LAST-ACK: "If our FIN is
// now acknowledged, delete the TCB, enter the CLOSED state, and return."
TEST_F(Transition, LastAck_to_Closed_on_rcv_ACK_of_FIN) {
  reach_last_ack();
  inject({.flags = ACK, .seq = R + 2, .ack = L + 2});
  expect_no_tx();
  expect_transition(State::LastAck, State::Closed);
  expect_state(State::Closed);
  EXPECT_FALSE(conn().error().has_value()) << "an orderly close";
  EXPECT_TRUE(conn().take_events() & event::Closed);
  EXPECT_FALSE(conn().next_deadline().has_value());
}

// §3.10.7.4 second, LAST-ACK.
TEST_F(Transition, LastAck_to_Closed_on_RST_at_RCV_NXT) {
  reach_last_ack();
  inject({.flags = RST, .seq = R + 2});
  expect_no_tx();
  expect_transition(State::LastAck, State::Closed);
  expect_state(State::Closed);
}

// The FIN of LAST-ACK is retransmitted with backoff and given up after data_retries.
TEST_F(Transition, LastAck_to_Closed_after_FIN_retransmissions_with_backoff) {
  config.data_retries = 3;
  reach_last_ack();
  const Duration rto = conn().status().rto;
  Instant last = now;
  Duration interval = rto;
  for (int retry = 1; retry <= 3; ++retry) {
    SCOPED_TRACE("retransmission " + std::to_string(retry));
    fire_next_timer();
    EXPECT_EQ(now - last, interval);
    auto fin = expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 2});
    EXPECT_TRUE(fin.retransmission);
    expect_state(State::LastAck);
    last = now;
    interval *= 2;
  }
  fire_next_timer();
  EXPECT_EQ(now - last, interval);
  expect_no_tx();
  expect_transition(State::LastAck, State::Closed);
  expect_state(State::Closed);
  EXPECT_EQ(conn().error(), Error::TimedOut);
}

// ---------------------------------------------------------------------------------------
// TIME-WAIT

// Figure 5: TIME-WAIT --Timeout=2MSL / delete TCB--> CLOSED. Not a microsecond early.
TEST_F(Transition, TimeWait_to_Closed_after_2MSL) {
  reach_time_wait();
  const Instant entered = now;
  EXPECT_EQ(run_timers_until(entered + 2 * config.msl - 1us), 0);
  expect_state(State::TimeWait);
  call_on_timer();  // an early call does nothing
  expect_state(State::TimeWait);
  EXPECT_EQ(run_timers_until(entered + 2 * config.msl), 1);
  EXPECT_EQ(now, entered + 60s);
  expect_no_tx();
  expect_transition(State::TimeWait, State::Closed);
  expect_state(State::Closed);
  EXPECT_FALSE(conn().error().has_value());
  EXPECT_FALSE(conn().next_deadline().has_value());
}

// §3.10.7.4 eighth, TIME-WAIT: "The only thing that can arrive in this state is a
// retransmission of the remote FIN. Acknowledge it, and restart the 2 MSL timeout."
TEST_F(Transition, TimeWait_retransmitted_FIN_is_reacked_and_restarts_timer) {
  reach_time_wait();
  const Instant entered = now;
  advance(10s);
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 2});
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 2});
  expect_no_tx();
  expect_state(State::TimeWait);
  EXPECT_EQ(counters.tcp_time_wait_reacks, 1u);
  EXPECT_EQ(conn().next_deadline(), entered + 70s);
  EXPECT_EQ(run_timers_until(entered + 70s - 1us), 0);
  expect_state(State::TimeWait);
  EXPECT_EQ(run_timers_until(entered + 70s), 1);
  expect_transition(State::TimeWait, State::Closed);
  expect_state(State::Closed);
}

// §3.10.7.4 second, TIME-WAIT: "If the RST bit is set, then enter the CLOSED state, delete
// the TCB, and return."
TEST_F(Transition, TimeWait_to_Closed_on_RST_at_RCV_NXT) {
  reach_time_wait();
  inject({.flags = RST, .seq = R + 2});
  expect_no_tx();
  expect_transition(State::TimeWait, State::Closed);
  expect_state(State::Closed);
  EXPECT_FALSE(conn().next_deadline().has_value());
}

}  // namespace
}  // namespace synack::tcp::test
