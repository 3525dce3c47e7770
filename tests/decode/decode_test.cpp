// SPDX-License-Identifier: MIT
// synack decode: passive inference of both ends' RFC 9293 states from segments on the wire.
// Synthetic segment sequences for every case the observer must handle, the link layers of the
// pcap reader, and a synack scenario captured with --pcap decoded back to the states the two
// stacks recorded themselves. (Captures of the Linux kernel's TCP: decode_kernel_test.cpp.)
#include "decode/decode.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "sim/scenarios.hpp"
#include "synack/pcap.hpp"
#include "tcp/transitions.hpp"
#include "wire/packet.hpp"

using namespace synack;
using namespace synack::cli;
using namespace synack::capture;
using namespace synack::decode;
using namespace synack::sim;
using namespace synack::observe;
using wire::tcp_flag::ACK;
using wire::tcp_flag::FIN;
using wire::tcp_flag::PSH;
using wire::tcp_flag::RST;
using wire::tcp_flag::SYN;

namespace {

constexpr int C = 0;  // client
constexpr int S = 1;  // server
using V = std::vector<State>;

// A conversation scripted segment by segment with numbers relative to each end's ISN.
struct Script {
  wire::Endpoint ends[2] = {{wire::IpAddress::v4(198, 18, 0, 1), 40000},
                            {wire::IpAddress::v4(198, 18, 0, 2), 80}};
  std::uint32_t isn[2] = {1'000'000, 4'000'000'000u};  // the server's wraps past 2^32
  std::int64_t now_us = 1'000'000;
  std::vector<WireSegment> segments;

  // Adds a segment `dt_us` after the previous one.
  Script& seg(int from, std::uint8_t flags, std::uint32_t rel_seq, std::uint32_t rel_ack,
              std::uint32_t len = 0, std::uint16_t window = 1000, std::int64_t dt_us = 100) {
    now_us += dt_us;
    WireSegment s;
    s.frame = segments.size() + 1;
    s.time_us = now_us;
    s.src = ends[from];
    s.dst = ends[1 - from];
    s.tcp.src_port = s.src.port;
    s.tcp.dst_port = s.dst.port;
    s.tcp.seq = isn[from] + rel_seq;
    s.tcp.ack = (flags & ACK) ? isn[1 - from] + rel_ack : 0;
    s.tcp.flags = flags;
    s.tcp.window = window;
    if (flags & SYN) s.tcp.options.mss = 1460;
    s.payload_length = len;
    segments.push_back(s);
    return *this;
  }
  Script& handshake() { return seg(C, SYN, 0, 0).seg(S, SYN | ACK, 0, 1).seg(C, ACK, 1, 1); }
  DecodedConnection decode() const { return analyze_connection(segments); }
};

// The states one end passed through (not counting its initial state).
V path(const DecodedConnection& c, int side) {
  V out;
  for (const auto& row : c.segments)
    for (const auto& ch : row.changes)
      if (ch.side == side) out.push_back(ch.to);
  return out;
}

std::pair<State, State> after(const DecodedConnection& c, std::size_t row) {
  return {c.segments.at(row).state_after[0], c.segments.at(row).state_after[1]};
}
using P = std::pair<State, State>;

bool has_note(const DecodedSegment& row, const std::string& text) {
  for (const auto& n : row.notes)
    if (n.find(text) != std::string::npos) return true;
  return false;
}
bool has_violation(const DecodedSegment& row, const std::string& text) {
  for (const auto& v : row.violations)
    if (v.find(text) != std::string::npos) return true;
  return false;
}
int violations(const DecodedConnection& c) { return c.counts.violations; }

}  // namespace

// --- the observer state machine, case by case -------------------------------------------------

TEST(Decode, NormalOpenDataAndCloseGiveEveryStateOfBothEnds) {
  Script s;
  s.handshake()
      .seg(C, PSH | ACK, 1, 1, 100)    // 3 request
      .seg(S, ACK, 1, 101)             // 4
      .seg(S, PSH | ACK, 1, 101, 300)  // 5 answer
      .seg(C, ACK, 101, 301)           // 6
      .seg(C, FIN | ACK, 101, 301)     // 7 client closes first
      .seg(S, ACK, 301, 102)           // 8
      .seg(S, FIN | ACK, 301, 102)     // 9
      .seg(C, ACK, 102, 302);          // 10
  auto c = s.decode();
  EXPECT_FALSE(c.mid_stream);
  EXPECT_EQ(c.ends[0], s.ends[0]);
  EXPECT_EQ(c.initial[C], State::Closed);
  EXPECT_EQ(c.initial[S], State::Listen);
  EXPECT_EQ(after(c, 0), P(State::SynSent, State::SynReceived));
  EXPECT_EQ(after(c, 1), P(State::Established, State::SynReceived));
  EXPECT_EQ(after(c, 2), P(State::Established, State::Established));
  EXPECT_EQ(after(c, 7), P(State::FinWait1, State::CloseWait));
  EXPECT_EQ(after(c, 8), P(State::FinWait2, State::CloseWait));
  EXPECT_EQ(after(c, 9), P(State::TimeWait, State::LastAck));
  EXPECT_EQ(after(c, 10), P(State::TimeWait, State::Closed));
  EXPECT_EQ(path(c, C), (V{State::SynSent, State::Established, State::FinWait1, State::FinWait2,
                           State::TimeWait}));
  EXPECT_EQ(path(c, S), (V{State::SynReceived, State::Established, State::CloseWait, State::LastAck,
                           State::Closed}));
  // TIME-WAIT's 2 MSL is beyond the capture: it is the final state, and said so.
  EXPECT_EQ(c.final_state[C], State::TimeWait);
  EXPECT_EQ(violations(c), 0);
  EXPECT_EQ(c.counts.retransmissions, 0);
  // Relative numbers from each end's ISN (the server's wraps around 2^32).
  EXPECT_EQ(c.segments[5].seq, 1u);
  EXPECT_EQ(c.segments[5].ack, 101u);
  EXPECT_EQ(c.segments[10].ack, 302u);
}

TEST(Decode, FinAckShortcutTakesTheClosingEndStraightToTimeWait) {
  Script s;
  s.handshake().seg(C, FIN | ACK, 1, 1).seg(S, FIN | ACK, 1, 2).seg(C, ACK, 2, 2);
  auto c = s.decode();
  EXPECT_EQ(after(c, 3), P(State::FinWait1, State::CloseWait));
  // The server's FIN acknowledges the client's: ACK of FIN then FIN, in one segment.
  EXPECT_EQ(after(c, 4), P(State::TimeWait, State::LastAck));
  EXPECT_EQ(after(c, 5), P(State::TimeWait, State::Closed));
  EXPECT_EQ(path(c, C), (V{State::SynSent, State::Established, State::FinWait1, State::FinWait2,
                           State::TimeWait}));
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, SimultaneousOpenPassesSynReceivedOnBothEnds) {
  Script s;
  s.ends[1].port = 5002;
  s.seg(C, SYN, 0, 0).seg(S, SYN, 0, 0).seg(C, SYN | ACK, 0, 1).seg(S, SYN | ACK, 0, 1);
  auto c = s.decode();
  EXPECT_EQ(c.initial[S], State::Closed);
  for (int side : {C, S})
    EXPECT_EQ(path(c, side), (V{State::SynSent, State::SynReceived, State::Established})) << side;
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, SimultaneousCloseGoesThroughClosingOnBothEnds) {
  Script s;
  s.handshake()
      .seg(C, FIN | ACK, 1, 1)
      .seg(S, FIN | ACK, 1, 1)  // crossed: does not acknowledge the client's FIN
      .seg(C, ACK, 2, 2)
      .seg(S, ACK, 2, 2);
  auto c = s.decode();
  for (int side : {C, S}) {
    V p = path(c, side);
    ASSERT_GE(p.size(), 3u);
    EXPECT_EQ(V(p.end() - 3, p.end()), (V{State::FinWait1, State::Closing, State::TimeWait}))
        << side;
  }
  EXPECT_EQ(c.final_state[C], State::TimeWait);
  EXPECT_EQ(c.final_state[S], State::TimeWait);
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, HalfCloseKeepsTheClientInFinWait2WhileTheServerSends) {
  Script s;
  s.handshake()
      .seg(C, PSH | FIN | ACK, 1, 1, 12)  // request and FIN together
      .seg(S, ACK, 1, 14)
      .seg(S, ACK, 1, 14, 1000)
      .seg(S, ACK, 1001, 14, 1000)
      .seg(C, ACK, 14, 2001)
      .seg(S, PSH | ACK, 2001, 14, 500)
      .seg(S, FIN | ACK, 2501, 14)
      .seg(C, ACK, 14, 2502);
  auto c = s.decode();
  EXPECT_EQ(after(c, 4), P(State::FinWait2, State::CloseWait));
  for (std::size_t i = 5; i <= 8; ++i) EXPECT_EQ(after(c, i).first, State::FinWait2) << i;
  EXPECT_EQ(after(c, 9), P(State::TimeWait, State::LastAck));
  EXPECT_EQ(after(c, 10), P(State::TimeWait, State::Closed));
  EXPECT_EQ(violations(c), 0);  // data from the end that has not closed is fine
}

TEST(Decode, ResetClosesBothEndsFromAnySynchronizedState) {
  for (int who : {C, S}) {
    Script s;
    s.handshake().seg(C, PSH | ACK, 1, 1, 10).seg(S, ACK, 1, 11);
    if (who == C)
      s.seg(C, RST | ACK, 11, 1);
    else
      s.seg(S, RST | ACK, 1, 11);
    auto c = s.decode();
    EXPECT_EQ(after(c, 5), P(State::Closed, State::Closed)) << who;
    EXPECT_TRUE(has_note(c.segments[5], "reset"));
    EXPECT_EQ(c.counts.resets, 1);
    EXPECT_EQ(violations(c), 0);
  }
}

TEST(Decode, ResetInCloseWaitAndFinWait2) {
  Script s;
  s.handshake().seg(C, FIN | ACK, 1, 1).seg(S, ACK, 1, 2).seg(S, RST | ACK, 1, 2);
  auto c = s.decode();
  EXPECT_EQ(after(c, 4), P(State::FinWait2, State::CloseWait));
  EXPECT_EQ(after(c, 5), P(State::Closed, State::Closed));
}

TEST(Decode, RefusedConnectionLeavesTheServerClosed) {
  Script s;
  s.seg(C, SYN, 0, 0).seg(S, RST | ACK, 0, 1);
  auto c = s.decode();
  EXPECT_EQ(c.initial[S], State::Closed);  // nobody listens
  EXPECT_EQ(after(c, 0), P(State::SynSent, State::Closed));
  EXPECT_EQ(after(c, 1), P(State::Closed, State::Closed));
  EXPECT_TRUE(path(c, S).empty());
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, ResetInSynReceivedReturnsAPassiveEndToListen) {
  Script s;
  s.seg(C, SYN, 0, 0).seg(S, SYN | ACK, 0, 1).seg(C, RST, 1, 0);
  auto c = s.decode();
  EXPECT_EQ(after(c, 2), P(State::Closed, State::Listen));
}

TEST(Decode, ResetOutsideTheWindowIsIgnored) {
  Script s;
  s.handshake().seg(C, RST, 1'000'000, 0);
  auto c = s.decode();
  EXPECT_EQ(after(c, 3), P(State::Closed, State::Established));
  EXPECT_TRUE(has_note(c.segments[3], "outside the receive window"));
}

TEST(Decode, MidStreamCaptureStartsEstablished) {
  Script s;
  // No SYNs: the capture began with data flowing; the client has the higher port.
  s.seg(C, PSH | ACK, 500, 900, 100)
      .seg(S, ACK, 900, 600)
      .seg(S, FIN | ACK, 900, 600)
      .seg(C, FIN | ACK, 600, 901)
      .seg(S, ACK, 901, 601);
  auto c = s.decode();
  EXPECT_TRUE(c.mid_stream);
  EXPECT_TRUE(c.roles_guessed);
  EXPECT_EQ(c.ends[1], s.ends[1]);  // port 80 is the server
  EXPECT_EQ(c.initial[C], State::Established);
  EXPECT_EQ(c.initial[S], State::Established);
  EXPECT_EQ(c.segments[0].seq, 0u);  // relative to the first seen
  EXPECT_EQ(c.segments[1].ack, 100u);
  EXPECT_EQ(after(c, 2), P(State::CloseWait, State::FinWait1));
  EXPECT_EQ(after(c, 3), P(State::LastAck, State::TimeWait));
  EXPECT_EQ(after(c, 4), P(State::Closed, State::TimeWait));
  EXPECT_EQ(violations(c), 0);
  EXPECT_FALSE(c.notes.empty());
}

TEST(Decode, MissingSynStartsTheClientInSynSent) {
  Script s;
  s.seg(S, SYN | ACK, 0, 1).seg(C, ACK, 1, 1).seg(C, PSH | ACK, 1, 1, 5);
  auto c = s.decode();
  EXPECT_EQ(c.ends[0], s.ends[0]);
  EXPECT_EQ(c.initial[C], State::SynSent);
  EXPECT_EQ(after(c, 0), P(State::Established, State::SynReceived));
  EXPECT_EQ(after(c, 1), P(State::Established, State::Established));
  EXPECT_EQ(c.segments[2].seq, 1u);
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, LostSynIsRetransmittedAndTheServerReactsToTheSecond) {
  Script s;
  s.seg(C, SYN, 0, 0)
      .seg(C, SYN, 0, 0, 0, 1000, 1'000'000)  // RTO: the first was lost after the capture point
      .seg(S, SYN | ACK, 0, 1)
      .seg(C, ACK, 1, 1);
  auto c = s.decode();
  EXPECT_TRUE(c.segments[0].lost_after_capture);
  EXPECT_TRUE(c.segments[1].retransmission);
  EXPECT_EQ(after(c, 0), P(State::SynSent, State::Listen));
  EXPECT_EQ(after(c, 1), P(State::SynSent, State::SynReceived));
  EXPECT_EQ(c.counts.retransmissions, 1);
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, LostSynAckKeepsTheClientInSynSent) {
  Script s;
  s.seg(C, SYN, 0, 0)
      .seg(S, SYN | ACK, 0, 1)
      .seg(C, SYN, 0, 0, 0, 1000, 1'000'000)  // the client never got it
      .seg(S, SYN | ACK, 0, 1)
      .seg(C, ACK, 1, 1);
  auto c = s.decode();
  EXPECT_TRUE(c.segments[1].lost_after_capture);
  EXPECT_EQ(after(c, 1), P(State::SynSent, State::SynReceived));
  EXPECT_EQ(after(c, 3), P(State::Established, State::SynReceived));
  EXPECT_EQ(after(c, 4), P(State::Established, State::Established));
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, LostFinalAckLeavesTheServerInLastAckUntilTheNextOne) {
  Script s;
  s.handshake()
      .seg(C, FIN | ACK, 1, 1)
      .seg(S, ACK, 1, 2)
      .seg(S, FIN | ACK, 1, 2)
      .seg(C, ACK, 2, 2)                         // 6: lost after the capture point
      .seg(S, FIN | ACK, 1, 2, 0, 1000, 200000)  // 7: so the FIN comes again
      .seg(C, ACK, 2, 2);                        // 8: answered from TIME-WAIT
  auto c = s.decode();
  EXPECT_TRUE(c.segments[6].lost_after_capture);
  EXPECT_EQ(after(c, 6), P(State::TimeWait, State::LastAck));
  EXPECT_TRUE(c.segments[7].retransmission);
  EXPECT_EQ(after(c, 7), P(State::TimeWait, State::LastAck));
  EXPECT_EQ(after(c, 8), P(State::TimeWait, State::Closed));
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, LostFinIsRetransmittedAndOnlyTheSecondCopyCloses) {
  Script s;
  s.handshake()
      .seg(C, FIN | ACK, 1, 1)
      .seg(C, FIN | ACK, 1, 1, 0, 1000, 1'000'000)
      .seg(S, ACK, 1, 2);
  auto c = s.decode();
  EXPECT_TRUE(c.segments[3].lost_after_capture);
  EXPECT_EQ(after(c, 3), P(State::FinWait1, State::Established));
  EXPECT_EQ(after(c, 4), P(State::FinWait1, State::CloseWait));
  EXPECT_EQ(after(c, 5), P(State::FinWait2, State::CloseWait));
}

TEST(Decode, FinCrossedByDataTakesEffectWhenAcknowledged) {
  // Captured near the client: the server's data was in flight when the client's FIN passed.
  Script s;
  s.handshake()
      .seg(C, FIN | ACK, 1, 1)
      .seg(S, PSH | ACK, 1, 1, 50)  // ack=1: the FIN had not arrived yet
      .seg(S, ACK, 51, 2);          // now it has
  auto c = s.decode();
  EXPECT_EQ(after(c, 3), P(State::FinWait1, State::Established));
  EXPECT_EQ(after(c, 4), P(State::FinWait1, State::Established));
  EXPECT_EQ(after(c, 5), P(State::FinWait2, State::CloseWait));
  EXPECT_TRUE(c.segments[5].changes.front().before_segment);  // revealed by the ACK
  EXPECT_EQ(c.segments[5].changes.front().side, S);
  EXPECT_EQ(c.segments[5].changes.back().side, C);  // the ACK's own arrival
  EXPECT_FALSE(c.segments[5].changes.back().before_segment);
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, RetransmissionsOutOfOrderAndGaps) {
  Script s;
  s.handshake()
      .seg(C, ACK, 1, 1, 1000)                  // 3
      .seg(C, ACK, 2001, 1, 1000)               // 4: 1001..2000 not seen yet
      .seg(C, ACK, 1001, 1, 1000, 1000, 50)     // 5: fills the gap at once: reordered
      .seg(C, ACK, 1, 1, 1000, 1000, 500'000);  // 6: sent again much later
  auto c = s.decode();
  EXPECT_TRUE(has_note(c.segments[4], "previous segment not captured"));
  EXPECT_TRUE(c.segments[5].out_of_order);
  EXPECT_FALSE(c.segments[5].retransmission);
  EXPECT_TRUE(c.segments[6].retransmission);
  EXPECT_EQ(c.counts.out_of_order, 1);
  EXPECT_EQ(c.counts.retransmissions, 1);
}

TEST(Decode, LateGapFillIsARetransmissionOfASegmentLostBeforeTheCapture) {
  Script s;
  s.handshake()
      .seg(C, ACK, 1, 1, 1000)
      .seg(C, ACK, 2001, 1, 1000)
      .seg(C, ACK, 1001, 1, 1000, 1000, 300'000);
  auto c = s.decode();
  EXPECT_TRUE(c.segments[5].retransmission);
  EXPECT_TRUE(has_note(c.segments[5], "lost before the capture point"));
}

TEST(Decode, DuplicateAcksAreCounted) {
  Script s;
  s.handshake();
  for (std::uint32_t i = 0; i < 5; ++i) s.seg(S, ACK, 1 + i * 100, 1, 100);
  s.seg(C, ACK, 1, 101);  // 8: segment 2 (101..200) lost
  for (int i = 0; i < 3; ++i) {
    s.seg(C, ACK, 1, 101);
    s.segments.back().tcp.options.sack_count = 1;
    s.segments.back().tcp.options.sack[0] = {s.isn[S] + 201, s.isn[S] + 301 + 100u * i};
  }
  s.seg(S, ACK, 101, 1, 100, 1000, 1000);  // fast retransmit
  auto c = s.decode();
  EXPECT_EQ(c.segments[8].duplicate_ack, 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.segments[9 + i].duplicate_ack, i + 1);
    EXPECT_TRUE(has_note(c.segments[9 + i], "duplicate ACK #" + std::to_string(i + 1)));
  }
  EXPECT_EQ(c.segments[9].options.sack[0].left, 201u);  // SACK edges relative too
  EXPECT_TRUE(c.segments[12].retransmission);
  EXPECT_EQ(c.counts.duplicate_acks, 3);
}

TEST(Decode, ZeroWindowProbeAndWindowUpdate) {
  Script s;
  s.handshake()
      .seg(S, ACK, 1, 1, 1000)
      .seg(C, ACK, 1, 1001, 0, 0)              // 4: the client's buffer is full
      .seg(S, ACK, 1000, 1, 0, 1000, 200'000)  // 5: probe below SND.NXT (Linux's way)
      .seg(C, ACK, 1, 1001, 0, 0)
      .seg(C, ACK, 1, 1001, 0, 500);  // 7: opens again
  auto c = s.decode();
  EXPECT_TRUE(c.segments[4].zero_window);
  EXPECT_TRUE(has_note(c.segments[4], "zero window"));
  EXPECT_TRUE(has_note(c.segments[5], "zero-window probe"));
  EXPECT_FALSE(c.segments[5].retransmission);
  EXPECT_TRUE(has_note(c.segments[7], "window update"));
  EXPECT_EQ(c.counts.zero_windows, 2);
  EXPECT_EQ(violations(c), 0);
}

TEST(Decode, KeepAliveIsNotARetransmission) {
  Script s;
  s.handshake().seg(C, ACK, 0, 1, 0, 1000, 7'200'000'000).seg(S, ACK, 1, 1);
  auto c = s.decode();
  EXPECT_TRUE(has_note(c.segments[3], "keep-alive"));
  EXPECT_EQ(c.counts.retransmissions, 0);
  EXPECT_EQ(c.counts.duplicate_acks, 0);
}

TEST(Decode, DataAfterFinIsInconsistent) {
  Script s;
  s.handshake().seg(C, FIN | ACK, 1, 1).seg(S, ACK, 1, 2).seg(C, PSH | ACK, 2, 1, 10);
  auto c = s.decode();
  EXPECT_TRUE(has_violation(c.segments[5], "data after FIN"));
}

TEST(Decode, AckOfUnsentDataIsInconsistent) {
  Script s;
  s.handshake().seg(C, PSH | ACK, 1, 1, 10).seg(S, ACK, 1, 5000);
  auto c = s.decode();
  EXPECT_TRUE(has_violation(c.segments[4], "ACK of unsent data"));
}

TEST(Decode, SynWithDataIsFlagged) {
  Script s;
  s.seg(C, SYN, 0, 0, 20).seg(S, SYN | ACK, 0, 21).seg(C, ACK, 21, 1);
  auto c = s.decode();
  EXPECT_TRUE(has_violation(c.segments[0], "SYN with 20 bytes"));
  EXPECT_EQ(c.final_state[S], State::Established);
}

TEST(Decode, SegmentFromAClosedEndIsInconsistent) {
  Script s;
  s.handshake().seg(C, RST | ACK, 1, 1).seg(C, PSH | ACK, 1, 1, 10);
  auto c = s.decode();
  EXPECT_TRUE(has_violation(c.segments[4], "from a CLOSED end"));
  EXPECT_EQ(after(c, 4), P(State::Closed, State::Closed));
}

TEST(Decode, SynAckWithTheWrongAckIsInconsistent) {
  Script s;
  s.seg(C, SYN, 0, 0).seg(S, SYN | ACK, 0, 7);
  auto c = s.decode();
  EXPECT_TRUE(has_violation(c.segments[1], "SYN,ACK acknowledges"));
  EXPECT_EQ(after(c, 1).first, State::SynSent);  // the client would answer RST, not ESTABLISH
}

TEST(Decode, SegmentWithoutAckInASynchronizedStateIsInconsistent) {
  Script s;
  s.handshake().seg(C, PSH, 1, 0, 10);
  auto c = s.decode();
  EXPECT_TRUE(has_violation(c.segments[3], "no ACK bit"));
}

TEST(Decode, WindowScaleIsAppliedOnlyWhenBothSynsCarryIt) {
  Script s;
  s.handshake();
  s.segments[0].tcp.options.window_scale = 7;
  s.segments[1].tcp.options.window_scale = 2;
  s.seg(C, ACK, 1, 1, 0, 10);
  auto c = s.decode();
  ASSERT_TRUE(c.window_scale[C].has_value());
  EXPECT_EQ(*c.segments[3].scaled_window, 10u << 7);
  Script t;
  t.handshake();
  t.segments[0].tcp.options.window_scale = 7;
  t.seg(C, ACK, 1, 1, 0, 10);
  EXPECT_FALSE(t.decode().window_scale[C].has_value());
}

TEST(Decode, TrackerSeparatesConnectionsAndReusedPorts) {
  Script a;
  a.handshake().seg(C, FIN | ACK, 1, 1).seg(S, FIN | ACK, 1, 2).seg(C, ACK, 2, 2);
  Script b;  // the same 4-tuple again, new ISN
  b.isn[C] = 77;
  b.now_us = a.now_us + 1000;
  b.handshake();
  Script other;  // another port, interleaved
  other.ends[0].port = 40001;
  ConnectionTracker tracker;
  other.handshake();
  tracker.add(other.segments[0]);
  for (const auto& s : a.segments) tracker.add(s);
  tracker.add(other.segments[1]);
  for (const auto& s : b.segments) tracker.add(s);
  tracker.add(other.segments[2]);
  auto connections = tracker.finish();
  ASSERT_EQ(connections.size(), 3u);
  EXPECT_EQ(connections[0].ends[0].port, 40001);
  EXPECT_EQ(connections[0].segments.size(), 3u);
  EXPECT_EQ(connections[1].final_state[C], State::TimeWait);
  EXPECT_EQ(connections[2].final_state[C], State::Established);
  EXPECT_EQ(connections[2].segments.size(), 3u);
  EXPECT_EQ(connections[2].number, 3);
}

TEST(Decode, RandomSegmentsNeverCrash) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    Script s;
    int n = static_cast<int>(rng() % 40) + 1;
    for (int i = 0; i < n; ++i)
      s.seg(static_cast<int>(rng() % 2), static_cast<std::uint8_t>(rng() & 0x1F), rng() % 3000,
            rng() % 3000, rng() % 1500, static_cast<std::uint16_t>(rng() % 3),
            static_cast<std::int64_t>(rng() % 100000));
    auto c = s.decode();
    EXPECT_EQ(c.segments.size(), static_cast<std::size_t>(n));
    (void)render_table(c);
    (void)to_json(c);
    (void)render_text(to_ladder(c), {});
  }
}

TEST(Decode, TableShowsBothStatesAfterEverySegment) {
  Script s;
  s.handshake().seg(C, FIN | ACK, 1, 1).seg(S, FIN | ACK, 1, 2).seg(C, ACK, 2, 2);
  auto c = s.decode();
  std::string table = render_table(c, {.color = false, .unicode = false});
  EXPECT_NE(table.find("SYN seq=0 win=1000 <mss 1460>"), std::string::npos) << table;
  EXPECT_NE(table.find("TIME-WAIT    LAST-ACK"), std::string::npos) << table;
  EXPECT_NE(table.find("final: client TIME-WAIT, server CLOSED"), std::string::npos) << table;
  std::string json = to_json(c).dump();
  EXPECT_NE(json.find("\"client_state\":\"TIME-WAIT\",\"server_state\":\"CLOSED\""),
            std::string::npos);
  Ladder ladder = to_ladder(c);
  EXPECT_EQ(ladder.final_state[0], State::TimeWait);
  EXPECT_EQ(ladder.initial[1], State::Listen);
}

// --- pcap reader: link layers ---------------------------------------------------------------

namespace {

std::vector<std::byte> ip_syn_packet() {
  wire::IpHeader ip;
  ip.src = wire::IpAddress::v4(198, 18, 0, 1);
  ip.dst = wire::IpAddress::v4(198, 18, 0, 2);
  wire::TcpHeader tcp;
  tcp.src_port = 40000;
  tcp.dst_port = 80;
  tcp.seq = 1234;
  tcp.flags = SYN;
  tcp.window = 65535;
  tcp.options.mss = 1460;
  tcp.options.window_scale = 7;
  std::vector<std::byte> out;
  wire::build_tcp_packet(ip, tcp, {}, out);
  return out;
}

std::vector<std::byte> bytes(std::initializer_list<int> b) {
  std::vector<std::byte> out;
  for (int x : b) out.push_back(static_cast<std::byte>(x));
  return out;
}

std::vector<std::byte> concat(std::vector<std::byte> a, const std::vector<std::byte>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<std::byte> ethernet(std::uint16_t type) {
  auto f = bytes({2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2});
  f.push_back(static_cast<std::byte>(type >> 8));
  f.push_back(static_cast<std::byte>(type & 0xFF));
  return f;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("synack-decode-" + std::to_string(getpid()) + "-" + name);
}

void write_pcap(const std::filesystem::path& path, int dlt,
                const std::vector<std::vector<std::byte>>& frames, std::uint32_t snaplen = 65535,
                std::uint32_t extra_wire_len = 0) {
  pcap_t* dead = pcap_open_dead(dlt, static_cast<int>(snaplen));
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  ASSERT_NE(d, nullptr);
  std::uint32_t sec = 1'700'000'000;
  for (const auto& f : frames) {
    pcap_pkthdr h{};
    h.ts.tv_sec = sec++;
    h.caplen = static_cast<std::uint32_t>(std::min<std::size_t>(f.size(), snaplen));
    h.len = static_cast<std::uint32_t>(f.size()) + extra_wire_len;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, reinterpret_cast<const u_char*>(f.data()));
  }
  pcap_dump_close(d);
  pcap_close(dead);
}

}  // namespace

TEST(DecodePcapReader, StripsEveryLinkHeaderItKnows) {
  const auto ip = ip_syn_packet();
  struct Case {
    const char* name;
    int dlt;
    std::vector<std::byte> frame;
    std::size_t header;
  };
  auto sll = concat(bytes({0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00}), ip);
  auto sll2 = concat(bytes({0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0}), ip);
  std::vector<Case> cases = {
      {"ethernet", link_type::kEthernet, concat(ethernet(0x0800), ip), 14},
      {"802.1Q", link_type::kEthernet,
       concat(concat(ethernet(0x8100), bytes({0x00, 0x05, 0x08, 0x00})), ip), 18},
      {"QinQ", link_type::kEthernet,
       concat(concat(ethernet(0x88A8), bytes({0, 5, 0x81, 0x00, 0, 7, 0x08, 0x00})), ip), 22},
      {"raw", link_type::kRaw, ip, 0},
      {"raw DLT 12", link_type::kRawBsd12, ip, 0},
      {"ipv4", link_type::kIpv4, ip, 0},
      {"sll", link_type::kLinuxSll, sll, 16},
      {"sll2", link_type::kLinuxSll2, sll2, 20},
      {"null little-endian", link_type::kNull, concat(bytes({2, 0, 0, 0}), ip), 4},
      {"null big-endian", link_type::kNull, concat(bytes({0, 0, 0, 2}), ip), 4},
      {"loop", link_type::kLoop, concat(bytes({0, 0, 0, 2}), ip), 4},
  };
  for (const auto& c : cases) {
    auto p = strip_link_header(c.dlt, c.frame);
    ASSERT_EQ(p.kind, LinkPayload::Kind::Ip) << c.name;
    EXPECT_EQ(p.link_header, c.header) << c.name;
    EXPECT_EQ(p.ip.size(), ip.size()) << c.name;
    auto seg = wire_segment_from_ip(p.ip, 0);
    ASSERT_TRUE(seg) << c.name;
    EXPECT_EQ(seg->tcp.seq, 1234u);
    EXPECT_EQ(seg->tcp.options.window_scale, 7);
  }
}

TEST(DecodePcapReader, NonIpAndMalformedFramesAreRecognised) {
  const auto ip = ip_syn_packet();
  EXPECT_EQ(strip_link_header(link_type::kEthernet, concat(ethernet(0x0806), ip)).kind,
            LinkPayload::Kind::NotIp);  // ARP
  EXPECT_EQ(strip_link_header(link_type::kEthernet, bytes({1, 2, 3})).kind,
            LinkPayload::Kind::Malformed);
  EXPECT_EQ(strip_link_header(link_type::kEthernet, ethernet(0x0800)).kind,
            LinkPayload::Kind::Malformed);  // no payload
  EXPECT_EQ(strip_link_header(link_type::kEthernet, concat(ethernet(0x86DD), ip)).kind,
            LinkPayload::Kind::Malformed);  // says IPv6, holds IPv4
  EXPECT_EQ(strip_link_header(link_type::kLinuxSll2, bytes({8, 0, 0})).kind,
            LinkPayload::Kind::Malformed);
  // Endless VLAN tags.
  auto tags = ethernet(0x8100);
  for (int i = 0; i < 10; ++i) tags = concat(tags, bytes({0, 1, 0x81, 0x00}));
  EXPECT_EQ(strip_link_header(link_type::kEthernet, tags).kind, LinkPayload::Kind::Malformed);
  // Every prefix of every frame: never a crash, never an overread (ASan watches).
  auto frame = concat(concat(ethernet(0x8100), bytes({0x00, 0x05, 0x08, 0x00})), ip);
  for (int dlt : {link_type::kEthernet, link_type::kLinuxSll, link_type::kLinuxSll2,
                  link_type::kNull, link_type::kRaw}) {
    for (std::size_t n = 0; n <= frame.size(); ++n) {
      std::vector<std::byte> cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
      auto p = strip_link_header(dlt, cut);
      if (p.kind == LinkPayload::Kind::Ip) (void)wire_segment_from_ip(p.ip, 0);
    }
  }
}

TEST(DecodePcapReader, ReadsFilesCountsSkipsAndPadsCutFrames) {
  const auto ip = ip_syn_packet();
  auto path = temp_path("eth.pcap");
  write_pcap(path, DLT_EN10MB,
             {concat(ethernet(0x0800), ip), concat(ethernet(0x0806), ip), bytes({1, 2}),
              concat(ethernet(0x0800), ip)});
  std::string error;
  auto reader = PcapReader::open(path, &error);
  ASSERT_NE(reader, nullptr) << error;
  EXPECT_EQ(reader->link_type(), link_type::kEthernet);
  std::vector<std::uint64_t> frames;
  while (auto p = reader->next()) {
    frames.push_back(p->frame_number);
    EXPECT_TRUE(wire_segment_from_ip(p->ip, p->unix_us));
  }
  EXPECT_EQ(frames, (std::vector<std::uint64_t>{1, 4}));
  EXPECT_EQ(reader->stats().not_ip, 1u);
  EXPECT_EQ(reader->stats().malformed, 1u);
  EXPECT_TRUE(reader->error().empty());

  // A snap length of 40 cuts the TCP options; the reader pads the frame to its wire length
  // so the headers still parse, with the payload length right.
  auto cut = temp_path("cut.pcap");
  write_pcap(cut, DLT_RAW, {ip}, 40);
  reader = PcapReader::open(cut, &error);
  ASSERT_NE(reader, nullptr) << error;
  auto p = reader->next();
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->truncated);
  EXPECT_EQ(p->ip.size(), ip.size());
  EXPECT_TRUE(wire_segment_from_ip(p->ip, 0));
  EXPECT_EQ(reader->stats().truncated, 1u);
  std::filesystem::remove(path);
  std::filesystem::remove(cut);
}

