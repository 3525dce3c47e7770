// SPDX-License-Identifier: MIT
// The options every command on a real TUN shares (--netns, --tun, --addr, --peer, --addr6,
// --peer6, --no-ipv6, --mtu, --no-offload, --rcvbuf, --sndbuf, --pcap, --trace,
// --trace-segments, --stats) and
// the environment they describe: namespace, TUN, the kernel side's addresses, a Stack and its
// event loop. Built up in that order and torn down in reverse (the namespace is deleted only
// if we created it).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "os/netns.hpp"
#include "synack/stack.hpp"
#include "wire/ip_address.hpp"

namespace synack::os {
class EventLoop;
class NetNamespace;
class SignalGuard;
class SystemRandom;
class TunDevice;
}  // namespace synack::os
namespace synack::capture {
class PcapWriter;
}  // namespace synack::capture
namespace synack::observe {
class JsonTraceWriter;
}  // namespace synack::observe

namespace synack::cli {

// 198.18.0.0/15 is reserved for benchmarking (RFC 2544 §C.2.2) and fd53:796e:6163::/48 is a
// unique local prefix (RFC 4193) spelling "Syn" "ac": neither can clash with a real network.
struct NetOptions {
  std::string netns;
  std::string tun = "synack0";
  std::string addr = "198.18.0.1";
  std::string peer = "198.18.0.2/24";
  std::string addr6 = "fd53:796e:6163::1";
  std::string peer6 = "fd53:796e:6163::2/64";
  bool no_ipv6 = false;
  unsigned mtu = 65520;
  bool no_offload = false;
  std::uint32_t rcvbuf = 0;  // 0: StackConfig's default
  std::uint32_t sndbuf = 0;
  std::string pcap;
  std::string trace;
  bool trace_segments = false;
  bool stats = false;
  bool tail_loss_probe = true;  // TcpConfig::tail_loss_probe (RFC 8985 §7)
  // TcpConfig::recovery_probe: neither flag keeps the profile's choice.
  bool recovery_probe_on = false;
  bool recovery_probe_off = false;
  unsigned loss_probe_segments = 0;  // TcpConfig::loss_probe_segments; 0: the profile's
  unsigned loss_probes = 0;          // TcpConfig::loss_probes_per_episode; 0: the profile's
  bool batch = true;                 // TcpConfig::batch_output (one ACK per TUN read batch)
  std::string cc;                    // TcpConfig::congestion by name; empty: the profile's
  std::uint32_t slow_start_limit = TcpConfig{}.slow_start_ack_limit;
  std::string profile = "rfc";  // synack::profiles::by_name: "rfc" or "linux"
  unsigned busy_poll_us = 50;   // os::EventLoop::Options::busy_poll (docs/performance.md)
  bool write_thread = false;    // os::EventLoop::Options::write_thread
  // Issue 11 §4 and §1 (run, serve, attach and slirp4netns: add_server_options): the memory
  // budget in bytes (0: none), and the SYN-cookie mode ("auto", "always", "never").
  std::size_t max_memory = 0;
  // StackConfig::max_connections and max_time_wait (0: the library's defaults, 2^20 and 2^17).
  std::size_t max_connections = 0;
  std::string syn_cookies = "auto";
  // Linux's bounds for orphans (TcpConfig::orphan_fin_timeout, orphan_retries); negative: the
  // profile's (60 s and 8).
  double fin_timeout = -1;
  int orphan_retries = -1;
};

void add_net_options(CLI::App* command, NetOptions& options);
// --max-memory (default 256M), --max-connections (default 65536), --fin-timeout and
// --orphan-retries, and --syn-cookies where the
// stack has listeners (serve; run's stack intercepts instead: its SYNs become connect requests, not
// SYN-queue entries).
void add_server_options(CLI::App* command, NetOptions& options, bool listeners);

class NetEnvironment {
 public:
  // Sets everything up; on failure returns nullptr with a message in *error (everything made
  // so far is undone). `who` prefixes warnings ("synack serve").
  static std::unique_ptr<NetEnvironment> create(const NetOptions& options, std::string_view who,
                                                std::string* error);
  // The same around a TUN made elsewhere (`synack run`'s namespace child); no namespace or
  // kernel-side set-up. `intercept`: the stack answers for every address.
  // `loop_signals` false: the loop takes no signals (os::EventLoop::Options::handle_signals),
  // for a second loop of the process (`synack run --queues`, cli/run_lanes.hpp).
  static std::unique_ptr<NetEnvironment> adopt(const NetOptions& options,
                                               std::unique_ptr<os::TunDevice> tun, bool intercept,
                                               std::string* error, bool loop_signals = true);
  ~NetEnvironment();
  NetEnvironment(const NetEnvironment&) = delete;
  NetEnvironment& operator=(const NetEnvironment&) = delete;

  Stack& stack() { return *stack_; }
  os::EventLoop& loop() { return *loop_; }
  os::TunDevice& tun() { return *tun_; }
  const wire::IpAddress& address() const { return address_; }
  const std::optional<wire::IpAddress>& address6() const { return address6_; }
  // "tun synack0 in netns NAME, mtu 65520, offload on" — for the ready line.
  std::string describe() const;
  // Non-zero counters of the stack, the TUN and the loop, one per line (for --stats).
  void print_stats(std::ostream& out) const;
  // Prints them to stderr when --stats was given.
  void finish();

 private:
  NetEnvironment() = default;
  bool build_stack(const NetOptions& options, bool intercept, std::string* error,
                   bool loop_signals = true);

  // Declaration order is construction order; destruction runs in reverse.
  std::unique_ptr<os::SignalGuard> signal_guard_;
  std::unique_ptr<os::NetNamespace> netns_;
  std::unique_ptr<os::TunDevice> tun_;
  std::unique_ptr<os::SystemRandom> random_;
  std::unique_ptr<capture::PcapWriter> pcap_;
  std::unique_ptr<observe::JsonTraceWriter> trace_;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<os::EventLoop> loop_;

  wire::IpAddress address_;
  std::optional<wire::IpAddress> address6_;
  std::string netns_name_;
  bool stats_ = false;
};

// --addr/--peer/--addr6/--peer6 checked and parsed (IPv6 ones absent with --no-ipv6).
struct NetAddresses {
  wire::IpAddress addr;
  os::InterfacePrefix peer;
  std::optional<wire::IpAddress> addr6;
  std::optional<os::InterfacePrefix> peer6;
};
std::optional<NetAddresses> parse_net_addresses(const NetOptions& options, std::string* error);

// "ADDR/PREFIX" -> address and prefix; nullopt when malformed (prefix beyond the family's).
std::optional<std::pair<wire::IpAddress, unsigned>> parse_prefix(std::string_view text);

}  // namespace synack::cli
