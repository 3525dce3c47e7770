// SPDX-License-Identifier: MIT
// RFC 9293 §3.3.2: the eleven connection states.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace synack {

enum class State : std::uint8_t {
  Closed,
  Listen,
  SynSent,
  SynReceived,
  Established,
  FinWait1,
  FinWait2,
  CloseWait,
  Closing,
  LastAck,
  TimeWait,
};

inline constexpr std::size_t kStateCount = 11;

inline constexpr std::array<State, kStateCount> kAllStates = {
    State::Closed,      State::Listen,   State::SynSent,  State::SynReceived,
    State::Established, State::FinWait1, State::FinWait2, State::CloseWait,
    State::Closing,     State::LastAck,  State::TimeWait};

// The RFC's spelling: "SYN-RECEIVED", "FIN-WAIT-1", ...
constexpr std::string_view to_string(State s) {
  switch (s) {
    case State::Closed:
      return "CLOSED";
    case State::Listen:
      return "LISTEN";
    case State::SynSent:
      return "SYN-SENT";
    case State::SynReceived:
      return "SYN-RECEIVED";
    case State::Established:
      return "ESTABLISHED";
    case State::FinWait1:
      return "FIN-WAIT-1";
    case State::FinWait2:
      return "FIN-WAIT-2";
    case State::CloseWait:
      return "CLOSE-WAIT";
    case State::Closing:
      return "CLOSING";
    case State::LastAck:
      return "LAST-ACK";
    case State::TimeWait:
      return "TIME-WAIT";
  }
  return "?";
}

constexpr std::optional<State> state_from_string(std::string_view name) {
  for (State s : kAllStates)
    if (to_string(s) == name) return s;
  return std::nullopt;
}

// RFC 9293 §3.3.2: states after the handshake has completed on this side.
constexpr bool is_synchronized(State s) {
  return s != State::Closed && s != State::Listen && s != State::SynSent && s != State::SynReceived;
}

}  // namespace synack
