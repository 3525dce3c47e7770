// SPDX-License-Identifier: MIT
// Every named scenario runs to its scripted end, and its ladder shows the states the RFC says
// each end passes through.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "sim/scenarios.hpp"

using namespace synack;
using namespace synack::sim;
using namespace synack::observe;

namespace {

std::vector<State> states_of(const Ladder& ladder, int side) {
  std::vector<State> out;
  for (const auto& e : ladder.events)
    if (e.kind == LadderEvent::Kind::State && e.state.side == side) out.push_back(e.state.to);
  return out;
}

ScenarioResult run(const std::string& name, SimOptions options = {}) {
  const Scenario* s = find_scenario(name);
  EXPECT_NE(s, nullptr) << name;
  if (!s) return {};
  return run_scenario(*s, options);
}

int count_segments(const Ladder& ladder, int from, std::uint8_t flags, bool retransmission) {
  int n = 0;
  for (const auto& e : ladder.events)
    if (e.kind == LadderEvent::Kind::Segment && e.segment.from == from &&
        (e.segment.flags & ~wire::tcp_flag::PSH) == flags &&
        e.segment.retransmission == retransmission)
      ++n;
  return n;
}

using V = std::vector<State>;

}  // namespace

TEST(Scenario, EveryListedScenarioCompletes) {
  ASSERT_GE(all_scenarios().size(), 12u);
  for (const auto& s : all_scenarios()) {
    auto r = run_scenario(s, {});
    EXPECT_TRUE(r.ok) << s.name << ": " << r.summary;
  }
}

TEST(Scenario, ExchangeShowsEveryStateOfANormalOpenAndClose) {
  auto r = run("exchange");
  ASSERT_TRUE(r.ok) << r.summary;
  EXPECT_EQ(states_of(r.ladder, 0), (V{State::SynSent, State::Established, State::FinWait1,
                                       State::FinWait2, State::TimeWait, State::Closed}));
  // The server: the listener's LISTEN, then its connection's passage to CLOSED.
  EXPECT_EQ(states_of(r.ladder, 1), (V{State::Listen, State::SynReceived, State::Established,
                                       State::CloseWait, State::LastAck, State::Closed}));
}

TEST(Scenario, SimultaneousOpenPassesSynReceivedOnBothEnds) {
  auto r = run("simultaneous-open");
  ASSERT_TRUE(r.ok) << r.summary;
  for (int side = 0; side < 2; ++side)
    EXPECT_EQ(states_of(r.ladder, side),
              (V{State::SynSent, State::SynReceived, State::Established}))
        << side;
}

TEST(Scenario, SimultaneousCloseShowsClosingOnBothEnds) {
  auto r = run("simultaneous-close");
  ASSERT_TRUE(r.ok) << r.summary;
  auto c = states_of(r.ladder, 0);
  EXPECT_EQ(V(c.end() - 4, c.end()),
            (V{State::FinWait1, State::Closing, State::TimeWait, State::Closed}));
  auto s = states_of(r.ladder, 1);
  EXPECT_EQ(V(s.end() - 4, s.end()),
            (V{State::FinWait1, State::Closing, State::TimeWait, State::Closed}));
}

TEST(Scenario, HalfCloseDeliversDataIntoFinWait2) {
  auto r = run("half-close");
  ASSERT_TRUE(r.ok) << r.summary;
  // The server's data segments arrive while the client sits in FIN-WAIT-2.
  Instant fw2_from{}, fw2_until{};
  for (const auto& e : r.ladder.events) {
    if (e.kind != LadderEvent::Kind::State || e.state.side != 0) continue;
    if (e.state.to == State::FinWait2) fw2_from = e.time;
    if (e.state.from == State::FinWait2) fw2_until = e.time;
  }
  ASSERT_LT(fw2_from, fw2_until);
  int data_in_fw2 = 0;
  for (const auto& e : r.ladder.events)
    if (e.kind == LadderEvent::Kind::Segment && e.segment.from == 1 && e.segment.length > 0 &&
        e.segment.arrived && *e.segment.arrived > fw2_from && *e.segment.arrived <= fw2_until)
      ++data_in_fw2;
  EXPECT_GE(data_in_fw2, 2);
}

TEST(Scenario, ResetClosesThePeerWithConnectionReset) {
  auto r = run("reset");
  ASSERT_TRUE(r.ok) << r.summary;
  EXPECT_EQ(count_segments(r.ladder, 0, wire::tcp_flag::RST, false), 1);
  EXPECT_EQ(r.counters[1].tcp_resets_received, 1u);
}

TEST(Scenario, RefusedAnswersSynWithRstAck) {
  auto r = run("refused");
  ASSERT_TRUE(r.ok) << r.summary;
  EXPECT_EQ(count_segments(r.ladder, 1, wire::tcp_flag::RST | wire::tcp_flag::ACK, false), 1);
  EXPECT_EQ(r.counters[1].tcp_rst_closed_port, 1u);
}

