// SPDX-License-Identifier: MIT
// synack::profiles (include/synack/profiles.hpp).
#include "synack/profiles.hpp"

#undef linux

namespace synack::profiles {

StackConfig rfc() { return StackConfig{}; }

StackConfig linux() {
  StackConfig c;
  TcpConfig& t = c.tcp;
  // RFC 6928 IW10 (Linux's TCP_INIT_CWND).
  t.initial_window_segments = 10;
  // RFC 6298 §2.1 initial RTO 1 s; Linux's TCP_RTO_MIN 200 ms and TCP_RTO_MAX 120 s.
  t.rto_initial = std::chrono::seconds(1);
  t.rto_min = std::chrono::milliseconds(200);
  t.rto_max = std::chrono::seconds(120);
  // Linux's TCP_DELACK_MIN (40 ms).
  t.delayed_ack = std::chrono::milliseconds(40);
  t.quick_acks = 16;             // TCP_MAX_QUICKACKS
  t.rto_min_in_variance = true;  // tcp_set_rto: SRTT + max(4 * RTTVAR, 200 ms)
  // No RFC 6298 §5.7 3 s fallback after a SYN timeout: 6.18 retransmits the first data after
  // 1 s (rto-initial-1s-without-rtt-sample.pkt).
  t.rto_after_syn_timeout = Duration{0};
  // Linux 6.x: tcp_syn_retries = 6 with tcp_syn_linear_timeouts = 4, measured on 6.18 (see
  // tests/packetdrill/scripts/syn-retransmission-linear-then-backoff.pkt): SYNs at 0, 1, 2,
  // 3, 4, 5, 7, 11, 19, 35, 67 s. Linux's limit is a time computed from the retry count
  // (connect() fails at 134 s); here it is the count of those ten retransmissions, and the
  // last timer of 64 s ends it at 131 s.
  t.syn_retries = 10;
  t.syn_linear_timeouts = 4;
  t.synack_retries = 5;  // net.ipv4.tcp_synack_retries
  // net.ipv4.tcp_retries2 = 15.
  t.data_retries = 15;
  // TCP_TIMEWAIT_LEN: 60 s = 2 x MSL.
  t.msl = std::chrono::seconds(30);
  // Linux's keepalive defaults: tcp_keepalive_time 7200 s, intvl 75 s, probes 9.
  t.keepalive_idle = std::chrono::seconds(7200);
  t.keepalive_interval = std::chrono::seconds(75);
  t.keepalive_probes = 9;
  t.sack = true;
  t.timestamps = true;
  t.window_scale = true;
  // Window scale sized for tcp_rmem[2] (32 MiB on Linux 6.x; shift 10), as tcp_select_
  // initial_window() does; the window offered is still the receive buffer.
  t.window_scale_buffer = 32u << 20;
  t.abort_rst_with_ack = true;
  t.reset_on_keepalive_timeout = true;
  t.zero_window_probe_empty = true;
  t.psh_every_segment = true;
  t.nagle_minshall = true;
  t.slow_start_ack_limit = 0;  // tcp_slow_start: every byte an ACK acknowledges
  t.dsack = true;              // net.ipv4.tcp_dsack
  t.sack_fin = true;
  t.loss_probe_segments = 1;      // tcp_send_loss_probe: one new segment (RFC 8985 §7.3)
  t.recovery_probe = false;       // tcp_schedule_loss_probe: Open (or CWR) state only
  t.loss_probes_per_episode = 1;  // tcp_send_loss_probe: "At most one outstanding TLP"
  t.loss_probe_slack = std::chrono::milliseconds(2);  // TCP_TIMEOUT_MIN_US: 2 SRTT + 2 ms
  t.prompt_fin_probe = false;  // tcp_schedule_loss_probe: + TCP_RTO_MIN for one packet out
  return c;
}

std::optional<StackConfig> by_name(std::string_view name) {
  if (name == "linux") return linux();
  if (name == "rfc") return rfc();
  return std::nullopt;
}

}  // namespace synack::profiles
