// SPDX-License-Identifier: MIT
// The state machine's transitions, once: every (from, to, cause) a connection may take, the
// RFC 9293 section that defines it and the words the trace records for it ("rcv FIN / snd
// ACK", the "event / action" labels of Figure 5).
//
// Connection::set_state takes a Cause and checks (from, to, cause) against this table; the
// transition-coverage test, the state diagram (src/observe) and decode (src/decode) read it
// rather than keeping their own lists. A trace still carries the cause as text
// (TransitionEvent::cause), the label below, so traces and pictures read as before;
// cause_from_label() maps that text back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "synack/state.hpp"

namespace synack::tcp {

// Why a connection changed state: the event and, after the slash, the action.
enum class Cause : std::uint8_t {
  PassiveOpen,        // "passive OPEN"
  ActiveOpen,         // "active OPEN / snd SYN"
  ListenerClose,      // "CLOSE" (a listener closed by the stack, src/stack)
  CloseDelete,        // "CLOSE / delete TCB"
  RcvSyn,             // "rcv SYN / snd SYN,ACK"
  SendSyn,            // "SEND / snd SYN"
  RcvSynAck,          // "rcv SYN,ACK / snd ACK"
  RcvRstDelete,       // "rcv RST / delete TCB"
  RcvAckOfSyn,        // "rcv ACK of SYN"
  CloseSndFin,        // "CLOSE / snd FIN"
  RcvFin,             // "rcv FIN / snd ACK"
  RcvAckOfFin,        // "rcv ACK of FIN"
  RcvAckOfFinDelete,  // "rcv ACK of FIN / delete TCB"
  Timeout2Msl,        // "timeout=2MSL / delete TCB"
  RcvRstToListen,     // "rcv RST / return to LISTEN"
  RcvSynToListen,     // "rcv SYN / return to LISTEN"
  RcvFinAck,          // "rcv FIN,ACK / snd ACK"
  AbortDelete,        // "ABORT / delete TCB"
  AbortSndRst,        // "ABORT / snd RST"
  IcmpUnreachable,    // "rcv ICMP unreachable / delete TCB"
  TimeoutSynRetries,  // "timeout=SYN retries / delete TCB"
  TimeoutR2,          // "timeout=R2 / delete TCB"
  TimeoutKeepalive,   // "timeout=keepalive / delete TCB"
  SynCookieAck,       // "rcv ACK with valid SYN cookie"
  TimeoutFinWait2,    // "timeout=FIN-WAIT-2 / delete TCB"
};

inline constexpr std::size_t kCauseCount = 25;

// The text a trace records for a cause.
constexpr std::string_view label(Cause c) {
  switch (c) {
    case Cause::PassiveOpen:
      return "passive OPEN";
    case Cause::ActiveOpen:
      return "active OPEN / snd SYN";
    case Cause::ListenerClose:
      return "CLOSE";
    case Cause::CloseDelete:
      return "CLOSE / delete TCB";
    case Cause::RcvSyn:
      return "rcv SYN / snd SYN,ACK";
    case Cause::SendSyn:
      return "SEND / snd SYN";
    case Cause::RcvSynAck:
      return "rcv SYN,ACK / snd ACK";
    case Cause::RcvRstDelete:
      return "rcv RST / delete TCB";
    case Cause::RcvAckOfSyn:
      return "rcv ACK of SYN";
    case Cause::CloseSndFin:
      return "CLOSE / snd FIN";
    case Cause::RcvFin:
      return "rcv FIN / snd ACK";
    case Cause::RcvAckOfFin:
      return "rcv ACK of FIN";
    case Cause::RcvAckOfFinDelete:
      return "rcv ACK of FIN / delete TCB";
    case Cause::Timeout2Msl:
      return "timeout=2MSL / delete TCB";
    case Cause::RcvRstToListen:
      return "rcv RST / return to LISTEN";
    case Cause::RcvSynToListen:
      return "rcv SYN / return to LISTEN";
    case Cause::RcvFinAck:
      return "rcv FIN,ACK / snd ACK";
    case Cause::AbortDelete:
      return "ABORT / delete TCB";
    case Cause::AbortSndRst:
      return "ABORT / snd RST";
    case Cause::IcmpUnreachable:
      return "rcv ICMP unreachable / delete TCB";
    case Cause::TimeoutSynRetries:
      return "timeout=SYN retries / delete TCB";
    case Cause::TimeoutR2:
      return "timeout=R2 / delete TCB";
    case Cause::TimeoutKeepalive:
      return "timeout=keepalive / delete TCB";
    case Cause::SynCookieAck:
      return "rcv ACK with valid SYN cookie";
    case Cause::TimeoutFinWait2:
      return "timeout=FIN-WAIT-2 / delete TCB";
  }
  return "?";
}

// How the state diagram (src/observe/state_diagram.cpp) draws a transition.
enum class Drawn : std::uint8_t {
  Figure5,      // an edge of RFC 9293 Figure 5
  Section3107,  // defined by §3.10.7's event processing, not in the figure
  SameLine,     // another cause on the line of the row before it (same from and to)
  NotDrawn,     // not in the RFC's picture (ABORT, timeouts, ICMP, SYN cookies)
};

struct Transition {
  State from = State::Closed;
  State to = State::Closed;
  Cause cause = Cause::PassiveOpen;
  std::string_view section;  // where RFC 9293 (or the RFC named) defines it
  Drawn drawn = Drawn::NotDrawn;
  constexpr std::string_view text() const { return label(cause); }
};

namespace transitions_detail {
using S = State;
using C = Cause;
constexpr auto F = Drawn::Figure5;
constexpr auto X = Drawn::Section3107;
constexpr auto Same = Drawn::SameLine;
constexpr auto N = Drawn::NotDrawn;
}  // namespace transitions_detail

// In the order the state diagram draws them: Figure 5, then §3.10.7's additions, then the
// transitions the figure does not draw.
inline constexpr auto kTransitions = [] {
  using namespace transitions_detail;
  return std::to_array<Transition>({
      // RFC 9293 Figure 5 (§3.3.2).
      {S::Closed, S::Listen, C::PassiveOpen, "§3.10.1", F},
      {S::Closed, S::SynSent, C::ActiveOpen, "§3.10.1", F},
      {S::Listen, S::Closed, C::CloseDelete, "§3.10.4", F},
      {S::Listen, S::Closed, C::ListenerClose, "§3.10.4", Same},
      {S::Listen, S::SynReceived, C::RcvSyn, "§3.10.7.2", F},
      {S::Listen, S::SynSent, C::SendSyn, "§3.10.2", F},
      {S::SynSent, S::SynReceived, C::RcvSyn, "§3.10.7.3 (§3.5 Figure 7)", F},
      {S::SynSent, S::Established, C::RcvSynAck, "§3.10.7.3", F},
      {S::SynSent, S::Closed, C::CloseDelete, "§3.10.4", F},
      // §3.10.7.3 second: an RST with an acceptable ACK ("connection refused").
      {S::SynSent, S::Closed, C::RcvRstDelete, "§3.10.7.3", X},
      {S::SynReceived, S::Established, C::RcvAckOfSyn, "§3.10.7.4 fifth", F},
      {S::SynReceived, S::FinWait1, C::CloseSndFin, "§3.10.4", F},
      {S::Established, S::FinWait1, C::CloseSndFin, "§3.10.4", F},
      {S::Established, S::CloseWait, C::RcvFin, "§3.10.7.4 eighth", F},
      {S::FinWait1, S::FinWait2, C::RcvAckOfFin, "§3.10.7.4 fifth", F},
      {S::FinWait1, S::Closing, C::RcvFin, "§3.10.7.4 eighth", F},
      {S::FinWait2, S::TimeWait, C::RcvFin, "§3.10.7.4 eighth", F},
      {S::Closing, S::TimeWait, C::RcvAckOfFin, "§3.10.7.4 fifth", F},
      {S::CloseWait, S::LastAck, C::CloseSndFin, "§3.10.4", F},
      {S::LastAck, S::Closed, C::RcvAckOfFinDelete, "§3.10.7.4 fifth", F},
      {S::TimeWait, S::Closed, C::Timeout2Msl, "§3.10.8", F},
      // §3.10.7.4 second (RST) and fourth (SYN): a passively opened SYN-RECEIVED returns to
      // LISTEN; an actively opened one (simultaneous open) is refused -> CLOSED.
      {S::SynReceived, S::Listen, C::RcvRstToListen, "§3.10.7.4 second", X},
      {S::SynReceived, S::Listen, C::RcvSynToListen, "§3.10.7.4 fourth", X},
      {S::SynReceived, S::Closed, C::RcvRstDelete, "§3.10.7.4 second", X},
      // §3.10.7.4 eighth: a FIN in SYN-RECEIVED -> CLOSE-WAIT; in FIN-WAIT-1 with our FIN
      // acknowledged (perhaps by the same segment) -> TIME-WAIT.
      {S::SynReceived, S::CloseWait, C::RcvFin, "§3.10.7.4 eighth", X},
      {S::FinWait1, S::TimeWait, C::RcvFinAck, "§3.10.7.4 eighth", X},
      // §3.10.7.4 second: an RST in any synchronized state -> CLOSED (one edge in the
      // diagram, "any synchronized state").
      {S::Established, S::Closed, C::RcvRstDelete, "§3.10.7.4 second", X},
      {S::FinWait1, S::Closed, C::RcvRstDelete, "§3.10.7.4 second", X},
      {S::FinWait2, S::Closed, C::RcvRstDelete, "§3.10.7.4 second", X},
      {S::CloseWait, S::Closed, C::RcvRstDelete, "§3.10.7.4 second", X},
      {S::Closing, S::Closed, C::RcvRstDelete, "§3.10.7.4 second", X},
      {S::LastAck, S::Closed, C::RcvRstDelete, "§3.10.7.4 second", X},
      {S::TimeWait, S::Closed, C::RcvRstDelete, "§3.10.7.4 second", X},

      // Not drawn by the RFC. §3.10.5 ABORT: "delete the TCB" where no RST is due, else
      // "send a reset segment".
      {S::Listen, S::Closed, C::AbortDelete, "§3.10.5", N},
      {S::SynSent, S::Closed, C::AbortDelete, "§3.10.5", N},
      {S::Closing, S::Closed, C::AbortDelete, "§3.10.5", N},
      {S::LastAck, S::Closed, C::AbortDelete, "§3.10.5", N},
      {S::TimeWait, S::Closed, C::AbortDelete, "§3.10.5", N},
      {S::SynReceived, S::Closed, C::AbortSndRst, "§3.10.5", N},
      {S::Established, S::Closed, C::AbortSndRst, "§3.10.5", N},
      {S::FinWait1, S::Closed, C::AbortSndRst, "§3.10.5", N},
      {S::FinWait2, S::Closed, C::AbortSndRst, "§3.10.5", N},
      {S::CloseWait, S::Closed, C::AbortSndRst, "§3.10.5", N},
      // RFC 5461 / RFC 1122 §4.2.3.9: a hard ICMP error aborts a connection in SYN-SENT.
      {S::SynSent, S::Closed, C::IcmpUnreachable, "§3.9.2.2 (RFC 5461, RFC 1122 §4.2.3.9)", N},
      // §3.8.3: R2 (retransmissions or the user timeout) closes the connection.
      {S::SynSent, S::Closed, C::TimeoutSynRetries, "§3.8.3", N},
      {S::SynReceived, S::Closed, C::TimeoutSynRetries, "§3.8.3", N},
      {S::Established, S::Closed, C::TimeoutR2, "§3.8.3", N},
      {S::FinWait1, S::Closed, C::TimeoutR2, "§3.8.3", N},
      {S::CloseWait, S::Closed, C::TimeoutR2, "§3.8.3", N},
      {S::Closing, S::Closed, C::TimeoutR2, "§3.8.3", N},
      {S::LastAck, S::Closed, C::TimeoutR2, "§3.8.3", N},
      // §3.8.4 (RFC 1122 §4.2.3.6): keep-alive probes unanswered.
      {S::Established, S::Closed, C::TimeoutKeepalive, "§3.8.4", N},
      {S::FinWait1, S::Closed, C::TimeoutKeepalive, "§3.8.4", N},
      {S::FinWait2, S::Closed, C::TimeoutKeepalive, "§3.8.4", N},
      {S::CloseWait, S::Closed, C::TimeoutKeepalive, "§3.8.4", N},
      {S::Closing, S::Closed, C::TimeoutKeepalive, "§3.8.4", N},
      {S::LastAck, S::Closed, C::TimeoutKeepalive, "§3.8.4", N},
      // Follows Linux (tcp_fin_timeout): an orphan (closed by the application) whose peer
      // never sends its FIN is deleted (TcpConfig::orphan_fin_timeout); RFC 9293 has no timer.
      {S::FinWait2, S::Closed, C::TimeoutFinWait2, "§3.10.4 (Linux: tcp_fin_timeout)", N},
      // RFC 4987 §3.6: the ACK that returns a valid SYN cookie creates the TCB the SYN did
      // not (§3.10.7.2's SYN-RECEIVED, reached without keeping LISTEN's state); the child is
      // made in LISTEN, as the listener's children are (Connection::for_listener()).
      {S::Listen, S::SynReceived, C::SynCookieAck, "§3.10.7.2 (RFC 4987 §3.6)", N},
  });
}();

// The row for (from, to, cause), if the state machine has that transition.
constexpr const Transition* find_transition(State from, State to, Cause cause) {
  for (const Transition& t : kTransitions)
    if (t.from == from && t.to == to && t.cause == cause) return &t;
  return nullptr;
}

// Compares no pointers: GCC 12 with -fsanitize=undefined refuses `pointer != nullptr` in a
// constant expression (src/stack static_asserts its listener rows with this).
constexpr bool is_listed(State from, State to, Cause cause) {
  for (const Transition& t : kTransitions)
    if (t.from == from && t.to == to && t.cause == cause) return true;
  return false;
}

// The cause whose label is `text` (a trace's TransitionEvent::cause).
constexpr std::optional<Cause> cause_from_label(std::string_view text) {
  for (std::size_t i = 0; i < kCauseCount; ++i)
    if (label(static_cast<Cause>(i)) == text) return static_cast<Cause>(i);
  return std::nullopt;
}

// Every cause has its own label, and every row's (from, to, cause) appears once.
static_assert([] {
  if (label(static_cast<Cause>(kCauseCount)) != "?") return false;  // kCauseCount is right
  for (std::size_t i = 0; i < kCauseCount; ++i) {
    if (label(static_cast<Cause>(i)) == "?") return false;
    for (std::size_t j = 0; j < i; ++j)
      if (label(static_cast<Cause>(i)) == label(static_cast<Cause>(j))) return false;
  }
  for (std::size_t i = 0; i < kTransitions.size(); ++i) {
    const Transition& t = kTransitions[i];
    if (t.from == t.to || t.section.empty()) return false;
    if (find_transition(t.from, t.to, t.cause) != &kTransitions[i]) return false;
    if (t.drawn == Drawn::SameLine &&
        (i == 0 || kTransitions[i - 1].from != t.from || kTransitions[i - 1].to != t.to))
      return false;
  }
  return true;
}());

}  // namespace synack::tcp