TEST(Scenario, LostSynIsRetransmittedAfterOneSecond) {
  auto r = run("lost-syn");
  ASSERT_TRUE(r.ok) << r.summary;
  const LadderSegment* first = nullptr;
  const LadderSegment* again = nullptr;
  for (const auto& e : r.ladder.events) {
    if (e.kind != LadderEvent::Kind::Segment || e.segment.flags != wire::tcp_flag::SYN) continue;
    (first ? again : first) = &e.segment;
  }
  ASSERT_TRUE(first && again);
  EXPECT_EQ(first->fate, SegmentFate::Lost);
  EXPECT_TRUE(again->retransmission);
  EXPECT_EQ(to_us(again->sent) - to_us(first->sent), 1'000'000);  // RFC 6298 §2.1: 1 s
}

TEST(Scenario, LostSynAckIsRecovered) {
  auto r = run("lost-synack");
  ASSERT_TRUE(r.ok) << r.summary;
  EXPECT_GE(count_segments(r.ladder, 1, wire::tcp_flag::SYN | wire::tcp_flag::ACK, true), 1);
}

TEST(Scenario, LostFinIsRetransmitted) {
  auto r = run("lost-fin");
  ASSERT_TRUE(r.ok) << r.summary;
  EXPECT_EQ(count_segments(r.ladder, 0, wire::tcp_flag::FIN | wire::tcp_flag::ACK, true), 1);
}

TEST(Scenario, LostFinalAckIsAnsweredFromTimeWait) {
  auto r = run("lost-final-ack");
  ASSERT_TRUE(r.ok) << r.summary;
  EXPECT_EQ(count_segments(r.ladder, 1, wire::tcp_flag::FIN | wire::tcp_flag::ACK, true), 1);
  EXPECT_EQ(r.counters[0].tcp_time_wait_reacks, 1u);
}

TEST(Scenario, TimeWaitLastsTwoMsl) {
  auto r = run("time-wait");
  ASSERT_TRUE(r.ok) << r.summary;
  Instant entered{}, left{};
  for (const auto& e : r.ladder.events) {
    if (e.kind != LadderEvent::Kind::State || e.state.side != 0) continue;
    if (e.state.to == State::TimeWait) entered = e.time;
    if (e.state.from == State::TimeWait) left = e.time;
  }
  EXPECT_EQ(to_us(left) - to_us(entered), 60'000'000);  // 2 x MSL, MSL = 30 s
}

TEST(Scenario, EveryScenarioCompletesUnderLoss) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    for (const auto& s : all_scenarios()) {
      SimOptions o;
      o.seed = seed;
      o.link.loss = 0.2;
      auto r = run_scenario(s, o);
      EXPECT_TRUE(r.ok) << s.name << " seed " << seed << ": " << r.summary;
    }
  }
}

TEST(Scenario, TextLadderNamesEveryState) {
  auto r = run("exchange");
  std::string text = render_text(r.ladder, TextRenderOptions{});
  for (const char* name : {"SYN-SENT", "LISTEN", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
                           "FIN-WAIT-2", "CLOSE-WAIT", "LAST-ACK", "TIME-WAIT", "CLOSED"})
    EXPECT_NE(text.find(name), std::string::npos) << name;
  EXPECT_NE(text.find("SYN,ACK seq=0 ack=1"), std::string::npos);
  EXPECT_NE(text.find("mss 1460"), std::string::npos);
}

TEST(Scenario, PcapCaptureIsCleanInTshark) {
  if (std::system("command -v tshark >/dev/null 2>&1") != 0) GTEST_SKIP() << "tshark not installed";
  auto path = std::filesystem::temp_directory_path() / "synack-scenario-test.pcap";
  SimOptions o;
  o.pcap = path.string();
  o.link.loss = 0.1;
  o.seed = 3;
  auto r = run("exchange", o);
  ASSERT_TRUE(r.ok);
  std::string cmd = "tshark -r " + path.string() +
                    " -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE "
                    "-Y '_ws.malformed || _ws.expert.severity >= error || tcp.checksum.status == "
                    "\"Bad\" || ip.checksum.status == \"Bad\"' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) output += buf;
  int status = pclose(p);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "tshark flagged packets:\n" << output;
  std::string count_cmd = "tshark -r " + path.string() + " 2>/dev/null | wc -l";
  FILE* c = popen(count_cmd.c_str(), "r");
  int packets = 0;
  ASSERT_EQ(fscanf(c, "%d", &packets), 1);
  pclose(c);
  EXPECT_GE(packets, 9);
  std::filesystem::remove(path);
}