TEST(DecodePcapReader, RejectsWhatItCannotRead) {
  std::string error;
  EXPECT_EQ(PcapReader::open("/nonexistent/x.pcap", &error), nullptr);
  EXPECT_FALSE(error.empty());
  auto garbage = temp_path("garbage.pcap");
  {
    std::FILE* f = std::fopen(garbage.c_str(), "wb");
    std::fputs("this is not a capture at all, not even close", f);
    std::fclose(f);
  }
  EXPECT_EQ(PcapReader::open(garbage, &error), nullptr);
  auto usb = temp_path("usb.pcap");
  write_pcap(usb, DLT_USB_LINUX, {bytes({1, 2, 3})});
  EXPECT_EQ(PcapReader::open(usb, &error), nullptr);
  EXPECT_NE(error.find("not supported"), std::string::npos) << error;
  // A file cut in the middle of a record: the records before it, then a message.
  auto whole = temp_path("whole.pcap");
  write_pcap(whole, DLT_RAW, {ip_syn_packet(), ip_syn_packet()});
  auto size = std::filesystem::file_size(whole);
  std::filesystem::resize_file(whole, size - 10);
  auto reader = PcapReader::open(whole, &error);
  ASSERT_NE(reader, nullptr) << error;
  int n = 0;
  while (reader->next()) ++n;
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(reader->error().empty());
  for (const auto& p : {garbage, usb, whole}) std::filesystem::remove(p);
}

