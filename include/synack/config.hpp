// SPDX-License-Identifier: MIT
// Tunables of one connection and of a stack. Every resource has a bound here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "synack/memory_budget.hpp"
#include "synack/time.hpp"

namespace synack {

// CUBIC (RFC 9438, the default), NewReno (RFC 5681/6582), BBR (draft-ietf-ccwg-bbr, BBRv3;
// paced, and allocates a delivery-rate estimator per connection).
enum class CongestionAlgorithm : std::uint8_t { Cubic, NewReno, Bbr };

// The names the command line and status use ("cubic", "newreno", "bbr"), as Linux's
// TCP_CONGESTION names them ("reno" is taken for NewReno too).
constexpr std::optional<CongestionAlgorithm> congestion_from_name(std::string_view name) {
  if (name == "cubic") return CongestionAlgorithm::Cubic;
  if (name == "newreno" || name == "reno") return CongestionAlgorithm::NewReno;
  if (name == "bbr") return CongestionAlgorithm::Bbr;
  return std::nullopt;
}
constexpr std::string_view congestion_name(CongestionAlgorithm c) {
  switch (c) {
    case CongestionAlgorithm::Cubic:
      return "cubic";
    case CongestionAlgorithm::NewReno:
      return "newreno";
    case CongestionAlgorithm::Bbr:
      return "bbr";
  }
  return "?";
}

// How the sender decides a segment is lost (with SACK in use; without SACK both fall back on
// RFC 5681/6582 duplicate ACKs). Rack: RFC 8985 RACK, by time — the default, as in Linux.
// DupThresh: RFC 6675 IsLost only (DupThresh SACKed segments above a hole).
enum class LossDetection : std::uint8_t { Rack, DupThresh };

// RFC 4987 §3.6 SYN cookies, as Linux's net.ipv4.tcp_syncookies: Auto (1) answers with a
// cookie only when a listener's SYN queue is full; Always (2) answers every SYN to a
// listener with one and keeps no half-open state at all; Never (0) drops SYNs once the
// queue is full (counted as tcp_syn_queue_overflow).
enum class SynCookieMode : std::uint8_t { Auto, Always, Never };

struct TcpConfig {
  // MSS we announce and the ceiling for what we send. Stacks derive it from the MTU.
  std::uint16_t mss = 1460;
  // Bytes of send and receive buffer; allocated lazily on first use.
  std::uint32_t send_buffer = 256 * 1024;
  std::uint32_t receive_buffer = 256 * 1024;
  // RFC 7323 window scaling, RFC 2018 SACK, RFC 7323 timestamps: offered in our SYN.
  bool window_scale = true;
  // The buffer size the window-scale shift is chosen for (RFC 7323 §2.3: the shift must let
  // the window field cover it); 0 = receive_buffer. Linux sizes the shift for the largest
  // buffer autotuning may reach (tcp_rmem[2]), not for the initial one.
  std::uint32_t window_scale_buffer = 0;
  bool sack = true;
  bool timestamps = true;
  // RFC 9293 §3.7.4 Nagle's algorithm; no_delay turns it off (TCP_NODELAY).
  bool no_delay = false;
  // RFC 9293 §3.8.6.3: delayed ACK. MUST be less than 0.5 s; 40 ms is Linux's minimum.
  Duration delayed_ack = 40ms;
  // Follows Linux (tcp_incr_quickack, TCP_MAX_QUICKACKS = 16): the first in-order data
  // segments of a connection, and the first after an idle time longer than the RTO, are
  // ACKed at once, up to this many ACKs (fewer when the window holds fewer than 2 x MSS per
  // ACK), unless the connection is interactive (we answered data within delayed_ack: Linux's
  // "pingpong" mode). 0: off, every segment follows RFC 9293 §3.8.6.3 alone.
  std::uint8_t quick_acks = 0;
  // RFC 6298: initial RTO 1 s (§2.1). The minimum follows Linux (200 ms), not RFC 6298 §2.4's
  // 1 s: on today's networks 1 s idles a connection for far longer than any real RTT.
  Duration rto_initial = 1s;
  Duration rto_min = 200ms;
  // RFC 6298 §2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds";
  // 60 s here, Linux's TCP_RTO_MAX of 120 s in the linux profile (Linux 6.15 made it a
  // setting, tcp_rto_max_ms, that may go lower). Over a lossy path a backoff to 120 s can
  // idle a connection for two minutes after a few losses in a row (soak seed 11664: 102 s
  // between the last two retransmissions of one segment).
  Duration rto_max = 60s;
  // Follows Linux: RTO = SRTT + max(4 * RTTVAR, rto_min) rather than RFC 6298's
  // max(SRTT + 4 * RTTVAR, rto_min) — the minimum pads the variance.
  bool rto_min_in_variance = false;
  // RFC 6298 §5.7 (MUST): when a SYN or SYN,ACK timed out with rto_initial below this (3 s)
  // and the handshake gave no RTT sample, the RTO is re-initialized to it as data
  // transmission begins. 0 turns it off: Linux 6.x keeps the 1 s RTO there (the linux
  // profile; tests/packetdrill/scripts/rto-initial-1s-without-rtt-sample.pkt).
  Duration rto_after_syn_timeout = 3s;
  // Retransmissions of SYN / SYN,ACK before giving up. 7 gives 255 s with the initial RTO of
  // 1 s: RFC 9293 §3.8.3 (MUST-23) asks for at least 3 minutes (Linux's 6 gives 127 s).
  std::uint8_t syn_retries = 7;
  // Follows Linux (net.ipv4.tcp_syn_linear_timeouts, 6.5+): this many SYN retransmissions
  // keep the initial RTO before exponential backoff starts (SYN-SENT only). 0: RFC 6298
  // §5.5 backoff from the first.
  std::uint8_t syn_linear_timeouts = 0;
  // Retransmissions of a SYN,ACK (SYN-RECEIVED) when it differs from syn_retries (Linux has
  // tcp_synack_retries = 5 beside tcp_syn_retries); unset: syn_retries.
  std::optional<std::uint8_t> synack_retries;
  // RFC 9293 §3.8.3 R2 for data and FIN, as a count of backed-off retransmissions and,
  // optionally, as a user timeout in time (0 = not set). 22 retransmissions from a 200 ms
  // RTO, backing off to the 60 s maximum, give up 942 s after the first transmission — about
  // what Linux's tcp_retries2 = 15 gives with its 120 s maximum (924.6 s, tcp_model_timeout),
  // so that the lower maximum gives a dying path more tries instead of a shorter life (soak
  // seed 77682: six ACKs in a row lost, then recovered at the 19th retransmission). The linux
  // profile keeps 15 and 120 s.
  std::uint8_t data_retries = 22;
  Duration user_timeout{0};
  // Follows Linux's bounds for orphans — connections the application has closed
  // (Stack::close), which nobody waits for or can abort any more:
  // - orphan_retries (Linux: tcp_orphan_retries, whose default 0 means 8): an orphan whose
  //   zero-window probes have drawn this many zero-window answers is given up (Linux
  //   b248230c, "abort orphan sockets stalling on zero window probes"; RFC 9293 §3.8.6.1
  //   leaves MUST-37 "subject to the implementation's resource management concerns"):
  //   otherwise a receiver that answers every probe with a zero window holds the connection
  //   for ever — the FIN-WAIT-1 zero-window attack. From the 200 ms RTO floor, 8 answered
  //   probes end it 102.2 s after the window closed. Linux counts every probe, lost or not,
  //   and also cuts an orphan's retransmissions short to about 100 s; here a lost probe does
  //   not count and retransmissions keep data_retries (connection.cpp says why).
  // - orphan_fin_timeout (Linux: tcp_fin_timeout, 60 s): an orphan in FIN-WAIT-2 — its FIN
  //   acknowledged, the peer's FIN never coming — is deleted after this long. RFC 9293 has no
  //   such timer; without it a peer that never closes keeps the connection for ever.
  // 0 turns either off.
  std::uint8_t orphan_retries = 8;
  Duration orphan_fin_timeout = 60s;
  // RFC 9293 §3.4.2: Maximum Segment Lifetime; TIME-WAIT lasts 2 x MSL.
  Duration msl = 30s;
  // RFC 6928 initial window in segments.
  std::uint32_t initial_window_segments = 10;
  CongestionAlgorithm congestion = CongestionAlgorithm::Cubic;
  // RFC 5681 §3.1 slow start with RFC 3465 byte counting: each ACK grows cwnd by the bytes it
  // acknowledges, at most this many SMSS (RFC 3465 §2.2's limit L, which it sets at 2 SMSS).
  // 0, the default, follows Linux (tcp_slow_start) instead: no limit below ssthresh, and what
  // an ACK acknowledges past it counts for congestion avoidance. Receivers that coalesce —
  // Linux's GRO, this stack's batch_output — send one ACK per burst of up to 44 segments, and
  // with L = 2 the window then grew by 2 segments where 44 were delivered: a 4 MiB transfer
  // over a 10 ms path took 0.425 s of slow start in the simulator, 0.205 s without the limit.
  // (Byte counting keeps a receiver that splits its ACKs from growing the window faster.)
  std::uint32_t slow_start_ack_limit = 0;
  // Cwnd validation (draft-ietf-ccwg-ratelimited-increase §3, RFC 7661): an ACK grows cwnd
  // only while the window is in use — the sender was stopped by a full window in this round
  // trip, or, in slow start, cwnd is under twice the round's largest flight (as Linux's
  // tcp_is_cwnd_limited()). With it CUBIC takes its ssthresh after a fast retransmit from cwnd,
  // not FlightSize (RFC 9438 §4.6 allows it "with other measures to prevent cwnd from growing
  // when the volume of bytes in flight is smaller than cwnd"; Linux and Windows do): a flight
  // that was short of a window in use is no measure of what the path holds. false: cwnd grows
  // on every ACK and CUBIC's ssthresh is 0.7 FlightSize, as before 2026-12-07.
  bool cwnd_validation = true;
  // RFC 5681 §4.1 (SHOULD): data sent after more than an RTO without sending any, nothing in
  // flight, starts from cwnd = min(IW, cwnd) (ssthresh keeping 3/4 of the old window). Linux
  // does the same by default (net.ipv4.tcp_slow_start_after_idle = 1). BBR restarts from idle
  // in its own way and is not affected. false: cwnd survives any idle period.
  bool restart_after_idle = true;
  // RFC 8985 RACK (default) or RFC 6675 DupThresh-only loss detection with SACK.
  LossDetection loss_detection = LossDetection::Rack;
  // RFC 9293 §3.8.4 keepalive: off by default; idle, interval, probes.
  bool keepalive = false;
  Duration keepalive_idle = 7200s;
  Duration keepalive_interval = 75s;
  std::uint8_t keepalive_probes = 9;
  // Follows Linux (tcp_send_active_reset): the RST of an ABORT also carries ACK = RCV.NXT
  // (RFC 9293 §3.10.5 writes <SEQ=SND.NXT><CTL=RST>; a peer accepts either), and a
  // connection that keep-alives found dead is reset as well as closed.
  bool abort_rst_with_ack = false;
  bool reset_on_keepalive_timeout = false;
  // Follows Linux (tcp_xmit_probe_skb): a zero-window probe is a zero-length ACK at
  // SND.UNA - 1, which the peer answers with an ACK showing its window, instead of
  // RFC 9293 §3.8.6.1's one byte of new data.
  bool zero_window_probe_empty = false;
  // Follows Linux as packetdrill sees it through a TUN with TSO: each packet Linux hands
  // the device ends at a push point and carries PSH, so every data segment carries it;
  // RFC 9293 §3.9.1.2 asks for PSH only on the segment that empties the send buffer.
  bool psh_every_segment = false;
  // Follows Linux (tcp_nagle_check, Minshall's variant of Nagle): a short segment waits only
  // while an earlier short segment is unacknowledged, not while any data is (RFC 9293
  // §3.7.4). A write's tail after full segments then leaves at once.
  bool nagle_minshall = false;
  // Follows Linux's receive batching (NAPI polls a burst; GRO hands TCP in-order segments
  // merged, and TCP ACKs the merged packet once): within a batch of packets the application
  // reads together (Stack::begin_batch/end_batch: the event loop's TUN reads, the simulator's
  // packets of one instant), a connection answers its first segment (or send) of the batch at
  // once and holds what later ones would trigger until the batch ends, so that the ACKs of a
  // burst become one ACK and the data they release one burst. An ACK owed at once
  // (out-of-order data, a filled hole, a FIN, a duplicate) still leaves at once, and so do the
  // 16 answers after it (Linux's quick-ACK mode), everything during our own loss recovery, and
  // an ACK owed for 64 KiB of new data (GRO's largest packet) — except that out-of-order
  // segments past the first three duplicate ACKs for one RCV.NXT are answered once at the
  // batch's end, at most 8 to an ACK (Linux's SACK compression). This stretches RFC 9293
  // §3.8.6.3 SHLD-19 (an ACK at least every second full-sized segment) as far as Linux's GRO
  // does and no further; without begin_batch (packetdrill, the in-memory engine) nothing
  // changes. Off: every batch's ACKs leave as its segments arrive.
  bool batch_output = true;
  // RFC 2883 D-SACK: with SACK in use, the ACK for data received twice reports the
  // duplicate range in its first SACK block. On by default, as Linux's tcp_dsack = 1 (off
  // until 2026-12-08): a sender learns that a retransmission was spurious — Linux's undoes
  // its window reduction, widens RACK's reordering window (RFC 8985 §6.2) and ends a tail
  // loss probe's episode without one (§7.4.1). bench/loss.sh, a Linux BBR sender to synack,
  // 2 MiB, 25 runs at 10, 15 and 20 % each way: the sender's own timeouts in synack's
  // capture 38 -> 21, medians 0.013 / 0.222 / 0.441 s -> 0.019 / 0.025 / 0.234 s (the
  // kernel receiving in the same runs: 0.023 / 0.221 / 0.442).
  bool dsack = true;
  // RFC 8985 §7 tail loss probe: with SACK in use and no recovery under way, 2 SRTT after the
  // last transmission (or ACK of new data) the last segment is sent again, so that a loss at
  // the tail is found by SACK instead of by an RTO (Linux: tcp_early_retrans 3, its default).
  // On by default, as RFC 8985 (RACK-TLP) and Linux have it: in the chaos soak (seeds
  // 1-10,000) it turns main's 5 too-slow seeds into 2 (both without SACK, where no probe is
  // sent); it had made things worse only while a window-limited probe carried unsent data
  // beyond the peer's window (fixed, docs/reliability.md).
  bool tail_loss_probe = true;
  // How many new segments a tail loss probe carries when unsent data fits the peer's window.
  // RFC 8985 §7.3 sends one (and so does Linux: the linux profile's 1). Two by default, as
  // RFC 9002 §6.2.4 lets a QUIC probe be two datagrams: a receiver that delays its ACK for a
  // lone in-order segment (Linux holds it 40 ms, RFC 9293 §3.8.6.3 allows 500) answers the
  // second of two at once (SHLD-19), so a probe sent because the flight's last ACK was lost
  // comes back in a round trip instead of a delayed-ACK timeout; and one probe segment lost
  // no longer leaves the RTO as the only way on. bench/loss.sh, 20 MiB at 2 % each way: all
  // 25 of synack's 40 ms stalls in three transfers were such probes (docs/performance.md,
  // 2026-12-06, eleventh session). 1 restores RFC 8985's single segment; a probe that
  // retransmits (no new data may go) is one segment in any case.
  std::uint8_t loss_probe_segments = 2;
  // The tail loss probe during SACK recovery too. RFC 8985 §7.2 schedules a PTO only "not in
  // loss recovery" (a SHOULD; Linux probes only in its Open state): when the ACK of recovery's
  // last retransmission is lost, or that retransmission is, and nothing else is in flight,
  // only the RTO (200 ms at least) moves the connection on. With this on, 2 SRTT after the
  // last ACK or transmission of a recovery the probe goes as outside it (new data first, else
  // the segment at SND.UNA again); its ACK restarts the ACK clock, and RACK finds what is
  // still lost. A probe that draws no ACK is followed by up to two more, each after twice the
  // last PTO, while they come before the RTO the first armed (they never move it). Off in the
  // linux profile. (bench/loss.sh, 20 MiB at 2 % each way: 9 of 12 RTOs in three transfers
  // were such stalls; at 20 % each way the later probes halved the RTOs; docs/performance.md.)
  bool recovery_probe = true;
  // Probes one TLP episode may send before its RTO, in or out of a recovery: RFC 8985 §7 sends
  // one (then "MUST arm the RTO timer"; Linux too, the linux profile's 1). With more, a probe
  // that draws no ACK is followed by another after twice the last PTO (4, then 8 SRTT), while
  // it comes before the RTO the first probe armed, which none of them moves — RFC 9002 §6.2.1
  // backs QUIC's probes off so. On a path losing a fifth of each direction a receiver that
  // answers a burst with one ACK (Linux's, when a burst arrives while its reader holds the
  // socket) loses the burst's ACK and the probe's often enough that one probe left a 200 ms
  // RTO in most 2 MiB transfers (bench/loss.sh, BBR at 20 %; docs/performance.md, twentieth
  // session). 1 .. 3; during a recovery only with recovery_probe.
  std::uint8_t loss_probes_per_episode = 3;
  // What the tail loss probe's timer adds to RFC 8985 §7.2's PTO of 2 SRTT when more than one
  // segment is in flight: an allowance for the peer's ACK turnaround and our own wake-up, so
  // that a sub-millisecond SRTT does not probe before the ACK could be back. RFC 8985 names
  // none; Linux adds 2 ms (TCP_TIMEOUT_MIN_US in tcp_schedule_loss_probe(), from its jiffy
  // timers; the linux profile's value). Here the timers are microsecond-exact, so 200 µs: on
  // bench/loss.sh's sub-millisecond path each flight whose last ACKs were lost waited 2.1 ms
  // for its probe, where a whole 2 MiB transfer takes 5-15 ms (docs/performance.md, thirteenth
  // session). A single segment in flight waits WCDelAckT (200 ms) instead, as §7.2 asks.
  Duration loss_probe_slack = 200us;
  // A FIN sent after the peer's (LAST-ACK, CLOSING) alone in flight: the probe comes 2 SRTT
  // (+ loss_probe_slack) after it, without RFC 8985 §7.2's WCDelAckT (200 ms). The peer, in
  // FIN-WAIT-1, FIN-WAIT-2 or CLOSING, acknowledges a FIN at once (RFC 9293 §3.10.7.4, "send
  // an acknowledgment for the FIN"; Linux's tcp_fin() sends that ACK at once in those
  // states), so no delayed ACK is to be waited for, and without this a lost FIN costs the
  // peer's reader 200 ms. bench/loss.sh, BBR at 15 % each way, synack receiving 2 MiB: 6 of 25
  // transfers waited 200 ms or more for a FIN retransmission (2026-12-08). Off in the linux
  // profile (tcp_schedule_loss_probe() adds TCP_RTO_MIN for any single packet in flight).
  bool prompt_fin_probe = true;
  // RFC 5682 F-RTO: after a timeout, the first ACKs are answered with new data, and an ACK of
  // data sent before the timeout shows it spurious (its response undone, RFC 4015); the
  // SACK-enhanced variant (§3.1) with SACK, the basic one (§2.1) without. Linux has it on
  // (tcp_frto = 2). Off by default: in the chaos soak (seeds 1-10,000) it made five more seeds
  // too slow at 15-29 % loss, where timeouts are real and its extra round costs a backed-off
  // RTO when an ACK is lost (docs/reliability.md). The D-SACK and timestamp undo do not need it.
  bool frto = false;
  // Follows Linux (the FIN joins its out-of-order queue): a FIN held beyond a hole is
  // reported in a SACK block like the data around it (it occupies sequence space, RFC 9293
  // §3.4; RFC 2018 neither asks for nor forbids it). Off by default.
  bool sack_fin = false;
  // Segmentation offload (TSO): new data may leave in segments of up to this many bytes
  // (whole multiples of the MSS), which the link cuts into MSS-sized packets. 0: off.
  std::uint32_t gso_max_bytes = 0;
  // Out-of-order ranges the reassembly store keeps; beyond it, segments are dropped.
  std::uint16_t max_reassembly_ranges = 64;
  // RFC 5961 §7 (and RFC 9293 §3.10.7.4 first check): ACKs we send in reply to what we did not
  // ask for — challenge ACKs (RFC 5961 §3.2, §4.2, §5.2), ACKs to unacceptable or PAWS-failed
  // segments, ACKs of data never sent — at most one per interval per connection. Follows
  // Linux's tcp_invalid_ratelimit (500 ms); as in Linux, segments carrying data (and no SYN)
  // are exempt, since they are not part of an ACK loop. 0 turns the limit off.
  Duration invalid_ack_interval = 500ms;
};

struct StackConfig {
  TcpConfig tcp;
  // Connections at once, not counting those in TIME-WAIT (max_time_wait bounds them); beyond
  // it a SYN or a connect is refused (tcp_connection_limit).
  std::size_t max_connections = 1 << 20;
  // Connections waiting out TIME-WAIT after the application closed them. Beyond it, one that
  // enters TIME-WAIT is deleted at once (tcp_time_wait_overflow): Linux's tcp_max_tw_buckets,
  // a deviation from RFC 9293 §3.6.1's 2 MSL wait that Linux makes too.
  std::size_t max_time_wait = 1 << 17;
  std::size_t default_backlog = 128;                // completed-connection queue per listener
  std::size_t max_syn_queue = 1024;                 // half-open connections per listener
  SynCookieMode syn_cookies = SynCookieMode::Auto;  // beyond max_syn_queue: RFC 4987 §3.6
  std::uint16_t ephemeral_first = 32768;            // Linux's default ip_local_port_range
  std::uint16_t ephemeral_last = 60999;
  std::uint8_t ttl = 64;
  std::uint64_t random_seed = 0;  // used when no RandomSource is injected
  // Checksum offload toward a link that finishes TCP checksums (a TUN with virtio-net
  // headers): outgoing TCP packets carry only the pseudo-header sum.
  bool tcp_checksum_offload = false;
  // User-mode networking: answer for every address (see Stack, "interception").
  bool intercept = false;
  // SYNs awaiting the application's decision, and (together with them) connections accepted
  // from such requests still awaiting the peer's ACK in SYN-RECEIVED.
  std::size_t max_connect_requests = 4096;
  std::size_t max_datagrams = 1024;  // received UDP datagrams not yet polled
  std::size_t max_datagram_bytes = 4 << 20;
  // With intercept: ICMP echo requests to addresses not ours are queued for the application
  // (poll_echo_request; `synack run` relays them through ping sockets) instead of dropped.
  bool intercept_echo = false;
  std::size_t max_echo_requests = 64;  // queued echo requests not yet polled
  // RFC 5961 §7: an optional limit, across all connections, on challenge ACKs and ACKs to
  // unacceptable segments per second (Linux's tcp_challenge_ack_limit). 0: no global limit
  // (the per-connection TcpConfig::invalid_ack_interval still applies).
  std::uint32_t invalid_acks_per_second = 0;
  // Issue 11 §4: one bound on the buffer memory of every connection and datagram (Linux's
  // tcp_mem, as a hard limit); null: none. Send and receive rings are charged when allocated
  // and returned once emptied; queued datagrams are charged too. A ring the budget cannot
  // hold is not allocated: the receive window stays 0 (drop_memory_pressure), send() takes
  // nothing. Once less than an eighth of it (or less than one connection's two buffers) is
  // free, SYNs and connect() are refused (tcp_memory_refused). May be shared with the
  // application (the relay charges its chunks to it); it must only be used on the stack's
  // thread.
  std::shared_ptr<MemoryBudget> memory_budget;
};

}  // namespace synack
