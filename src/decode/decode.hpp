// SPDX-License-Identifier: MIT
// `synack decode`: reads the TCP segments of a capture, groups them into connections and infers,
// segment by segment, the RFC 9293 state of BOTH ends — without seeing either end's memory.
//
// What "the state after a segment" means here. The capture was taken at one point on the path.
// An end changes state when it sends a segment (sending a SYN puts it in SYN-SENT, a FIN in
// FIN-WAIT-1 or LAST-ACK, a RST in CLOSED) and when a segment of its peer arrives (§3.10.7). The
// capture shows when a segment passed the capture point, not when it arrived, so every state is
// "as seen at the capture point": a segment is taken to arrive when it is seen, unless what the
// receiver sends next proves otherwise. The receiver's next segments are the evidence:
//   - a SYN or FIN has arrived once the receiver acknowledges it; if the receiver's next segment
//     does not (it crossed the FIN in flight: simultaneous close; or it sent its own SYN:
//     simultaneous open), the arrival is moved to just before the first segment that does;
//   - an ACK of the receiver's SYN or FIN has not arrived if the receiver then retransmits it;
//   - a segment whose effect the sender repeats (a retransmitted SYN, FIN, ACK or RST) before the
//     receiver shows it arrived was lost after the capture point; the repeat takes its place.
// A connection already open when the capture began starts with both ends in ESTABLISHED. TIME-WAIT
// lasts 2 MSL, longer than most captures: an end in TIME-WAIT at the end stays there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "observe/ladder.hpp"
#include "synack/expected.hpp"
#include "synack/state.hpp"
#include "wire/ip_address.hpp"
#include "wire/parse_error.hpp"
#include "wire/tcp_header.hpp"

namespace synack::decode {

// One TCP segment as it passed the capture point.
struct WireSegment {
  std::uint64_t frame = 0;   // frame number in the capture (1-based), for cross-reference
  std::int64_t time_us = 0;  // capture time, µs (Unix time from a file; any origin in tests)
  wire::Endpoint src;
  wire::Endpoint dst;
  wire::TcpHeader tcp;
  std::uint32_t payload_length = 0;
};

// Parses an IP packet carrying TCP into a WireSegment. Checksums are not verified: captures taken
// on the sending host carry unfinished checksums when the NIC computes them (offload). Errors: any
// wire::ParseError of the IP or TCP header; NotTcp for other protocols.
Expected<WireSegment, wire::ParseError> wire_segment_from_ip(std::span<const std::byte> ip_packet,
                                                             std::int64_t time_us,
                                                             std::uint64_t frame = 0);

struct StateChange {
  int side = 0;  // 0 = client, 1 = server
  State from = State::Closed;
  State to = State::Closed;
  // The transition table's label (tcp/transitions.hpp), e.g. "rcv FIN / snd ACK", and what
  // the capture adds: " (simultaneous open)", " (frame 9, arrived later than seen)", ...
  std::string cause;
  // Happened as or before this segment was sent (drawn above its arrow): the sender's own
  // change, or the arrival of an earlier segment that this one reveals.
  bool before_segment = false;
};

// One row of a connection's timeline.
struct DecodedSegment {
  WireSegment wire;
  int from = 0;           // 0 = client, 1 = server
  std::uint32_t seq = 0;  // relative to the sender's ISN (or first seen sequence number)
  std::uint32_t ack = 0;  // relative to the receiver's
  bool has_ack = false;
  wire::TcpOptions options;                    // SACK edges relative like `ack`
  std::optional<std::uint32_t> scaled_window;  // window << scale, once scaling is known
  // Analysis, in the words Wireshark and RFC 5681 use.
  bool retransmission = false;
  bool out_of_order = false;
  bool lost_after_capture = false;  // its effect was repeated before it showed up at the peer
  int duplicate_ack = 0;            // n for the n-th duplicate ACK, else 0
  bool zero_window = false;
  std::vector<std::string> notes;       // "retransmission", "duplicate ACK #2", "zero window", ...
  std::vector<std::string> violations;  // inconsistent with RFC 9293
  // State changes this segment caused or revealed, in order: first arrivals of earlier segments
  // the sender must have received before sending it, then the sender's own change, then this
  // segment's arrival at the peer, then later arrivals that no further segment contradicts.
  std::vector<StateChange> changes;
  State state_after[2] = {State::Closed, State::Closed};
};

struct DecodedConnection {
  int number = 0;              // 1-based, in order of first segment
  wire::Endpoint ends[2];      // [0] client (sent the first SYN), [1] server
  bool mid_stream = false;     // no handshake captured: both ends assumed ESTABLISHED at first
  bool roles_guessed = false;  // no SYN seen: the server is guessed (lower port)
  std::optional<std::uint32_t> isn[2];          // from each end's SYN, when captured
  std::uint32_t base[2] = {0, 0};               // what relative numbers count from
  std::optional<std::uint8_t> window_scale[2];  // in effect when both SYNs carried one
  State initial[2] = {State::Closed, State::Closed};
  State final_state[2] = {State::Closed, State::Closed};
  std::vector<DecodedSegment> segments;
  std::vector<std::string> notes;  // about the whole connection
  struct Counts {
    int retransmissions = 0;
    int out_of_order = 0;
    int duplicate_acks = 0;
    int zero_windows = 0;
    int resets = 0;
    int violations = 0;
  } counts;

  std::int64_t start_us() const { return segments.empty() ? 0 : segments.front().wire.time_us; }
  std::string name(int side) const;  // "client 198.18.5.2:34106"
};

// The whole analysis of one connection's segments, given in capture order. Testable on its own:
// tests build segment lists by hand. All segments must belong to one 4-tuple.
DecodedConnection analyze_connection(std::span<const WireSegment> segments, int number = 1);

// Groups segments into connections by 4-tuple, in capture order. A SYN on a 4-tuple whose
// connection has ended (RST, or FIN from an end) with a new ISN starts a new connection.
class ConnectionTracker {
 public:
  void add(const WireSegment& segment);
  // Analyses every connection; numbered by first appearance.
  std::vector<DecodedConnection> finish() const;
  std::size_t connection_count() const { return groups_.size(); }

 private:
  struct Group {
    std::vector<WireSegment> segments;
    wire::Endpoint first_syn_sender;
    std::optional<std::uint32_t> syn_seq;
    bool ended = false;  // RST or FIN seen
  };
  using Key = std::pair<wire::Endpoint, wire::Endpoint>;  // ordered: smaller first
  std::vector<Group> groups_;
  std::map<Key, std::size_t> current_;
};

// The connection as a ladder (for render_text and render_svg).
observe::Ladder to_ladder(const DecodedConnection& connection);

struct TableOptions {
  bool color = false;
  bool unicode = true;
};
// A dense per-connection table: one row per segment with both ends' states after it.
std::string render_table(const DecodedConnection& connection, const TableOptions& options = {});

// One JSON object for the connection (segments, states, notes); `synack decode --json` prints
// a list of them.
nlohmann::ordered_json to_json(const DecodedConnection& connection);

}  // namespace synack::decode
