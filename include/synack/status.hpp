// SPDX-License-Identifier: MIT
// What a connection reports: its event bits and its status (RFC 9293 §3.10.6 STATUS).
// Declared in namespace synack::tcp, where the core spells them; synack::ConnectionStatus names
// the same type.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "synack/config.hpp"
#include "synack/seqnum.hpp"
#include "synack/state.hpp"
#include "synack/time.hpp"

namespace synack::tcp {

// What the application should look at; collected with take_events().
namespace event {
inline constexpr std::uint8_t Connected = 0x01;   // reached ESTABLISHED
inline constexpr std::uint8_t Readable = 0x02;    // data to receive
inline constexpr std::uint8_t Writable = 0x04;    // send buffer has room again
inline constexpr std::uint8_t PeerClosed = 0x08;  // the peer's FIN arrived (end of stream)
inline constexpr std::uint8_t Reset = 0x10;       // the connection failed (see error())
inline constexpr std::uint8_t Closed = 0x20;      // reached CLOSED; the TCB can be freed
}  // namespace event

// RFC 9293 §3.10.6 STATUS, plus what `synack ss` shows.
struct ConnectionStatus {
  State state = State::Closed;
  SeqNum iss, irs, snd_una, snd_nxt, rcv_nxt;
  std::uint32_t snd_wnd = 0, rcv_wnd = 0;
  std::uint32_t send_queue = 0;     // bytes written but not yet acknowledged
  std::uint32_t receive_queue = 0;  // bytes received but not yet read
  std::uint32_t buffer_memory = 0;  // bytes the send and receive buffers hold now (Linux: ss -m)
  std::uint32_t cwnd = 0, ssthresh = 0, snd_mss = 0;
  std::uint8_t snd_wscale = 0, rcv_wscale = 0;
  bool sack = false, timestamps = false, window_scale = false;
  std::optional<Duration> srtt;
  Duration rttvar{0}, rto{0};
  std::uint64_t retransmits = 0, rto_expirations = 0, fast_retransmits = 0;
  std::uint64_t undos = 0;  // loss responses undone as spurious (RFC 3708, RFC 4015)
  std::uint64_t bytes_sent = 0, bytes_acked = 0, bytes_received = 0;
  CongestionAlgorithm congestion = CongestionAlgorithm::Cubic;
  // The pacing rate in bytes per second, 0 when the sender does not pace (Linux: ss's
  // pacing_rate). BBR paces every connection; CUBIC and NewReno do not.
  std::uint64_t pacing_rate = 0;
  // BBR's model (draft-ietf-ccwg-bbr), as Linux's ss prints "bbr:(bw:...,mrtt:...,...)".
  struct BbrModel {
    std::string_view mode;     // "Startup", "Drain", "ProbeBW_DOWN", ... "ProbeRTT"
    std::uint64_t max_bw = 0;  // BBR.max_bw, bytes/s
    std::uint64_t bw = 0;      // BBR.bw = min(max_bw, bw_lo), bytes/s
    std::optional<Duration> min_rtt;
    double pacing_gain = 0, cwnd_gain = 0;
    std::optional<std::uint64_t> inflight_hi, inflight_lo;  // bytes; empty while unbounded
  };
  std::optional<BbrModel> bbr;
};

}  // namespace synack::tcp

namespace synack {
using tcp::ConnectionStatus;
}  // namespace synack