// --- synack's own stacks: decode must agree with what they recorded --------------------------

namespace {

// The ladder's states for one side as decode would show them: a listener's LISTEN is decode's
// initial state, and TIME-WAIT's end (2 MSL later) is beyond any capture.
V recorded_path(const Ladder& ladder, int side) {
  V out;
  for (const auto& e : ladder.events)
    if (e.kind == LadderEvent::Kind::State && e.state.side == side) out.push_back(e.state.to);
  if (!out.empty() && out.front() == State::Listen) out.erase(out.begin());
  if (out.size() >= 2 && out.back() == State::Closed && out[out.size() - 2] == State::TimeWait)
    out.pop_back();
  return out;
}

std::vector<DecodedConnection> decode_file(const std::filesystem::path& path) {
  std::string error;
  auto reader = PcapReader::open(path, &error);
  EXPECT_NE(reader, nullptr) << error;
  ConnectionTracker tracker;
  if (!reader) return {};
  while (auto p = reader->next()) {
    auto seg = wire_segment_from_ip(p->ip, p->unix_us, p->frame_number);
    if (seg) tracker.add(*seg);
  }
  return tracker.finish();
}

}  // namespace

TEST(DecodeScenario, EveryScenarioDecodesToTheStatesTheStacksRecorded) {
  for (const auto& scenario : all_scenarios()) {
    auto file = temp_path(scenario.name + ".pcap");
    SimOptions options;
    options.pcap = file.string();
    auto result = run_scenario(scenario, options);
    ASSERT_TRUE(result.ok) << scenario.name;
    auto connections = decode_file(file);
    std::filesystem::remove(file);
    ASSERT_EQ(connections.size(), 1u) << scenario.name;
    const auto& c = connections[0];
    EXPECT_EQ(c.ends[0].addr, wire::IpAddress::v4(198, 18, 0, 1)) << scenario.name;
    for (int side : {C, S}) {
      EXPECT_EQ(path(c, side), recorded_path(result.ladder, side))
          << scenario.name << " side " << side << "\n"
          << render_table(c, {.color = false, .unicode = false});
    }
    EXPECT_EQ(violations(c), 0) << scenario.name << "\n" << render_table(c);
  }
}

