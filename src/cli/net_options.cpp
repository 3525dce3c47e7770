// SPDX-License-Identifier: MIT
// Shared TUN options and the environment they set up.
#include "cli/net_options.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <iostream>
#include <limits>

#include "observe/json_trace.hpp"
#include "os/netns.hpp"
#include "synack/event_loop.hpp"
#include "synack/pcap.hpp"
#include "synack/profiles.hpp"
#include "synack/system_random.hpp"
#include "synack/tun_device.hpp"

namespace synack::cli {
using namespace synack::capture;
using namespace synack::observe;
using namespace synack::os;

void add_net_options(CLI::App* cmd, NetOptions& o) {
  auto group = "Network";
  cmd->add_option("--netns", o.netns,
                  "put the TUN's kernel side in this network namespace (created if missing, "
                  "and then deleted on exit)")
      ->group(group);
  cmd->add_option("--tun", o.tun, "TUN interface name (default synack0)")->group(group);
  cmd->add_option("--addr", o.addr, "synack's IPv4 address (default 198.18.0.1)")->group(group);
  cmd->add_option("--peer", o.peer, "the kernel side's IPv4 address/prefix (default 198.18.0.2/24)")
      ->group(group);
  cmd->add_option("--addr6", o.addr6, "synack's IPv6 address (default fd53:796e:6163::1)")
      ->group(group);
  cmd->add_option("--peer6", o.peer6,
                  "the kernel side's IPv6 address/prefix (default fd53:796e:6163::2/64)")
      ->group(group);
  cmd->add_flag("--no-ipv6", o.no_ipv6, "IPv4 only")->group(group);
  cmd->add_option("--mtu", o.mtu, "TUN MTU, 1280..65520 (default 65520)")
      ->check(CLI::Range(1280u, 65520u))
      ->group(group);
  cmd->add_flag("--no-offload", o.no_offload,
                "plain TUN: no virtio-net header, no TSO or checksum offload")
      ->group(group);
  cmd->add_option("--rcvbuf", o.rcvbuf, "receive buffer per connection, bytes (default 256k)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(4096u, 1u << 30))
      ->group(group);
  cmd->add_option("--sndbuf", o.sndbuf, "send buffer per connection, bytes (default 256k)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(4096u, 1u << 30))
      ->group(group);
  cmd->add_option("--pcap", o.pcap, "capture every packet crossing the TUN to FILE")->group(group);
  cmd->add_option("--trace", o.trace, "write state transitions as JSON lines to FILE (- = stdout)")
      ->group(group);
  cmd->add_flag("--trace-segments", o.trace_segments, "with --trace: every segment and drop too")
      ->group(group);
  cmd->add_flag("--stats", o.stats, "print the stack's counters to stderr on exit")->group(group);
  cmd->add_flag("--tail-loss-probe,!--no-tail-loss-probe", o.tail_loss_probe,
                "tail loss probe before the RTO (RFC 8985 §7; needs SACK); on by default")
      ->group(group);
  // Two plain flags: CLI11 sets a std::optional<bool> flag to false when it is not given.
  auto* recovery_probe =
      cmd->add_flag("--recovery-probe", o.recovery_probe_on,
                    "the tail loss probe during SACK recovery too (RFC 8985 §7.2 probes outside "
                    "it only); the profile's choice by default: on in rfc, off in linux")
          ->group(group);
  cmd->add_flag("--no-recovery-probe", o.recovery_probe_off, "no tail loss probe during recovery")
      ->excludes(recovery_probe)
      ->group(group);
  cmd->add_option("--loss-probe-segments", o.loss_probe_segments,
                  "new segments a tail loss probe carries: 1 (RFC 8985, Linux) or 2 (default, "
                  "so that a delayed-ACK receiver answers at once)")
      ->check(CLI::Range(1u, 2u))
      ->group(group);
  cmd->add_option("--loss-probes", o.loss_probes,
                  "tail loss probes an episode may send before its RTO, each after twice the "
                  "last one's timeout: 1 (RFC 8985, Linux) to 3; the profile's by default: 3 in "
                  "rfc, 1 in linux")
      ->check(CLI::Range(1u, 3u))
      ->group(group);
  cmd->add_flag("--batch,!--no-batch", o.batch,
                "hold what a TUN read batch makes TCP send until the batch ends: one ACK per "
                "burst received (up to 64 KiB), one burst per batch of ACKs, as Linux's GRO; "
                "on by default")
      ->group(group);
  cmd->add_option("--cc", o.cc, "congestion control: cubic (default), newreno or bbr")
      ->check(CLI::IsMember({"cubic", "newreno", "reno", "bbr"}))
      ->group(group);
  cmd->add_option("--slow-start-limit", o.slow_start_limit,
                  "SEGMENTS: slow start's growth per ACK at most this many segments (RFC 3465's "
                  "L; 2 is the RFC's); default 0: every segment acknowledged, as Linux")
      ->group(group);
  cmd->add_option("--profile", o.profile,
                  "TCP choices: rfc (default) or linux (synack::profiles, docs/conformance.md)")
      ->check(CLI::IsMember({"rfc", "linux"}))
      ->group(group);
  cmd->add_option("--busy-poll", o.busy_poll_us,
                  "USEC: after traffic, poll without sleeping for up to USEC microseconds "
                  "(lower latency for request/response traffic, at the cost of CPU; default 50, 0: "
                  "always sleep)")
      ->check(CLI::Range(0u, 10000u))
      ->group(group);
  cmd->add_flag("--write-thread", o.write_thread,
                "write bursts of packets to the TUN from a second thread (uses the second core: "
                "the kernel's work behind each write overlaps synack's)")
      ->group(group);
}

void add_server_options(CLI::App* cmd, NetOptions& o, bool listeners) {
  auto group = "Limits";
  o.max_memory = std::size_t{256} << 20;
  cmd->add_option("--max-memory", o.max_memory,
                  "SIZE: bound on buffer memory across all connections (send and receive "
                  "buffers, relay chunks, UDP queues); under it, windows close and new "
                  "connections are refused (default 256M; K, M, G; 0: none)")
      ->transform(CLI::AsSizeValue(false))  // binary units: 1K = 1024
      ->check([](const std::string& bytes) {
        // After the transform: a plain number of bytes.
        const auto n = std::stoull(bytes);
        return n == 0 || n >= (1u << 20) ? std::string() : std::string("at least 1M (or 0: none)");
      })
      ->group(group);
  o.max_connections = 65536;
  cmd->add_option("--max-connections", o.max_connections,
                  "N: connections at once, not counting those in TIME-WAIT, which are bounded "
                  "by N too (beyond it one entering TIME-WAIT is deleted at once, as Linux's "
                  "tcp_max_tw_buckets); beyond N new ones are refused (default 65536)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
      ->group(group);
  cmd->add_option("--fin-timeout", o.fin_timeout,
                  "SECONDS: a connection closed by its application and waiting in FIN-WAIT-2 "
                  "for the peer's FIN is deleted after this long (Linux's tcp_fin_timeout; "
                  "default 60, 0: never)")
      ->check(CLI::Range(0.0, 86400.0))
      ->group(group);
  cmd->add_option("--orphan-retries", o.orphan_retries,
                  "N: a connection closed by its application is given up after N zero-window "
                  "answers to its probes (Linux's tcp_orphan_retries; default 8, 0: never)")
      ->check(CLI::Range(0, 255))
      ->group(group);
  if (!listeners) return;
  cmd->add_option("--syn-cookies", o.syn_cookies,
                  "RFC 4987 SYN cookies: auto (when a SYN queue is full; default), always, "
                  "never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->group(group);
}

std::optional<std::pair<wire::IpAddress, unsigned>> parse_prefix(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = wire::IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  unsigned prefix = 0;
  auto digits = text.substr(slash + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty())
    return std::nullopt;
  if (prefix > (address->is_v4() ? 32u : 128u)) return std::nullopt;
  return std::make_pair(*address, prefix);
}

std::optional<NetAddresses> parse_net_addresses(const NetOptions& o, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<NetAddresses> {
    *error = std::move(message);
    return std::nullopt;
  };
  NetAddresses a;
  auto address = wire::IpAddress::parse(o.addr);
  if (!address || !address->is_v4()) return fail("--addr: not an IPv4 address: " + o.addr);
  auto peer = parse_prefix(o.peer);
  if (!peer || !peer->first.is_v4()) return fail("--peer: expected IPv4 ADDR/PREFIX: " + o.peer);
  if (peer->first == *address) return fail("--peer must differ from --addr");
  a.addr = *address;
  a.peer = {peer->first, peer->second};
  if (!o.no_ipv6) {
    auto address6 = wire::IpAddress::parse(o.addr6);
    if (!address6 || address6->is_v4()) return fail("--addr6: not an IPv6 address: " + o.addr6);
    auto peer6 = parse_prefix(o.peer6);
    if (!peer6 || peer6->first.is_v4())
      return fail("--peer6: expected IPv6 ADDR/PREFIX: " + o.peer6);
    if (peer6->first == *address6) return fail("--peer6 must differ from --addr6");
    a.addr6 = *address6;
    a.peer6 = os::InterfacePrefix{peer6->first, peer6->second};
  }
  return a;
}

std::unique_ptr<NetEnvironment> NetEnvironment::create(const NetOptions& o, std::string_view who,
                                                       std::string* error) {
  std::unique_ptr<NetEnvironment> env(new NetEnvironment());
  env->stats_ = o.stats;
  auto fail = [&](std::string message) {
    *error = std::move(message);
    return nullptr;
  };

  // --- addresses ---
  auto addresses = parse_net_addresses(o, error);
  if (!addresses) return nullptr;
  env->address_ = addresses->addr;
  env->address6_ = addresses->addr6;

  // Signals are held from here on: a Ctrl-C during setup stops the loop as soon as it runs,
  // and cannot kill us half-way through the teardown.
  env->signal_guard_ = std::make_unique<os::SignalGuard>();

  // --- namespace and TUN ---
  std::string create_name = o.tun;
  if (!o.netns.empty()) {
    auto ns = os::NetNamespace::ensure(o.netns);
    if (!ns) return fail(ns.error());
    env->netns_ = std::move(*ns);
    env->netns_name_ = o.netns;
    // Created here, then moved: a temporary name cannot collide with an interface of ours
    // (another synack's synack0, say).
    create_name = "synack-" + std::to_string(::getpid());
    if (create_name.size() > 15) create_name.resize(15);
  }
  os::TunConfig tun_config;
  tun_config.name = create_name;
  tun_config.mtu = o.mtu;
  tun_config.offload = !o.no_offload;
  auto tun = os::TunDevice::open(tun_config);
  if (!tun) return fail(tun.error());
  env->tun_ = std::move(*tun);
  if (!o.no_offload && !env->tun_->offload()) {
    std::cerr << who << ": offloads unavailable (" << env->tun_->offload_note()
              << "); using a plain TUN\n";
  }
  if (env->netns_) {
    if (auto r = os::move_interface(env->tun_->name(), o.netns, o.tun); !r) return fail(r.error());
    env->tun_->set_name(o.tun);
  }

  // --- the kernel's side ---
  os::KernelSideConfig kernel;
  kernel.ifname = env->tun_->name();
  if (env->netns_) kernel.netns = o.netns;
  kernel.mtu = o.mtu;
  kernel.addresses.push_back(addresses->peer);
  kernel.peers.push_back(env->address_);
  if (auto r = os::configure_kernel_side(kernel); !r) return fail(r.error());
  if (addresses->peer6) {
    os::KernelSideConfig kernel6;
    kernel6.ifname = kernel.ifname;
    kernel6.netns = kernel.netns;
    kernel6.addresses.push_back(*addresses->peer6);
    kernel6.peers.push_back(*env->address6_);
    if (auto r = os::configure_kernel_side(kernel6); !r) {
      std::cerr << who << ": IPv6 disabled: " << r.error() << "\n";
      env->address6_.reset();
    }
  }
  if (!env->build_stack(o, false, error)) return nullptr;
  return env;
}

std::unique_ptr<NetEnvironment> NetEnvironment::adopt(const NetOptions& o,
                                                      std::unique_ptr<os::TunDevice> tun,
                                                      bool intercept, std::string* error,
                                                      bool loop_signals) {
  std::unique_ptr<NetEnvironment> env(new NetEnvironment());
  env->stats_ = o.stats;
  auto addresses = parse_net_addresses(o, error);
  if (!addresses) return nullptr;
  env->address_ = addresses->addr;
  env->address6_ = addresses->addr6;
  if (loop_signals) env->signal_guard_ = std::make_unique<os::SignalGuard>();
  env->tun_ = std::move(tun);
  if (!env->build_stack(o, intercept, error, loop_signals)) return nullptr;
  return env;
}

constexpr std::uint32_t kGsoMaxBytes = 65000;

bool NetEnvironment::build_stack(const NetOptions& o, bool intercept, std::string* error,
                                 bool loop_signals) {
  StackConfig config = profiles::by_name(o.profile).value_or(profiles::rfc());
  // RFC 9293 §3.7.1: MSS = MTU minus the fixed IP and TCP headers. TcpConfig::mss is the
  // IPv4 value; connections over IPv6 announce 20 bytes less (Connection::announced_mss).
  config.tcp.mss = static_cast<std::uint16_t>(std::min<unsigned>(tun_->mtu() - 40, 65495));
  if (o.rcvbuf) config.tcp.receive_buffer = o.rcvbuf;
  if (o.sndbuf) config.tcp.send_buffer = o.sndbuf;
  config.tcp.tail_loss_probe = o.tail_loss_probe;
  if (o.recovery_probe_on) config.tcp.recovery_probe = true;
  if (o.recovery_probe_off) config.tcp.recovery_probe = false;
  if (o.loss_probe_segments)
    config.tcp.loss_probe_segments = static_cast<std::uint8_t>(o.loss_probe_segments);
  if (o.loss_probes) config.tcp.loss_probes_per_episode = static_cast<std::uint8_t>(o.loss_probes);
  config.tcp.batch_output = o.batch;
  if (auto cc = congestion_from_name(o.cc)) config.tcp.congestion = *cc;
  config.tcp.slow_start_ack_limit = o.slow_start_limit;
  config.intercept = intercept;
  if (o.max_memory > 0) config.memory_budget = std::make_shared<MemoryBudget>(o.max_memory);
  if (o.max_connections > 0) config.max_connections = config.max_time_wait = o.max_connections;
  if (o.fin_timeout >= 0)
    config.tcp.orphan_fin_timeout = Duration(static_cast<std::int64_t>(o.fin_timeout * 1e6));
  if (o.orphan_retries >= 0)
    config.tcp.orphan_retries = static_cast<std::uint8_t>(o.orphan_retries);
  if (o.syn_cookies == "always") config.syn_cookies = SynCookieMode::Always;
  if (o.syn_cookies == "never") config.syn_cookies = SynCookieMode::Never;
  config.intercept_echo = intercept;  // synack run relays ping beyond the gateway (relay/ping)
  // Checksum offload both ways through a TUN with virtio-net headers, except when a capture
  // is taken: it should show real checksums.
  const bool checksum_offload = tun_->offload() && o.pcap.empty();
  config.tcp_checksum_offload = checksum_offload;
  tun_->set_tx_checksum_offload(checksum_offload);
  tun_->set_complete_checksums(!checksum_offload);
  // TSO needs the partial checksum: bursts of up to 44 full segments at MTU 1500, well
  // inside the 64 KiB an IP packet can hold.
  if (checksum_offload) config.tcp.gso_max_bytes = kGsoMaxBytes;
  random_ = std::make_unique<os::SystemRandom>();
  std::vector<wire::IpAddress> addresses{address_};
  if (address6_) addresses.push_back(*address6_);
  stack_ = std::make_unique<Stack>(config, addresses, random_.get());

  if (!o.pcap.empty()) {
    std::string pcap_error;
    pcap_ = capture::PcapWriter::open(o.pcap, &pcap_error, os::realtime_offset_us());
    if (!pcap_) {
      *error = "--pcap: " + pcap_error;
      return false;
    }
  }
  if (!o.trace.empty()) {
    trace_ = std::make_unique<JsonTraceWriter>(o.trace, o.trace_segments);
    if (!trace_->ok()) {
      *error = "--trace: cannot write " + o.trace;
      return false;
    }
    stack_->set_trace(trace_.get());
  }

  os::EventLoop::Options loop_options;
  loop_options.busy_poll = std::chrono::microseconds(o.busy_poll_us);
  loop_options.write_thread = o.write_thread;
  loop_options.handle_signals = loop_signals;
  auto loop = os::EventLoop::create(*stack_, *tun_, loop_options);
  if (!loop) {
    *error = loop.error();
    return false;
  }
  loop_ = std::move(*loop);
  loop_->set_pcap(pcap_.get());
  return true;
}

NetEnvironment::~NetEnvironment() {
  loop_.reset();
  if (stack_) stack_->set_trace(nullptr);
  if (pcap_) pcap_->flush();
}

std::string NetEnvironment::describe() const {
  std::string s = "tun " + tun_->name();
  if (!netns_name_.empty()) s += " in netns " + netns_name_;
  s += ", mtu " + std::to_string(tun_->mtu());
  s += tun_->offload() ? ", offload on" : ", offload off";
  return s;
}

void NetEnvironment::print_stats(std::ostream& out) const {
  stack_->counters().for_each([&](std::string_view name, std::uint64_t value, std::string_view) {
    if (value) out << name << " " << value << "\n";
  });
  const auto& t = tun_->stats();
  out << "tun_packets_read " << t.packets_read << "\n";
  out << "tun_bytes_read " << t.bytes_read << "\n";
  out << "tun_packets_written " << t.packets_written << "\n";
  out << "tun_bytes_written " << t.bytes_written << "\n";
  if (t.checksums_completed) out << "tun_checksums_completed " << t.checksums_completed << "\n";
  if (t.gso_packets_read) out << "tun_gso_packets_read " << t.gso_packets_read << "\n";
  if (t.bad_vnet_headers) out << "tun_bad_vnet_headers " << t.bad_vnet_headers << "\n";
  const auto& l = loop_->stats();
  out << "loop_wakeups " << l.wakeups << "\n";
  out << "loop_busy_polls " << l.busy_polls << "\n";
  out << "loop_fd_changes " << l.fd_changes << "\n";
  if (l.tun_write_blocked) out << "loop_tun_write_blocked " << l.tun_write_blocked << "\n";
  if (l.tun_output_drops) out << "loop_tun_output_drops " << l.tun_output_drops << "\n";
  if (l.tun_output_queued_bytes)
    out << "loop_tun_output_queued_bytes " << l.tun_output_queued_bytes << "\n";
  if (l.tun_write_errors) out << "loop_tun_write_errors " << l.tun_write_errors << "\n";
  if (l.tun_read_failed) out << "loop_tun_read_failed " << l.tun_read_failed << "\n";
  if (l.tun_thread_packets) out << "loop_tun_thread_packets " << l.tun_thread_packets << "\n";
  if (l.tun_thread_full) out << "loop_tun_thread_full " << l.tun_thread_full << "\n";
}

void NetEnvironment::finish() {
  if (stats_) print_stats(std::cerr);
}

}  // namespace synack::cli
