// Transition coverage: the suite must take every transition of RFC 9293 Figure 5 and the
// further ones §3.10.7 defines. The check runs once, after all tests, as a gtest Environment
// reading the process-wide recorder (harness.cpp); it is skipped when the run is filtered,
// since a subset of the tests cannot be expected to cover everything. tcp_tests is therefore
// registered with CTest as one process (tests/CMakeLists.txt), not test by test.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace synack::tcp::test {
namespace {

// RFC 9293 Figure 5, plus §3.10.7's RST edges, the SYN-RECEIVED -> LISTEN/CLOSED edges and
// the timeouts of §3.8.3 / §3.10.8.
const std::vector<StatePair>& expected_transitions() {
  static const std::vector<StatePair> all = {
      // Figure 5
      {State::Closed, State::Listen},          // passive OPEN
      {State::Closed, State::SynSent},         // active OPEN / snd SYN
      {State::Listen, State::SynReceived},     // rcv SYN / snd SYN,ACK
      {State::Listen, State::SynSent},         // SEND / snd SYN
      {State::Listen, State::Closed},          // CLOSE
      {State::SynSent, State::SynReceived},    // rcv SYN / snd SYN,ACK (simultaneous open)
      {State::SynSent, State::Established},    // rcv SYN,ACK / snd ACK
      {State::SynSent, State::Closed},         // CLOSE; RST with acceptable ACK; SYN retries
      {State::SynReceived, State::Established},  // rcv ACK of SYN
      {State::SynReceived, State::FinWait1},   // CLOSE / snd FIN
      {State::SynReceived, State::Listen},     // rcv RST (passive)
      {State::SynReceived, State::Closed},     // rcv RST (active); SYN,ACK retries
      {State::Established, State::FinWait1},   // CLOSE / snd FIN
      {State::Established, State::CloseWait},  // rcv FIN / snd ACK
      {State::Established, State::Closed},     // rcv RST; ABORT
      {State::FinWait1, State::FinWait2},      // rcv ACK of FIN
      {State::FinWait1, State::Closing},       // rcv FIN / snd ACK
      {State::FinWait1, State::TimeWait},      // rcv FIN,ACK of our FIN / snd ACK
      {State::FinWait2, State::TimeWait},      // rcv FIN / snd ACK
      {State::CloseWait, State::LastAck},      // CLOSE / snd FIN
      {State::Closing, State::TimeWait},       // rcv ACK of FIN
      {State::LastAck, State::Closed},         // rcv ACK of FIN
      {State::TimeWait, State::Closed},        // timeout = 2MSL
      // §3.10.7.4 second (RST at RCV.NXT) and §3.8.3 R2 from the closing states
      {State::FinWait1, State::Closed},
      {State::FinWait2, State::Closed},
      {State::CloseWait, State::Closed},
      {State::Closing, State::Closed},
  };
  return all;
}

class TransitionCoverage : public ::testing::Environment {
 public:
  void TearDown() override {
    if (GTEST_FLAG_GET(filter) != "*") return;  // a filtered run covers a subset by design
    std::string missing;
    for (const auto& [from, to] : expected_transitions()) {
      if (!observed_transitions().contains({from, to}))
        missing += "\n  " + std::string(to_string(from)) + " -> " + std::string(to_string(to));
    }
    if (!missing.empty())
      ADD_FAILURE() << "transitions never taken by tcp_tests:" << missing;
  }
};

[[maybe_unused]] ::testing::Environment* const coverage_environment =
    ::testing::AddGlobalTestEnvironment(new TransitionCoverage);

// The list itself: every entry names a transition the state machine can take, with no
// duplicates.
TEST(TransitionCoverageList, ListsEachTransitionOnce) {
  std::set<StatePair> unique(expected_transitions().begin(), expected_transitions().end());
  EXPECT_EQ(unique.size(), expected_transitions().size());
  EXPECT_EQ(expected_transitions().size(), 27u);
  for (const auto& [from, to] : expected_transitions()) EXPECT_NE(from, to);
}

}  // namespace
}  // namespace synack::tcp::test