TEST(DecodeScenario, LossyRunsEndInTheStatesTheStacksReached) {
  const Scenario* exchange = find_scenario("exchange");
  ASSERT_NE(exchange, nullptr);
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    auto file = temp_path("lossy.pcap");
    SimOptions options;
    options.seed = seed;
    options.link.loss = 0.2;
    options.pcap = file.string();
    auto result = run_scenario(*exchange, options);
    if (!result.ok) continue;
    auto connections = decode_file(file);
    std::filesystem::remove(file);
    ASSERT_EQ(connections.size(), 1u) << seed;
    const auto& c = connections[0];
    for (int side : {C, S}) {
      V want = recorded_path(result.ladder, side);
      ASSERT_FALSE(want.empty());
      EXPECT_EQ(c.final_state[side], want.back()) << "seed " << seed << " side " << side << "\n"
                                                  << render_table(c);
    }
  }
}

TEST(DecodeCommand, PrintsTablesJsonAndWritesTheSvgLadder) {
  const Scenario* close = find_scenario("close");
  ASSERT_NE(close, nullptr);
  auto file = temp_path("command.pcap");
  auto svg = temp_path("command.svg");
  SimOptions options;
  options.pcap = file.string();
  ASSERT_TRUE(run_scenario(*close, options).ok);
  auto run = [](std::vector<std::string> args) {
    CLI::App app;
    register_decode(app);
    std::vector<const char*> argv = {"synack"};
    for (const auto& a : args) argv.push_back(a.c_str());
    exit_status() = 0;
    testing::internal::CaptureStdout();
    app.parse(static_cast<int>(argv.size()), argv.data());
    return testing::internal::GetCapturedStdout();
  };
  std::string table = run({"decode", file.string(), "--no-color"});
  EXPECT_EQ(exit_status(), 0);
  EXPECT_NE(table.find("1 connection;"), std::string::npos) << table;
  EXPECT_NE(table.find("final: client TIME-WAIT, server CLOSED"), std::string::npos) << table;
  std::string json = run({"decode", file.string(), "--json", "--svg", svg.string()});
  EXPECT_EQ(exit_status(), 0);
  EXPECT_EQ(json.rfind("{\"file\":", 0), 0u) << json;
  EXPECT_NE(json.find("\"final\":{\"client\":\"TIME-WAIT\",\"server\":\"CLOSED\"}"),
            std::string::npos)
      << json;
  std::ifstream in(svg);
  std::string picture((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(picture.find("<svg"), std::string::npos);
  EXPECT_NE(picture.find("TIME-WAIT"), std::string::npos);
  std::string ladder = run({"decode", file.string(), "--ladder", "--ascii", "--no-color"});
  EXPECT_NE(ladder.find("FIN-WAIT-2"), std::string::npos) << ladder;
  testing::internal::CaptureStderr();
  run({"decode", file.string(), "--connection", "2"});
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(exit_status(), 2);
  testing::internal::CaptureStderr();
  run({"decode", "/nonexistent.pcap"});
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(exit_status(), 2);
  std::filesystem::remove(file);
  std::filesystem::remove(svg);
}

// --- the transition table ---------------------------------------------------------------------

// Every change decode infers is a row of the transition table (tcp/transitions.hpp), in the
// table's words (a cause may add a note: " (simultaneous open)", " (snd RST)", ...).
TEST(Decode, EveryChangeIsARowOfTheTransitionTable) {
  std::vector<Script> scripts(6);
  scripts[0].handshake().seg(C, FIN | ACK, 1, 1).seg(S, FIN | ACK, 1, 2).seg(C, ACK, 2, 2);
  scripts[1].seg(C, SYN, 0, 0).seg(S, RST | ACK, 0, 1);
  scripts[2].seg(C, SYN, 0, 0).seg(S, SYN | ACK, 0, 1).seg(C, RST, 1, 0);
  scripts[3].seg(C, SYN, 0, 0).seg(S, SYN, 0, 0).seg(C, SYN | ACK, 0, 1).seg(S, SYN | ACK, 0, 1);
  scripts[4]
      .handshake()
      .seg(C, FIN | ACK, 1, 1)
      .seg(S, FIN | ACK, 1, 1)
      .seg(C, ACK, 2, 2)
      .seg(S, ACK, 2, 2);
  scripts[5].handshake().seg(S, RST | ACK, 1, 1);
  int changes = 0;
  for (std::size_t i = 0; i < scripts.size(); ++i) {
    auto c = scripts[i].decode();
    for (const auto& row : c.segments) {
      for (const auto& ch : row.changes) {
        ++changes;
        std::optional<tcp::Cause> cause;
        for (std::size_t k = 0; k < tcp::kCauseCount; ++k) {
          auto candidate = static_cast<tcp::Cause>(k);
          if (ch.cause.starts_with(tcp::label(candidate)) &&
              (!cause || tcp::label(candidate).size() > tcp::label(*cause).size()))
            cause = candidate;
        }
        ASSERT_TRUE(cause) << i << ": " << ch.cause;
        EXPECT_TRUE(tcp::is_listed(ch.from, ch.to, *cause))
            << i << ": " << to_string(ch.from) << " -> " << to_string(ch.to) << " " << ch.cause;
      }
    }
  }
  EXPECT_GT(changes, 20);
}
