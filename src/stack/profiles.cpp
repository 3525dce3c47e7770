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
  t.quick_acks = 16;  // TCP_MAX_QUICKACKS
  // net.ipv4.tcp_syn_retries = 6 (Linux 6.x default).
  t.syn_retries = 6;
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
  return c;
}

std::optional<StackConfig> by_name(std::string_view name) {
  if (name == "linux") return linux();
  if (name == "rfc") return rfc();
  return std::nullopt;
}

}  // namespace synack::profiles
