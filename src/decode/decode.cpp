// SPDX-License-Identifier: MIT
// Passive inference of both ends' RFC 9293 states from a capture. See decode.hpp for what "the
// state after a segment" means when only the wire is seen.
#include "decode/decode.hpp"

#include <algorithm>
#include <limits>

#include "synack/seqnum.hpp"
#include "tcp/transitions.hpp"
#include "wire/ip_header.hpp"

namespace synack::decode {

using wire::tcp_flag::ACK;
using wire::tcp_flag::FIN;
using wire::tcp_flag::RST;
using wire::tcp_flag::SYN;

Expected<WireSegment, wire::ParseError> wire_segment_from_ip(std::span<const std::byte> ip_packet,
                                                             std::int64_t time_us,
                                                             std::uint64_t frame) {
  auto ip = wire::parse_ip_header(ip_packet);
  if (!ip) return Unexpected{ip.error()};
  if (ip->protocol != wire::kProtoTcp) return Unexpected{wire::ParseError::NotTcp};
  auto segment = ip_packet.subspan(ip->header_length, ip->payload_length);
  std::size_t header_length = 0;
  auto tcp = wire::parse_tcp_header(segment, &header_length);
  if (!tcp) return Unexpected{tcp.error()};
  WireSegment out;
  out.frame = frame;
  out.time_us = time_us;
  out.src = {ip->src, tcp->src_port};
  out.dst = {ip->dst, tcp->dst_port};
  out.tcp = *tcp;
  out.payload_length = static_cast<std::uint32_t>(segment.size() - header_length);
  return out;
}

std::string DecodedConnection::name(int side) const {
  return std::string(side == 0 ? "client " : "server ") + ends[side].to_string();
}

namespace {

// Sequence numbers compare as SeqNum (RFC 9293 §3.4, modular): SeqNum(a) < SeqNum(b).

bool has(const WireSegment& s, std::uint8_t flag) { return s.tcp.has(flag); }

// Sequence space a segment occupies: its data, plus one for SYN and one for FIN.
std::uint32_t space(const WireSegment& s) {
  return s.payload_length + (has(s, SYN) ? 1u : 0u) + (has(s, FIN) ? 1u : 0u);
}
std::uint32_t end_of(const WireSegment& s) { return s.tcp.seq + space(s); }
// The sequence number the FIN occupies (valid when the segment carries one).
std::uint32_t fin_seq_of(const WireSegment& s) {
  return s.tcp.seq + s.payload_length + (has(s, SYN) ? 1u : 0u);
}

// Where an arrival is placed: just before row k's own effect (2k) or just after it (2k+1).
using Position = std::size_t;
constexpr Position kNever = std::numeric_limits<Position>::max();
Position before_row(std::size_t k) { return 2 * k; }
Position after_row(std::size_t k) { return 2 * k + 1; }

// What an end knows of the connection, as far as the capture tells.
struct SideFacts {
  std::optional<std::uint32_t> syn_seq;  // its (first) SYN
  std::optional<std::uint32_t> fin_seq;  // its (first) FIN
};

enum class Evidence : std::uint8_t { Inconclusive, Consistent, Inconsistent };

// Is the peer's segment `t`, sent after `s` passed the capture point, consistent with the peer
// having received `s` before sending `t`?
Evidence judge(const WireSegment& s, const WireSegment& t) {
  if (has(s, RST)) return has(t, RST) ? Evidence::Consistent : Evidence::Inconsistent;
  bool inconsistent = false;
  bool consistent = false;
  if (has(s, SYN) || has(s, FIN)) {
    // A SYN or FIN that arrived is acknowledged by every later segment (RFC 9293 §3.10.7.4
    // eighth step: "send an acknowledgment for the FIN"); a SYN without ACK means the peer had
    // not seen ours (else it would have sent SYN,ACK).
    if (has(t, ACK)) {
      if (SeqNum(t.tcp.ack) >= SeqNum(end_of(s)))
        consistent = true;
      else
        inconsistent = true;
    } else if (has(s, SYN) && has(t, SYN)) {
      inconsistent = true;
    }
  }
  if (has(s, ACK)) {
    // The peer retransmits a SYN or FIN that `s` acknowledged: `s` had not arrived.
    if (has(t, SYN) && SeqNum(s.tcp.ack) > SeqNum(t.tcp.seq)) inconsistent = true;
    if (has(t, FIN) && SeqNum(s.tcp.ack) > SeqNum(fin_seq_of(t))) inconsistent = true;
  }
  if (inconsistent) return Evidence::Inconsistent;
  if (consistent) return Evidence::Consistent;
  if (!has(s, SYN) && !has(s, FIN) && (has(t, ACK) || has(t, RST))) return Evidence::Consistent;
  if (has(t, RST) && !has(t, ACK)) return Evidence::Consistent;  // the peer gave up anyway
  return Evidence::Inconclusive;
}

// Does `later`, from the same sender, repeat the effect `s` would have had on the peer?
bool repeats(const WireSegment& s, const WireSegment& later) {
  if (has(s, RST)) return has(later, RST);
  if (has(s, SYN))
    return has(later, SYN) && has(later, ACK) == has(s, ACK) && later.tcp.seq == s.tcp.seq;
  if (has(s, FIN)) return has(later, FIN) && fin_seq_of(later) == fin_seq_of(s);
  return has(later, ACK) && has(s, ACK) && SeqNum(later.tcp.ack) >= SeqNum(s.tcp.ack);
}

// When each segment arrived at its receiver, as positions in the row order (see decode.hpp).
std::vector<Position> schedule_arrivals(std::span<const WireSegment> segs,
                                        const std::vector<int>& from, std::vector<bool>& lost) {
  const std::size_t n = segs.size();
  constexpr std::size_t kMaxLook = 4096;  // bounds the work per segment on huge captures
  std::vector<std::vector<std::size_t>> rows_of(2);
  for (std::size_t i = 0; i < n; ++i) rows_of[static_cast<std::size_t>(from[i])].push_back(i);
  std::vector<Position> at(n, kNever);
  lost.assign(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    const int x = from[i];
    const auto& peer_rows = rows_of[static_cast<std::size_t>(1 - x)];
    auto it = std::upper_bound(peer_rows.begin(), peer_rows.end(), i);
    bool seen_inconsistent = false;
    std::size_t last_inconsistent = 0;
    std::optional<std::size_t> consistent_at;
    for (std::size_t looked = 0; it != peer_rows.end() && looked < kMaxLook; ++it, ++looked) {
      Evidence e = judge(segs[i], segs[*it]);
      if (e == Evidence::Consistent) {
        consistent_at = *it;
        break;
      }
      if (e == Evidence::Inconsistent) {
        seen_inconsistent = true;
        last_inconsistent = *it;
      }
    }
    // The evidence window: up to the peer's first segment that shows it received `s`.
    std::size_t evidence_end = consistent_at ? *consistent_at : n;
    // Lost after the capture point if the sender repeated its effect in the meantime. For a bare
    // ACK only when the peer showed it had not received it (else every ACK repeats the last).
    bool check_loss =
        has(segs[i], SYN) || has(segs[i], FIN) || has(segs[i], RST) || seen_inconsistent;
    if (check_loss) {
      for (std::size_t j = i + 1; j < evidence_end && j < n; ++j) {
        if (from[j] == x && repeats(segs[i], segs[j])) {
          lost[i] = true;
          break;
        }
      }
    }
    if (lost[i]) continue;
    if (!seen_inconsistent)
      at[i] = after_row(i);
    else if (consistent_at)
      at[i] = before_row(*consistent_at);
    else
      at[i] = after_row(last_inconsistent);
  }
  // The network may reorder, but a receiver processes a SYN or FIN in sequence order: keep each
  // direction's arrivals in order so a later segment never takes effect before an earlier one.
  Position last[2] = {0, 0};
  for (std::size_t i = 0; i < n; ++i) {
    if (at[i] == kNever) continue;
    auto& l = last[from[i]];
    at[i] = std::max(at[i], l);
    l = at[i];
  }
  return at;
}

// A stretch of sequence space a sender skipped: sent but not seen at the capture point.
struct Hole {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  std::int64_t since_us = 0;
};

// What the analysis tracks of each end, as a sender and as a state machine.
struct End {
  State state = State::Closed;
  bool passive = false;  // its connection came from LISTEN
  std::optional<std::uint32_t> iss;
  std::optional<std::uint32_t> fin_seq;  // once it has sent a FIN
  bool fin_received = false;
  // As a sender.
  bool seen = false;
  std::uint32_t highest_end = 0;  // highest sequence number end sent so far
  std::vector<Hole> holes;
  std::optional<std::uint32_t> last_ack;
  std::optional<std::uint32_t> last_window;  // scaled when known
  int duplicate_acks = 0;
  bool advertised_zero = false;
};

// RFC 9293 §3.10.7.3, SYN-SENT: an ACK is acceptable if SND.UNA < SEG.ACK =< SND.NXT, i.e. it
// acknowledges the SYN (and any data sent with it) and nothing beyond.
bool acks_syn(const End& end, std::uint32_t ack) {
  if (!end.iss) return false;
  std::uint32_t snd_nxt = end.seen ? end.highest_end : *end.iss + 1;
  return SeqNum(ack) > SeqNum(*end.iss) && SeqNum(ack) <= SeqNum(snd_nxt);
}

class Analysis {
 public:
  Analysis(std::span<const WireSegment> segs, int number) : segs_(segs) { c_.number = number; }

