// SPDX-License-Identifier: MIT
// Named counters for every drop and every notable event, like `netstat -s` / `nstat`.
// Each drop path bumps exactly one counter; tests assert the counter moved.
#pragma once

#include <cstdint>
#include <string_view>

namespace synack {

// X(name, description)
#define SYNACK_COUNTERS(X)                                                                      \
  X(ip_packets_in, "IP packets handed to the stack")                                            \
  X(ip_packets_out, "IP packets the stack produced")                                            \
  X(drop_malformed, "packets dropped by the parser (see drop_parse_* for the reason)")          \
  X(drop_parse_truncated, "parse: buffer shorter than its header")                              \
  X(drop_parse_ip_version, "parse: bad IP version")                                             \
  X(drop_parse_ipv4_header_length, "parse: bad IPv4 header length")                             \
  X(drop_parse_ip_total_length, "parse: bad IP total/payload length")                           \
  X(drop_parse_ipv4_checksum, "parse: bad IPv4 header checksum")                                \
  X(drop_parse_ipv4_fragment, "parse: IPv4 fragment (not reassembled)")                         \
  X(drop_parse_ipv6_extension, "parse: unsupported IPv6 extension header")                      \
  X(drop_parse_tcp_header, "parse: truncated TCP header or bad data offset")                    \
  X(drop_parse_tcp_option, "parse: malformed TCP option")                                       \
  X(drop_parse_tcp_checksum, "parse: bad TCP checksum")                                         \
  X(drop_not_our_address, "packet for an address that is not ours")                             \
  X(drop_unknown_protocol, "IP protocol we do not serve")                                       \
  X(drop_martian_source, "source address is ours, multicast, broadcast or unspecified")         \
  X(tcp_segments_in, "TCP segments received and parsed")                                        \
  X(tcp_segments_out, "TCP segments sent")                                                      \
  X(tcp_retransmitted_segments, "segments sent again")                                          \
  X(tcp_active_opens, "connect() calls that sent a SYN")                                        \
  X(tcp_passive_opens, "SYNs accepted by a listener")                                           \
  X(tcp_connections_established, "connections that reached ESTABLISHED")                        \
  X(tcp_resets_sent, "RST segments sent")                                                       \
  X(tcp_resets_received, "acceptable RSTs that reset a connection")                             \
  X(tcp_rst_closed_port, "RSTs sent for segments to no connection or listener")                 \
  X(tcp_stray_handed_off, "segments for no connection here, taken by the stray handler")        \
  X(drop_closed_port_rst, "RSTs to a closed port (never answered)")                             \
  X(drop_listen_rst, "RST arriving at a listener, ignored")                                     \
  X(drop_listen_ack, "ACK arriving at a listener; answered with RST")                           \
  X(drop_listen_other, "segment without SYN at a listener")                                     \
  X(drop_syn_sent_bad_ack, "SYN-SENT: ACK not acknowledging our SYN; answered with RST")        \
  X(drop_syn_sent_rst_unacceptable, "SYN-SENT: RST without an acceptable ACK")                  \
  X(drop_syn_sent_no_syn, "SYN-SENT: neither SYN nor RST")                                      \
  X(drop_sequence_unacceptable, "segment outside the receive window; ACK sent")                 \
  X(drop_paws, "RFC 7323 PAWS: timestamp older than TS.Recent")                                 \
  X(drop_rst_out_of_window, "RST outside the receive window")                                   \
  X(tcp_challenge_acks, "RFC 5961 challenge ACKs sent")                                         \
  X(tcp_invalid_acks_suppressed, "challenge or unacceptable-segment ACKs not sent: rate limit") \
  X(drop_rst_in_window, "RST in window but not at RCV.NXT (challenge ACK sent)")                \
  X(drop_syn_synchronized, "SYN on a synchronized connection (challenge ACK sent)")             \
  X(drop_no_ack_flag, "segment without ACK in a synchronized state")                            \
  X(drop_ack_unacceptable, "SYN-RECEIVED: unacceptable ACK; answered with RST")                 \
  X(drop_ack_too_old, "RFC 5961 §5: ACK below SND.UNA - MAX.SND.WND")                           \
  X(drop_ack_future, "ACK for data never sent; ACK sent")                                       \
  X(drop_data_after_fin, "data or FIN after the peer's FIN")                                    \
  X(drop_reassembly_full, "out-of-order segment dropped: reassembly store full")                \
  X(drop_syn_data, "data carried on a SYN, not accepted")                                       \
  X(tcp_time_wait_reacks, "FIN retransmissions re-acknowledged in TIME-WAIT")                   \
  X(tcp_time_wait_reopened, "TIME-WAIT connections reopened by a new SYN (RFC 6191)")           \
  X(tcp_rto_expirations, "retransmission timer expirations")                                    \
  X(tcp_fast_retransmits, "fast retransmissions (RFC 5681 §3.2)")                               \
  X(tcp_sack_recovered_bytes, "bytes retransmitted by SACK-based recovery (RFC 6675)")          \
  X(tcp_lost_retransmits, "retransmissions found lost by SACK (RFC 8985 §6.2)")                 \
  X(tcp_loss_probes, "tail loss probes sent (RFC 8985 §7.3)")                                   \
  X(tcp_loss_probe_repairs, "probes that repaired a loss: cwnd reduced (RFC 8985 §7.4.2)")      \
  X(tcp_rack_lost_bytes, "octets RACK marked lost by time (RFC 8985 §6.2 step 5)")              \
  X(tcp_rack_reorder_timeouts, "RACK reordering timer expirations (RFC 8985 §6.3)")             \
  X(tcp_rack_coalesced, "transmissions merged into a record at RACK's bound")                   \
  X(tcp_dsacks_received, "ACKs carrying a D-SACK block (RFC 2883)")                             \
  X(tcp_frto_spurious, "timeouts F-RTO found spurious (RFC 5682 step 3b)")                      \
  X(tcp_eifel_spurious, "loss episodes the timestamp echo found spurious (RFC 3522)")           \
  X(tcp_dsack_spurious, "loss episodes whose every retransmission was D-SACKed (RFC 3708)")     \
  X(tcp_undos, "loss responses undone: cwnd/ssthresh given back (RFC 4015, Linux's undo)")      \
  X(tcp_undo_evidence_ignored,                                                                  \
    "D-SACKs and echoes not taken as evidence of a spurious retransmission: not of this "       \
    "episode's retransmissions, repeated, or from the future")                                  \
  X(tcp_dup_acks, "duplicate ACKs received")                                                    \
  X(tcp_sack_reneging, "RTOs that found SACKed data at SND.UNA: scoreboard cleared")            \
  X(tcp_rtt_samples_discarded,                                                                  \
    "timestamp RTT samples discarded: echo in the future or > 60 s, or of an ACK reporting a "  \
    "duplicate (D-SACK)")                                                                       \
  X(tcp_out_of_order_segments, "segments stored out of order")                                  \
  X(tcp_direct_delivered_bytes, "in-order octets handed to a direct reader, not buffered")      \
  X(tcp_delayed_acks, "ACKs sent by the delayed-ACK timer")                                     \
  X(tcp_window_probes, "zero-window probes sent")                                               \
  X(tcp_keepalive_probes, "keepalive probes sent")                                              \
  X(tcp_timeouts, "connections aborted after retransmissions ran out")                          \
  X(tcp_orphan_timeouts, "closed connections given up by the orphan limits (Linux's)")          \
  X(tcp_backlog_overflow, "SYN dropped: accept queue full")                                     \
  X(tcp_syn_queue_overflow, "SYN dropped: SYN queue full")                                      \
  X(tcp_syncookies_sent, "SYN,ACKs sent with a SYN cookie (RFC 4987 §3.6)")                     \
  X(tcp_syncookies_validated, "ACKs at a listener carrying a valid SYN cookie")                 \
  X(tcp_syncookies_failed,                                                                      \
    "ACKs at a listener after cookies were sent, with no valid "                                \
    "cookie (stale, forged or for another tuple); answered with RST")                           \
  X(tcp_connection_limit, "SYN or connect refused: max_connections reached")                    \
  X(tcp_time_wait_overflow, "connection deleted on entering TIME-WAIT: max_time_wait reached")  \
  X(tcp_memory_refused, "SYN or connect refused: the memory budget is under pressure (RST)")    \
  X(drop_memory_pressure, "data dropped: the memory budget cannot hold a receive buffer")       \
  X(memory_budget_bytes, "gauge: the memory budget (StackConfig::memory_budget; 0: none)")      \
  X(memory_used_bytes, "gauge: buffer bytes charged to the memory budget now")                  \
  X(memory_peak_bytes, "gauge: the most buffer bytes ever charged to the memory budget")        \
  X(drop_sack_invalid, "SACK blocks ignored as outside the send window")                        \
  X(icmp_in, "ICMP/ICMPv6 messages received")                                                   \
  X(icmp_echo_replies, "echo replies sent")                                                     \
  X(icmp_unreachable_sent, "protocol unreachable (ICMPv6: parameter problem) messages sent")    \
  X(icmp_errors_delivered, "ICMP errors delivered to a connection")                             \
  X(icmp_stray_handed_off, "ICMP errors for no connection here, taken by the stray handler")    \
  X(icmp_ignored,                                                                               \
    "ICMP messages not acted on: no matching connection, quoted seq outside "                   \
    "SND.UNA..SND.NXT (RFC 5927), path MTU, or an unused type")                                 \
  X(drop_icmp_malformed, "ICMP message shorter than its header or with a bad checksum")         \
  X(icmp_rate_limited, "ICMP errors not sent because of the rate limit")                        \
  X(icmp_echo_queued, "echo requests to other addresses queued for relaying (intercept_echo)")  \
  X(drop_icmp_echo_queue_full, "echo requests dropped: the application's queue is full")        \
  X(intercept_requests, "intercepted SYNs handed to the application as connect requests")       \
  X(intercept_syn_repeats, "SYN retransmissions for a request still pending")                   \
  X(intercept_request_overflow, "SYN dropped: too many connect requests pending")               \
  X(intercept_half_open_overflow, "SYN dropped: too many intercepted connections half-open")    \
  X(intercept_refused, "connect requests refused (RST or ICMP)")                                \
  X(udp_in, "UDP datagrams queued for the application")                                         \
  X(udp_out, "UDP datagrams sent")                                                              \
  X(drop_udp_malformed, "UDP datagram with a bad length, checksum or port")                     \
  X(drop_udp_queue_full, "UDP datagram dropped: the application's queue is full")               \
  X(drop_icmp_not_ours, "ICMP echo to an address that is not ours (intercepting)")

struct Counters {
#define SYNACK_COUNTER_FIELD(name, desc) std::uint64_t name = 0;
  SYNACK_COUNTERS(SYNACK_COUNTER_FIELD)
#undef SYNACK_COUNTER_FIELD

  // Calls f(name, value, description) for every counter, in declaration order.
  template <class F>
  void for_each(F&& f) const {
#define SYNACK_COUNTER_VISIT(name, desc) f(std::string_view(#name), name, std::string_view(desc));
    SYNACK_COUNTERS(SYNACK_COUNTER_VISIT)
#undef SYNACK_COUNTER_VISIT
  }

  // Adds every counter of `other` (several stacks' together: `synack run --queues`). The
  // gauges add up too: memory_budget_bytes and memory_used_bytes to the stacks' total,
  // memory_peak_bytes to the sum of their peaks (at least the peak of their total).
  Counters& operator+=(const Counters& other) {
#define SYNACK_COUNTER_ADD(name, desc) name += other.name;
    SYNACK_COUNTERS(SYNACK_COUNTER_ADD)
#undef SYNACK_COUNTER_ADD
    return *this;
  }
};

}  // namespace synack