  DecodedConnection run();

 private:
  void identify_roles();
  void find_bases();
  void choose_initial_states();
  void analyse_sender(std::size_t k, DecodedSegment& row);
  void apply_send(std::size_t k, DecodedSegment& row);
  enum class Placement : std::uint8_t { BeforeSend, OwnArrival, Later };
  void apply_arrival(std::size_t k, DecodedSegment& row, Placement placement);
  void change(DecodedSegment& row, int side, State to, tcp::Cause cause,
              std::string_view note = {});
  void violation(DecodedSegment& row, std::string what);
  std::uint32_t scaled(int side, const WireSegment& s) const;

  std::span<const WireSegment> segs_;
  DecodedConnection c_;
  std::vector<int> from_;
  std::vector<bool> rst_acceptable_;
  End ends_[2];
  SideFacts facts_[2];
  std::int64_t reorder_threshold_us_ = 3000;
};

void Analysis::identify_roles() {
  const WireSegment& first = segs_.front();
  // The client sent the first SYN; failing that, the server sent the first SYN,ACK.
  for (const auto& s : segs_) {
    if (has(s, SYN) && !has(s, ACK)) {
      c_.ends[0] = s.src;
      c_.ends[1] = s.dst;
      return;
    }
  }
  for (const auto& s : segs_) {
    if (has(s, SYN) && has(s, ACK)) {
      c_.ends[0] = s.dst;
      c_.ends[1] = s.src;
      return;
    }
  }
  // No handshake: guess the server as the end with the lower (more likely well-known) port.
  c_.roles_guessed = true;
  bool src_is_server = first.src.port < first.dst.port;
  c_.ends[0] = src_is_server ? first.dst : first.src;
  c_.ends[1] = src_is_server ? first.src : first.dst;
}

void Analysis::find_bases() {
  for (const auto& s : segs_) {
    int x = s.src == c_.ends[0] ? 0 : 1;
    if (has(s, SYN) && !facts_[x].syn_seq) facts_[x].syn_seq = s.tcp.seq;
    if (has(s, FIN) && !facts_[x].fin_seq) facts_[x].fin_seq = fin_seq_of(s);
  }
  for (int side = 0; side < 2; ++side) {
    if (facts_[side].syn_seq) {
      c_.isn[side] = facts_[side].syn_seq;
      c_.base[side] = *facts_[side].syn_seq;
      continue;
    }
    // No SYN from this side: the first number that points into its sequence space — its own
    // first sequence number, or the peer's first acknowledgment (a SYN,ACK's ack is ISN + 1).
    for (const auto& s : segs_) {
      int x = s.src == c_.ends[0] ? 0 : 1;
      if (x == side) {
        c_.base[side] = s.tcp.seq;
        break;
      }
      if (has(s, ACK)) {
        c_.base[side] = has(s, SYN) ? s.tcp.ack - 1 : s.tcp.ack;
        if (has(s, SYN)) c_.isn[side] = s.tcp.ack - 1;
        break;
      }
    }
  }
  // RFC 7323 §2.2: window scaling is in effect only when both SYNs carried the option.
  std::optional<std::uint8_t> offered[2];
  bool syn_seen[2] = {false, false};
  for (const auto& s : segs_) {
    int x = s.src == c_.ends[0] ? 0 : 1;
    if (has(s, SYN) && !syn_seen[x]) {
      syn_seen[x] = true;
      offered[x] = s.tcp.options.window_scale;
    }
  }
  if (offered[0] && offered[1])
    for (int side = 0; side < 2; ++side)
      c_.window_scale[side] = std::min<std::uint8_t>(*offered[side], 14);  // RFC 7323 §2.3
}

void Analysis::choose_initial_states() {
  const WireSegment& first = segs_.front();
  if (!has(first, SYN)) {
    // Already open when the capture started (or its handshake was missed).
    c_.mid_stream = true;
    c_.initial[0] = c_.initial[1] = State::Established;
    c_.notes.push_back(
        "no handshake captured: the connection was already open when the capture started; both "
        "ends assumed ESTABLISHED, sequence numbers relative to the first seen");
    if (c_.roles_guessed)
      c_.notes.push_back("client and server guessed by port (the server has the lower port)");
    return;
  }
  c_.initial[0] = State::Closed;
  if (has(first, ACK)) {
    // The first segment is the server's SYN,ACK: the client's SYN went by uncaptured.
    c_.initial[0] = State::SynSent;
    c_.notes.push_back("the client's SYN was not captured; the client starts in SYN-SENT");
  }
  // The server listens (LISTEN), unless it answers the SYN with a RST (nobody listens: CLOSED)
  // or opens actively itself (a SYN without ACK: simultaneous open).
  c_.initial[1] = State::Listen;
  for (std::size_t i = 0; i < segs_.size(); ++i) {
    if (from_[i] != 1) continue;
    const auto& s = segs_[i];
    if (has(s, RST)) {
      c_.initial[1] = State::Closed;
      c_.notes.push_back("the server answered with RST: nobody listens on " +
                         c_.ends[1].to_string());
    } else if (has(s, SYN) && !has(s, ACK)) {
      c_.initial[1] = State::Closed;
      c_.notes.push_back("both ends sent a SYN: simultaneous open (RFC 9293 §3.5, Figure 7)");
    }
    break;
  }
  if (c_.initial[0] == State::SynSent) ends_[0].iss = c_.isn[0];
}

std::uint32_t Analysis::scaled(int side, const WireSegment& s) const {
  // RFC 7323 §2.2: the window of a SYN is never scaled.
  if (has(s, SYN) || !c_.window_scale[side]) return s.tcp.window;
  return std::uint32_t{s.tcp.window} << *c_.window_scale[side];
}

// A change of state in the words of the transition table (tcp/transitions.hpp), with a note
// on how the capture showed it. The table lists every (from, to, cause) RFC 9293 allows; one
// it lacks is reported as a violation (a bug in this analysis if the tests ever see one).
void Analysis::change(DecodedSegment& row, int side, State to, tcp::Cause cause,
                      std::string_view note) {
  End& e = ends_[side];
  if (e.state == to) return;
  if (!tcp::is_listed(e.state, to, cause))
    violation(row, std::string(to_string(e.state)) + " -> " + std::string(to_string(to)) +
                       " on \"" + std::string(tcp::label(cause)) +
                       "\" is not a transition of RFC 9293 (tcp/transitions.hpp)");
  row.changes.push_back(
      StateChange{side, e.state, to, std::string(tcp::label(cause)) + std::string(note)});
  e.state = to;
}

void Analysis::violation(DecodedSegment& row, std::string what) {
  row.violations.push_back(std::move(what));
  ++c_.counts.violations;
}

// Relative numbers, retransmissions, out-of-order, duplicate ACKs, windows, and the checks that
// need only the sequence spaces.
void Analysis::analyse_sender(std::size_t k, DecodedSegment& row) {
  const WireSegment& s = segs_[k];
  const int x = from_[k];
  const int y = 1 - x;
  End& me = ends_[x];
  End& peer = ends_[y];
  const std::uint32_t seq = s.tcp.seq;
  const std::uint32_t len = s.payload_length;
  const std::uint32_t end = end_of(s);

  row.seq = seq - c_.base[x];
  row.has_ack = has(s, ACK);
  row.ack = row.has_ack ? s.tcp.ack - c_.base[y] : 0;
  row.options = s.tcp.options;
  for (std::size_t i = 0; i < row.options.sack_count && i < row.options.sack.size(); ++i) {
    row.options.sack[i].left -= c_.base[y];
    row.options.sack[i].right -= c_.base[y];
  }
  if (has(s, SYN) || c_.window_scale[x]) row.scaled_window = scaled(x, s);

  if (has(s, RST)) {
    row.notes.push_back("reset");
    ++c_.counts.resets;
    // RFC 9293 §3.10.7.3: in SYN-SENT a RST is acceptable if it acknowledges the SYN;
    // §3.10.7.4 first step: otherwise if its sequence number is in the receive window.
    bool acceptable = true;
    if (peer.state == State::SynSent) {
      acceptable = has(s, ACK) && acks_syn(peer, s.tcp.ack);
      if (!acceptable) row.notes.push_back("does not acknowledge the SYN: ignored (§3.10.7.3)");
    } else if (me.seen && peer.last_window) {
      std::uint32_t window = std::max<std::uint32_t>(*peer.last_window, 1);
      std::uint32_t offset = seq - me.highest_end;
      if (offset >= window) {
        acceptable = false;
        row.notes.push_back("outside the receive window: ignored (RFC 9293 §3.10.7.4)");
      } else if (offset != 0) {
        row.notes.push_back(
            "in the window but not at RCV.NXT: RFC 5961 receivers send a "
            "challenge ACK instead");
      }
    }
    rst_acceptable_[k] = acceptable;
  }

  // Sequence space: new, retransmitted, out of order, or past a gap.
  const std::uint32_t sp = space(s);
  bool keepalive = false;
  if (!me.seen) {
    me.seen = true;
    me.highest_end = end;
    if (!has(s, SYN) && !facts_[x].syn_seq && c_.isn[x] && SeqNum(seq) > SeqNum(*c_.isn[x] + 1))
      row.notes.push_back("previous segment not captured");
  } else if (!has(s, RST)) {
    // One byte (or none) just below the next sequence number: a keep-alive (RFC 9293 §3.8.4),
    // or a zero-window probe when the peer's window is closed (Linux probes this way).
    if (len <= 1 && !has(s, SYN) && !has(s, FIN) && seq == me.highest_end - 1) {
      keepalive = true;
      row.notes.push_back(peer.advertised_zero ? "zero-window probe" : "keep-alive");
    } else if (SeqNum(seq) > SeqNum(me.highest_end)) {
      row.notes.push_back("previous segment not captured (" + std::to_string(seq - me.highest_end) +
                          " bytes)");
      me.holes.push_back(Hole{me.highest_end, seq, s.time_us});
      if (me.holes.size() > 64) me.holes.erase(me.holes.begin());
      me.highest_end = sp > 0 ? end : seq;
    } else if (sp > 0 && seq == me.highest_end) {
      me.highest_end = end;
      if (peer.advertised_zero && len == 1) row.notes.push_back("zero-window probe");
    } else if (sp > 0) {
      // Below the highest sequence number sent: does it fill a stretch never seen?
      bool fills_hole = false;
      std::int64_t hole_age = 0;
      std::vector<Hole> remaining;
      for (const auto& h : me.holes) {
        if (SeqNum(seq) < SeqNum(h.end) && SeqNum(end) > SeqNum(h.start)) {
          fills_hole = true;
          hole_age = std::max(hole_age, s.time_us - h.since_us);
          if (SeqNum(h.start) < SeqNum(seq)) remaining.push_back(Hole{h.start, seq, h.since_us});
          if (SeqNum(end) < SeqNum(h.end)) remaining.push_back(Hole{end, h.end, h.since_us});
        } else {
          remaining.push_back(h);
        }
      }
      me.holes = std::move(remaining);
      if (fills_hole && hole_age < reorder_threshold_us_) {
        row.out_of_order = true;
        row.notes.push_back("out of order");
        ++c_.counts.out_of_order;
      } else {
        row.retransmission = true;
        row.notes.push_back(fills_hole ? "retransmission (the first copy was lost before the "
                                         "capture point)"
                                       : "retransmission");
        ++c_.counts.retransmissions;
      }
      if (SeqNum(end) > SeqNum(me.highest_end)) {
        row.notes.back() += ", with new data";
        me.highest_end = end;
      }
    }
  }

  // RFC 9293 consistency of the segment itself.
  if (has(s, SYN) && len > 0)
    violation(row, "SYN with " + std::to_string(len) +
                       " bytes of data: held until ESTABLISHED (§3.10.7.3); only TCP Fast Open "
                       "(RFC 7413) does this on purpose");
  if (len > 0 && me.fin_seq && SeqNum(seq + len) > SeqNum(*me.fin_seq))
    violation(row, "data after FIN: sequence space past the FIN (relative " +
                       std::to_string(*me.fin_seq - c_.base[x]) + ")");
  if (has(s, SYN) && has(s, ACK) && peer.iss && !acks_syn(peer, s.tcp.ack))
    violation(row, "SYN,ACK acknowledges relative " + std::to_string(s.tcp.ack - *peer.iss) +
                       ", not the SYN (§3.10.7.3: SND.UNA < SEG.ACK =< SND.NXT fails; the peer "
                       "answers RST)");
  if (has(s, ACK) && peer.seen && SeqNum(s.tcp.ack) > SeqNum(peer.highest_end) && !has(s, RST))
    violation(row, "ACK of unsent data: acknowledges " +
                       std::to_string(s.tcp.ack - peer.highest_end) + " bytes " + c_.name(y) +
                       " never sent (or the capture missed them; §3.10.7.4 fifth: "
                       "\"send an ACK, drop the segment\")");
  if (!has(s, ACK) && !has(s, RST) && !has(s, SYN) && is_synchronized(me.state))
    violation(row, "no ACK bit on a segment in a synchronized state (§3.10.7.4 fifth: dropped)");

  // Duplicate ACKs (RFC 5681 §2): no data, no SYN/FIN, same ACK and window, data outstanding.
  std::uint32_t window = scaled(x, s);
  bool pure_ack = has(s, ACK) && len == 0 && !has(s, SYN) && !has(s, FIN) && !has(s, RST);
  if (pure_ack && !keepalive && me.last_ack && s.tcp.ack == *me.last_ack && me.last_window &&
      window == *me.last_window && peer.seen && SeqNum(peer.highest_end) > SeqNum(s.tcp.ack)) {
    row.duplicate_ack = ++me.duplicate_acks;
    row.notes.push_back("duplicate ACK #" + std::to_string(row.duplicate_ack));
    ++c_.counts.duplicate_acks;
  } else if (has(s, ACK) && (!me.last_ack || SeqNum(s.tcp.ack) > SeqNum(*me.last_ack))) {
    me.duplicate_acks = 0;
  }
  if (!has(s, RST)) {
    if (s.tcp.window == 0) {
      row.zero_window = true;
      row.notes.push_back("zero window");
      ++c_.counts.zero_windows;
      me.advertised_zero = true;
    } else if (me.advertised_zero) {
      row.notes.push_back("window update: the window opens again");
      me.advertised_zero = false;
    }
    me.last_window = window;
  }
  if (has(s, ACK) && (!me.last_ack || SeqNum(s.tcp.ack) > SeqNum(*me.last_ack)))
    me.last_ack = s.tcp.ack;
}

// The sender's own state change (RFC 9293 §3.10.1–§3.10.4: OPEN, SEND, CLOSE, ABORT).
void Analysis::apply_send(std::size_t k, DecodedSegment& row) {
  const WireSegment& s = segs_[k];
  const int x = from_[k];
  End& me = ends_[x];
  const State st = me.state;
  if (has(s, RST)) {
    // A RST from an end without a connection (CLOSED) or from a listener is its answer to a
    // segment it cannot take (§3.10.7.1, §3.10.7.2); anywhere else it is an ABORT (§3.10.5).
    // In the table's words: ABORT sends its RST in SYN-RECEIVED and the synchronized states
    // before CLOSING; from SYN-SENT, CLOSING, LAST-ACK and TIME-WAIT it sends none.
    if (st != State::Closed && st != State::Listen)
      change(row, x, State::Closed,
             tcp::is_listed(st, State::Closed, tcp::Cause::AbortSndRst) ? tcp::Cause::AbortSndRst
                                                                        : tcp::Cause::AbortDelete,
             " (snd RST)");
    return;
  }
  if (st == State::Closed && !(has(s, SYN) && !has(s, ACK))) {
    violation(row,
              "segment from a CLOSED end (only a RST may come from an end without a "
              "connection)");
    return;
  }
  if (has(s, SYN)) {
    if (!has(s, ACK)) {
      if (st == State::Closed || st == State::Listen) {
        me.iss = s.tcp.seq;
        change(row, x, State::SynSent,
               st == State::Closed ? tcp::Cause::ActiveOpen : tcp::Cause::SendSyn);
      } else if (is_synchronized(st)) {
        violation(row, "SYN from an end in " + std::string(to_string(st)) +
                           " (§3.10.7.4 fourth: the peer answers with a challenge ACK)");
      }
    } else {
      if (!me.iss) me.iss = s.tcp.seq;
      if (st == State::Listen) {
        // Its SYN,ACK answers a SYN the capture did not show.
        me.passive = true;
        change(row, x, State::SynReceived, tcp::Cause::RcvSyn, " (SYN not captured)");
      } else if (st == State::SynSent) {
        violation(row, "SYN,ACK from SYN-SENT before any SYN from the peer arrived");
      } else if (is_synchronized(st)) {
        violation(row, "SYN,ACK from an end in " + std::string(to_string(st)));
      }
    }
  } else if (st == State::Listen) {
    violation(row, "segment from a LISTEN end that is neither SYN,ACK nor RST");
    return;
  } else if (st == State::SynSent && (s.payload_length > 0 || has(s, FIN) || has(s, ACK))) {
    violation(row, "segment from SYN-SENT before the peer's SYN arrived");
  }
  if (has(s, FIN)) {
    const std::uint32_t fin = fin_seq_of(s);
    if (me.fin_seq && *me.fin_seq != fin) {
      violation(row, "a second FIN at another sequence number (relative " +
                         std::to_string(fin - c_.base[x]) + ", the first was at " +
                         std::to_string(*me.fin_seq - c_.base[x]) + ")");
    }
    if (!me.fin_seq) me.fin_seq = fin;
    switch (me.state) {
      case State::SynReceived:
      case State::Established:
        change(row, x, State::FinWait1, tcp::Cause::CloseSndFin);
        break;
      case State::CloseWait:
        change(row, x, State::LastAck, tcp::Cause::CloseSndFin);
        break;
      case State::SynSent:
        violation(row, "FIN from SYN-SENT (§3.10.4: CLOSE in SYN-SENT sends nothing)");
        break;
      default:
        break;  // FIN-WAIT-1, CLOSING, LAST-ACK: a retransmitted FIN
    }
  }
}

// The segment's arrival at its receiver (RFC 9293 §3.10.7).
void Analysis::apply_arrival(std::size_t k, DecodedSegment& row, Placement placement) {
  const WireSegment& s = segs_[k];
  const int y = 1 - from_[k];
  End& me = ends_[y];
  std::string late = placement == Placement::OwnArrival
                         ? ""
                         : " (frame " + std::to_string(s.frame) + ", arrived later than seen)";
  auto to = [&](State next, tcp::Cause cause, std::string_view note = {}) {
    std::size_t before = row.changes.size();
    change(row, y, next, cause, std::string(note) + late);
    if (row.changes.size() > before && placement == Placement::BeforeSend)
      row.changes.back().before_segment = true;
  };

  switch (me.state) {
    case State::Closed:
      return;  // §3.10.7.1: answered with a RST, no state to change
    case State::Listen:
      // §3.10.7.2: RST ignored; ACK answered with RST; SYN starts a connection.
      if (!has(s, RST) && !has(s, ACK) && has(s, SYN)) {
        me.passive = true;
        to(State::SynReceived, tcp::Cause::RcvSyn);
      }
      return;
    case State::SynSent: {
      // §3.10.7.3: the ACK must acknowledge our SYN.
      bool ack_ok = has(s, ACK) && acks_syn(me, s.tcp.ack);
      if (has(s, ACK) && !ack_ok) return;  // answered with RST (or, for a RST, ignored)
      if (has(s, RST)) {
        if (ack_ok) to(State::Closed, tcp::Cause::RcvRstDelete, " (connection refused)");
        return;
      }
      if (!has(s, SYN)) return;
      if (ack_ok) {
        to(State::Established, tcp::Cause::RcvSynAck);
      } else {
        to(State::SynReceived, tcp::Cause::RcvSyn, " (simultaneous open)");
        return;
      }
      break;  // a FIN on the SYN,ACK is processed below
    }
    default: {
      // §3.10.7.4 first: RST.
      if (has(s, RST)) {
        if (!rst_acceptable_[k]) return;
        if (me.state == State::SynReceived && me.passive)
          to(State::Listen, tcp::Cause::RcvRstToListen);
        else
          to(State::Closed, tcp::Cause::RcvRstDelete);
        return;
      }
      // Fourth: a SYN in a synchronized state gets a challenge ACK (RFC 5961 §4); in
      // SYN-RECEIVED the peer's retransmitted SYN gets the SYN,ACK again.
      if (has(s, SYN) && !has(s, ACK)) return;
      // Fifth: without ACK the segment is dropped.
      if (!has(s, ACK)) return;
      if (me.state == State::SynReceived) {
        if (!(me.iss && SeqNum(s.tcp.ack) > SeqNum(*me.iss))) return;  // unacceptable: RST
        to(State::Established, tcp::Cause::RcvAckOfSyn);
      }
      if (me.fin_seq && SeqNum(s.tcp.ack) > SeqNum(*me.fin_seq)) {
        if (me.state == State::FinWait1)
          to(State::FinWait2, tcp::Cause::RcvAckOfFin);
        else if (me.state == State::Closing)
          to(State::TimeWait, tcp::Cause::RcvAckOfFin);
        else if (me.state == State::LastAck)
          to(State::Closed, tcp::Cause::RcvAckOfFinDelete);
      }
      break;
    }
  }
  // Eighth: the FIN.
  if (has(s, FIN) && !me.fin_received) {
    me.fin_received = true;
    switch (me.state) {
      case State::SynReceived:
      case State::Established:
        to(State::CloseWait, tcp::Cause::RcvFin);
        break;
      case State::FinWait1:
        // "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT ...
        // otherwise, enter the CLOSING state." (It was not: the ACK step above moved us on.)
        to(State::Closing, tcp::Cause::RcvFin);
        break;
      case State::FinWait2:
        to(State::TimeWait, tcp::Cause::RcvFin);
        break;
      default:
        break;
    }
  }
}

DecodedConnection Analysis::run() {
  if (segs_.empty()) return c_;
  identify_roles();
  from_.resize(segs_.size());
  for (std::size_t i = 0; i < segs_.size(); ++i) from_[i] = segs_[i].src == c_.ends[0] ? 0 : 1;
  find_bases();
  choose_initial_states();
  for (int side = 0; side < 2; ++side) ends_[side].state = c_.initial[side];
  rst_acceptable_.assign(segs_.size(), true);

  // A reordering threshold from the handshake's round trip at the capture point.
  {
    std::optional<std::int64_t> syn_at;
    for (std::size_t i = 0; i < segs_.size(); ++i) {
      const auto& s = segs_[i];
      if (from_[i] == 0 && has(s, SYN) && !has(s, ACK) && !syn_at) syn_at = s.time_us;
      if (syn_at && from_[i] == 0 && !has(s, SYN) && has(s, ACK)) {
        reorder_threshold_us_ = std::max<std::int64_t>(s.time_us - *syn_at, 1000);
        break;
      }
    }
  }

  std::vector<bool> lost;
  std::vector<Position> arrival = schedule_arrivals(segs_, from_, lost);
  // Arrivals by position, in segment order within a position.
  std::vector<std::pair<Position, std::size_t>> order;
  for (std::size_t i = 0; i < segs_.size(); ++i)
    if (arrival[i] != kNever) order.emplace_back(arrival[i], i);
  std::sort(order.begin(), order.end());
  std::size_t next_arrival = 0;

  c_.segments.reserve(segs_.size());
  for (std::size_t k = 0; k < segs_.size(); ++k) {
    DecodedSegment row;
    row.wire = segs_[k];
    row.from = from_[k];
    for (; next_arrival < order.size() && order[next_arrival].first == before_row(k);
         ++next_arrival)
      apply_arrival(order[next_arrival].second, row, Placement::BeforeSend);
    analyse_sender(k, row);
    std::size_t own_first = row.changes.size();
    apply_send(k, row);
    // The sender enters its new state as it sends: drawn above the arrow, like the arrivals
    // this segment revealed.
    for (std::size_t i = own_first; i < row.changes.size(); ++i)
      row.changes[i].before_segment = true;
    for (; next_arrival < order.size() && order[next_arrival].first == after_row(k); ++next_arrival)
      apply_arrival(order[next_arrival].second, row,
                    order[next_arrival].second == k ? Placement::OwnArrival : Placement::Later);
    if (lost[k]) {
      row.lost_after_capture = true;
      row.notes.push_back(
          "lost after the capture point (the sender repeats it before the peer "
          "shows it arrived)");
    }
    row.state_after[0] = ends_[0].state;
    row.state_after[1] = ends_[1].state;
    c_.segments.push_back(std::move(row));
  }
  c_.final_state[0] = ends_[0].state;
  c_.final_state[1] = ends_[1].state;
  for (int side = 0; side < 2; ++side)
    if (c_.final_state[side] == State::TimeWait)
      c_.notes.push_back(
          c_.name(side) +
          " ends in TIME-WAIT: it leaves after 2 MSL, beyond what the capture shows");
  return c_;
}

}  // namespace

DecodedConnection analyze_connection(std::span<const WireSegment> segments, int number) {
  return Analysis(segments, number).run();
}

void ConnectionTracker::add(const WireSegment& segment) {
  Key key =
      segment.src < segment.dst ? Key{segment.src, segment.dst} : Key{segment.dst, segment.src};
  auto it = current_.find(key);
  bool syn_only = has(segment, SYN) && !has(segment, ACK);
  bool start_new = it == current_.end();
  if (!start_new && syn_only) {
    const Group& g = groups_[it->second];
    // Port reuse: a fresh SYN on a 4-tuple whose connection has ended.
    start_new = g.ended &&
                !(g.syn_seq && *g.syn_seq == segment.tcp.seq && g.first_syn_sender == segment.src);
  }
  if (start_new) {
    groups_.emplace_back();
    current_[key] = groups_.size() - 1;
    it = current_.find(key);
  }
  Group& g = groups_[it->second];
  if (syn_only && !g.syn_seq) {
    g.syn_seq = segment.tcp.seq;
    g.first_syn_sender = segment.src;
  }
  if (has(segment, RST) || has(segment, FIN)) g.ended = true;
  g.segments.push_back(segment);
}

std::vector<DecodedConnection> ConnectionTracker::finish() const {
  std::vector<DecodedConnection> out;
  out.reserve(groups_.size());
  for (std::size_t i = 0; i < groups_.size(); ++i)
    out.push_back(analyze_connection(groups_[i].segments, static_cast<int>(i) + 1));
  return out;
}

}  // namespace synack::decode
