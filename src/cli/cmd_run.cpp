// SPDX-License-Identifier: MIT
// `synack run [OPTIONS] -- CMD [ARGS...]`: CMD in a network namespace of its own whose only
// way out is synack — user-mode networking, as slirp4netns and pasta provide.
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/address_plan.hpp"
#include "cli/attach_service.hpp"
#include "cli/commands.hpp"
#include "cli/forward_control.hpp"
#include "cli/forward_spec.hpp"
#include "cli/net_options.hpp"
#include "cli/run_helpers.hpp"
#include "cli/run_lanes.hpp"
#include "control/control_socket.hpp"
#include "relay/loopback_forward.hpp"
#include "relay/relay.hpp"
#include "relay/sandbox.hpp"
#include "synack/event_loop.hpp"
#include "synack/tun_device.hpp"

namespace synack::cli {
using namespace synack::control;
using namespace synack::os;
using namespace synack::relay;

// Outside the anonymous namespace: the forward and resolver helpers serve `synack attach` and
// `synack forward` too (cli/forward_spec.hpp).
struct RunArgs {
  NetOptions net;
  bool allow_host_loopback = false;
  std::vector<std::string> forwards;      // -p
  std::vector<std::string> tcp_ports;     // -t (pasta)
  std::vector<std::string> udp_ports;     // -u (pasta)
  std::vector<std::string> ns_tcp_ports;  // -T (pasta): CMD's loopback -> the host's
  std::string cidr;
  bool addresses_given = false;  // --addr or --peer on the command line
  std::string dns;
  bool keep_resolv_conf = false;
  bool user_namespace = false;
  double drain_timeout = 10;  // seconds
  unsigned queues = 1;        // TUN queues, a stack and a thread each (cli/run_lanes.hpp)
  std::vector<std::string> command;
};

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// "ADDR:PORT", "[V6]:PORT", or "ADDR" alone (then `default_port`).
std::optional<wire::Endpoint> parse_endpoint(std::string_view text, std::uint16_t default_port) {
  std::string_view host = text, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return std::nullopt;
      port = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
  }
  auto addr = wire::IpAddress::parse(host);
  if (!addr) return std::nullopt;
  std::uint16_t p = default_port;
  if (!port.empty()) {
    auto parsed = parse_port(port);
    if (!parsed) return std::nullopt;
    p = *parsed;
  }
  return wire::Endpoint{*addr, p};
}

// The host's resolver: the first nameserver of /etc/resolv.conf.
std::optional<wire::Endpoint> host_resolver() {
  std::ifstream in("/etc/resolv.conf");
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l = line;
    constexpr std::string_view kKey = "nameserver";
    if (l.substr(0, kKey.size()) != kKey) continue;
    l.remove_prefix(kKey.size());
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r'))
      l.remove_suffix(1);
    if (auto pct = l.find('%'); pct != std::string_view::npos) l = l.substr(0, pct);
    if (auto addr = wire::IpAddress::parse(l)) return wire::Endpoint{*addr, 53};
  }
  return std::nullopt;
}

void print_relay_stats(const relay::RelayStats& s, std::ostream& out) {
  out << "relay_tcp_connects " << s.tcp_connects << "\n"
      << "relay_tcp_connects_at_once " << s.tcp_connects_at_once << "\n"
      << "relay_tcp_refused " << s.tcp_refused << "\n"
      << "relay_tcp_unreachable " << s.tcp_unreachable << "\n"
      << "relay_tcp_loopback_denied " << s.tcp_loopback_denied << "\n"
      << "relay_tcp_martian_denied " << s.tcp_martian_denied << "\n"
      << "relay_tcp_forwarded " << s.tcp_forwarded << "\n"
      << "relay_forward_accept_rests " << s.forward_accept_rests << "\n"
      << "relay_tcp_dns " << s.tcp_dns << "\n"
      << "relay_gateway_loopback_denied " << s.gateway_loopback_denied << "\n"
      << "relay_bytes_to_host " << s.bytes_to_host << "\n"
      << "relay_bytes_to_guest " << s.bytes_to_guest << "\n"
      << "relay_fin_with_data " << s.fin_with_data << "\n"
      << "relay_fin_alone " << s.fin_alone << "\n"
      << "relay_host_reads_empty " << s.host_reads_empty << "\n"
      << "relay_udp_flows " << s.udp_flows << "\n"
      << "relay_udp_to_host " << s.udp_to_host << "\n"
      << "relay_udp_to_guest " << s.udp_to_guest << "\n"
      << "relay_udp_dropped " << s.udp_dropped << "\n"
      << "relay_udp_loopback_denied " << s.udp_loopback_denied << "\n"
      << "relay_udp_martian_denied " << s.udp_martian_denied << "\n"
      << "relay_udp_refused " << s.udp_refused << "\n"
      << "relay_udp_forward_flows " << s.udp_forward_flows << "\n"
      << "relay_udp_forwarded_in " << s.udp_forwarded_in << "\n"
      << "relay_udp_forwarded_out " << s.udp_forwarded_out << "\n"
      << "relay_udp_forward_dropped " << s.udp_forward_dropped << "\n"
      << "relay_udp_forward_flows_removed " << s.udp_forward_flows_removed << "\n"
      << "relay_ping_requests " << s.ping_requests << "\n"
      << "relay_ping_replies " << s.ping_replies << "\n"
      << "relay_ping_denied " << s.ping_denied << "\n"
      << "relay_ping_unavailable " << s.ping_unavailable << "\n"
      << "relay_ping_dropped " << s.ping_dropped << "\n"
      << "relay_drain_connections " << s.drain_connections << "\n"
      << "relay_drain_completed " << s.drain_completed << "\n"
      << "relay_drain_peer_reset " << s.drain_peer_reset << "\n"
      << "relay_drain_reset " << s.drain_reset << "\n"
      << "relay_drain_bytes_lost " << s.drain_bytes_lost << "\n";
}

void print_loopback_stats(const relay::LoopbackForwardStats& s, std::ostream& out) {
  out << "loopback_forward_accepted " << s.accepted << "\n"
      << "loopback_forward_refused_limit " << s.refused_limit << "\n"
      << "loopback_forward_refused_memory " << s.refused_memory << "\n"
      << "loopback_forward_accept_paused " << s.accept_paused << "\n"
      << "loopback_forward_host_refused " << s.host_refused << "\n"
      << "loopback_forward_completed " << s.completed << "\n"
      << "loopback_forward_reset " << s.reset << "\n"
      << "loopback_forward_bytes_to_host " << s.bytes_to_host << "\n"
      << "loopback_forward_bytes_to_namespace " << s.bytes_to_namespace << "\n"
      << "loopback_forward_pipes_made " << s.pipes_made << "\n"
      << "loopback_forward_pipes_reused " << s.pipes_reused << "\n";
}

namespace {

// `synack run --netns PATH|PID -- CMD`: the namespace exists already; synack attaches to it
// (attach_service.cpp) and runs CMD inside.
int run_in_existing_namespace(const RunArgs& args) {
  if (!args.ns_tcp_ports.empty()) {
    std::cerr << "synack run: -T listens in a namespace synack makes; not with --netns\n";
    return 125;
  }
  if (!args.cidr.empty()) {
    std::cerr << "synack run: --cidr applies to a namespace synack makes; with --netns give "
                 "--addr and --peer\n";
    return 125;
  }
  AttachArgs a;
  a.who = "synack run";
  a.net = args.net;
  a.target = args.net.netns;
  a.net.netns.clear();
  a.allow_host_loopback = args.allow_host_loopback;
  a.forwards = args.forwards;
  a.tcp_ports = args.tcp_ports;
  a.udp_ports = args.udp_ports;
  a.dns = args.dns;
  a.command = args.command;
  return serve_namespace(a);
}

int run_run(RunArgs args) {
  constexpr int kSetupFailed = 125;  // as env(1) and container runtimes: not CMD's status
  auto fail = [](const std::string& message) {
    std::cerr << "synack run: " << message << "\n";
    return kSetupFailed;
  };
  if (args.queues < 1 || args.queues > os::TunDevice::kMaxQueues)
    return fail("--queues: expected 1 to " + std::to_string(os::TunDevice::kMaxQueues));
  if (!args.net.netns.empty()) {
    if (args.queues > 1)
      return fail("--queues applies to a namespace synack makes; not with --netns");
    return run_in_existing_namespace(args);
  }
  if (args.queues > 1 && (!args.net.pcap.empty() || !args.net.trace.empty()))
    return fail("--pcap and --trace take one stack; with --queues N there are N (use --queues 1)");
  // Each queue's stack has its share of the memory budget and of the connections.
  if (args.queues > 1) {
    args.net.max_memory /= args.queues;
    args.net.max_connections = std::max<std::size_t>(1, args.net.max_connections / args.queues);
  }
  std::optional<AddressPlan> plan;
  if (!args.cidr.empty()) {
    if (args.addresses_given)
      return fail("--cidr lays out --addr and --peer: give one or the other");
    auto parsed = plan_from_cidr(args.cidr);
    if (!parsed) return fail(parsed.error());
    plan = *parsed;
    args.net.addr = plan->gateway.to_string();
    args.net.peer = plan->guest.to_string() + "/" + std::to_string(plan->prefix);
  }
  std::string error;
  auto addresses = parse_net_addresses(args.net, &error);
  if (!addresses) return fail(error);

  relay::RelayConfig config;
  config.gateway = addresses->addr;
  config.gateway6 = addresses->addr6;
  config.guest = addresses->peer.address;
  if (addresses->peer6) config.guest6 = addresses->peer6->address;
  config.allow_host_loopback = args.allow_host_loopback;
  if (!(args.drain_timeout >= 0 && args.drain_timeout <= 86400))
    return fail("--drain-timeout: expected 0 to 86400 seconds");
  config.drain_timeout =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(args.drain_timeout));
  if (plan) config.dns_addresses.push_back(plan->dns);
  auto forwards = parse_forwards(args.forwards, args.tcp_ports, args.udp_ports);
  if (!forwards) return fail(forwards.error());
  config.forwards = std::move(*forwards);
  auto ns_forwards = parse_loopback_forwards(args.ns_tcp_ports);
  if (!ns_forwards) return fail(ns_forwards.error());
  config.on_notice = [](const std::string& message) {
    std::cerr << "synack run: " << message << "\n";
  };
  if (!args.dns.empty()) {
    config.dns_upstream = parse_endpoint(args.dns, 53);
    if (!config.dns_upstream) return fail("--dns: expected ADDR[:PORT], got " + args.dns);
  } else {
    config.dns_upstream = host_resolver();
  }

  os::SignalGuard signals;  // SIGINT/SIGTERM go to the loop (and on to CMD), not to us
  relay::SandboxConfig box_config;
  box_config.argv = args.command;
  box_config.tun.name = args.net.tun;
  box_config.tun.mtu = args.net.mtu;
  box_config.tun.offload = !args.net.no_offload;
  box_config.tun.queues = args.queues;
  box_config.addresses.push_back(addresses->peer);
  box_config.gateways.push_back(addresses->addr);
  if (addresses->peer6) {
    box_config.addresses.push_back(*addresses->peer6);
    box_config.gateways.push_back(*addresses->addr6);
  }
  if (!args.keep_resolv_conf)
    box_config.resolv_conf =
        "nameserver " + (plan ? plan->dns : addresses->addr).to_string() + "\n";
  box_config.user_namespace = args.user_namespace;
  for (const auto& [ns_port, host_port] : *ns_forwards)
    box_config.loopback_tcp_ports.push_back(ns_port);
  auto box = relay::Sandbox::start(box_config);
  if (!box) return fail(box.error());
  auto& sandbox = **box;

  // One host socket per relayed connection: as many descriptors as we are allowed (raised
  // after the fork, so CMD keeps its own limit).
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  // Every relayed connection allocates its rings (256 KiB each by default) and frees them when
  // it ends. glibc's adaptive thresholds put such blocks at the heap's top and give the top
  // back to the kernel (brk) as soon as it passes twice the block size: with short connections,
  // a brk and fresh zeroed pages faulted in for almost every one. A fixed mmap threshold above
  // the rings and a trim threshold of 64 MiB keep freed rings for the next connection.
  (void)::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  (void)::mallopt(M_TRIM_THRESHOLD, 64 << 20);
  auto env = NetEnvironment::adopt(args.net, sandbox.take_tun(), true, &error);
  if (!env) return fail(error);
  auto& loop = env->loop();
  auto relay = relay::Relay::create(env->stack(), loop, config);
  if (!relay) return fail(relay.error());
  // --queues N: the other N - 1 queues, a stack, loop and relay each, on threads of their own.
  std::unique_ptr<RunLanes> lanes;
  if (args.queues > 1) {
    auto made = RunLanes::create(args.net, *env, **relay, sandbox.take_tun_queues(), config);
    if (!made) return fail(made.error());
    lanes = std::move(*made);
    lanes->note_forwards((*relay)->forwards());
  }
  std::vector<relay::LoopbackForward> spliced;
  for (const auto& l : sandbox.take_loopback_listeners())
    spliced.push_back({l.fd, l.port, ns_forwards->at(l.port), l.ipv6});
  relay::LoopbackForwarder loopback(loop, std::move(spliced), {}, env->stack().memory_budget());
  if (auto r = loopback.start(); !r) return fail(std::string("-T: ") + std::strerror(r.error()));

  std::optional<int> status;
  // CMD has exited, and with it every process of its namespace; the namespace itself lives on
  // (our TUN and CMD's orphaned sockets hold it), and its kernel may still hold data and FINs
  // for relayed connections: relay until they have all finished, at most the drain timeout.
  bool draining = false;
  Instant drain_start{};
  os::EventLoop::TimerId drain_check = 0;
  auto end_drain = [&](const char* why) {
    if (drain_check) loop.cancel_timer(drain_check);
    drain_check = 0;
    auto loss = (*relay)->abort_drain();
    if (lanes) {
      auto other = lanes->abort_drain();
      loss.connections += other.connections;
      loss.bytes += other.bytes;
    }
    auto spliced_loss = loopback.abort_all();  // -T
    loss.connections += spliced_loss.connections;
    loss.bytes += spliced_loss.bytes_to_host;
    if (loss.connections > 0)
      std::cerr << "synack run: CMD exited; " << why << ": reset " << loss.connections
                << " relayed connection(s) still open, " << loss.bytes
                << " byte(s) toward the host lost (and whatever CMD's kernel had not sent yet)\n";
    loop.stop();
  };
  std::function<void()> check_drain = [&] {
    drain_check = 0;
    if ((*relay)->drained() && loopback.active() == 0 && (!lanes || lanes->drained())) {
      (*relay)->shutdown();
      loop.stop();
      return;
    }
    if (loop.now() - drain_start >= config.drain_timeout) {
      end_drain("drain timeout");
      return;
    }
    // Splices end on their own events; the stack's last ACKs and FINs finish in between.
    drain_check = loop.call_at(loop.now() + 10ms, check_drain);
  };
  auto child_exited = [&] {
    if (status) return;
    status = sandbox.poll_exit();
    if (!status) return;
    // A pidfd stays readable once its process has exited: watched during the drain, it woke
    // the loop at once on every round (a busy loop for as long as the drain lasted).
    if (sandbox.exit_fd() >= 0) loop.remove_fd(sandbox.exit_fd());
    draining = true;
    drain_start = loop.now();
    (*relay)->begin_drain();
    if (lanes) lanes->begin_drain();
    loopback.close_listeners();
    check_drain();
  };
  if (sandbox.exit_fd() >= 0) {
    (void)loop.add_fd(sandbox.exit_fd(), EPOLLIN, [&](std::uint32_t) { child_exited(); });
  } else {
    // No pidfd (a kernel before 5.3): look every 100 ms.
    std::function<void()> poll_child = [&] {
      child_exited();
      if (!status) loop.call_at(loop.now() + 100ms, poll_child);
    };
    loop.call_at(loop.now() + 100ms, poll_child);
  }
  loop.on_signal([&](int sig, int code) {
    // CMD decides what a signal means; its exit ends us. A terminal's Ctrl-C reached CMD
    // already (same process group): only kill(2)'s signals are passed on. Once CMD is gone,
    // a signal ends the drain at once.
    if (draining) {
      end_drain(sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
      return true;
    }
    if (code != SI_KERNEL) sandbox.signal(sig);
    return true;
  });
  loop.on_socket_event([&](const SocketEvent& ev) { (*relay)->on_socket_event(ev); });
  auto control = ControlService::open(loop, env->stack(), "run");  // synack ss / stats
  if (control->server()) {
    auto forwards = forward_request_handler(**relay);
    if (lanes) {
      // A forward added at run time: its UDP datagrams belong to lane 0 (relay/steering.hpp).
      forwards = [forwards, &lanes, &relay](std::string_view request) {
        auto answer = forwards(request);
        lanes->note_forwards((*relay)->forwards());
        return answer;
      };
    }
    control->server()->set_request_handler(std::move(forwards));
    // synack ss and synack stats: every queue's stack.
    if (lanes)
      control->server()->set_sources(
          {[&lanes] { return lanes->connections(); }, [&lanes] { return lanes->counters(); }});
  }
  if (lanes) {
    if (auto r = lanes->start(); !r) return fail(r.error());
  }

  sandbox.release();
  loop.run();
  if (lanes) lanes->stop();
  if (!status) status = sandbox.poll_exit();
  if (args.net.stats) {
    if (lanes) {
      lanes->print_stats(RunLanes::lane_stats(*env, **relay), std::cerr);
    } else {
      env->print_stats(std::cerr);
      print_relay_stats((*relay)->stats(), std::cerr);
    }
    print_loopback_stats(loopback.stats(), std::cerr);
  }
  lanes.reset();
  relay->reset();
  return status.value_or(kSetupFailed);
}

}  // namespace

std::vector<std::string>& run_command_line() {
  static std::vector<std::string> command;
  return command;
}

void register_run(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand(
      "run",
      "run a command in a network namespace whose traffic synack carries (user-mode "
      "networking, like slirp4netns or pasta)");
  cmd->add_flag("--allow-host-loopback", args->allow_host_loopback,
                "let connections and datagrams to the gateway address reach the host's "
                "127.0.0.1 / ::1 (refused otherwise)");
  cmd->add_option("-p,--publish", args->forwards,
                  "forward [HOSTADDR:]HOSTPORT[-END]:PORT[-END][/tcp|/udp]: connections "
                  "(datagrams) to HOSTADDR:HOSTPORT on the host (default address 127.0.0.1; "
                  "[::1], 0.0.0.0, [::] ...) go to PORT in the namespace; ranges of equal "
                  "length; repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-t,--tcp-ports", args->tcp_ports,
                  "pasta's TCP forwards: [ADDR/]PORT[-END][:PORT[-END]][,...] (the namespace's "
                  "port defaults to the host's; ADDR defaults to 127.0.0.1); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-u,--udp-ports", args->udp_ports, "pasta's UDP forwards, as -t; repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-T,--tcp-ns-ports", args->ns_tcp_ports,
                  "pasta's -T: PORT[-END][:HOSTPORT[-END]][,...]: connections to PORT on CMD's "
                  "own 127.0.0.1 (and ::1) go to HOSTPORT (default the same) on the host's, "
                  "spliced by the kernel (no user-space TCP: pasta's fast path); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--cidr", args->cidr,
                  "IPv4 NETWORK/PREFIX laid out as slirp4netns does: synack (gateway) at .2, "
                  "the DNS resolver at .3, CMD at .100 (e.g. 10.0.2.0/24); instead of --addr "
                  "and --peer");
  cmd->add_option("--dns", args->dns,
                  "where DNS queries to the gateway go, ADDR[:PORT] (default: the first "
                  "nameserver of the host's /etc/resolv.conf)");
  cmd->add_flag("--keep-resolv-conf", args->keep_resolv_conf,
                "leave CMD's /etc/resolv.conf alone (by default it names the gateway)");
  cmd->add_flag("--userns", args->user_namespace,
                "use a user namespace even as root (always used when not root)");
  cmd->add_option("--queues", args->queues,
                  "TUN queues (1 to 16, default 1): each has a stack and a relay on a thread of "
                  "its own, and the kernel spreads CMD's flows over them (IFF_MULTI_QUEUE); "
                  "port forwards, -T and the control socket stay on the first (synack ss and "
                  "synack stats show every queue's). Not with --pcap, --trace or --netns");
  cmd->add_option("--drain-timeout", args->drain_timeout,
                  "after CMD exits, how long (seconds, default 10) its relayed connections may "
                  "take to finish, so that what its kernel still holds reaches the host; then "
                  "the rest are reset and the loss reported (0: reset at once)");
  add_net_options(cmd, args->net);
  add_server_options(cmd, args->net, false);

  cmd->footer(
      "CMD's namespace has one interface, synack0, with --peer (default 198.18.0.2/24) and\n"
      "--peer6, and default routes via synack's --addr (198.18.0.1) and --addr6; the gateway\n"
      "answers ping and is CMD's DNS resolver (UDP and TCP). Every TCP connection CMD opens\n"
      "is terminated by synack and relayed through a host socket to the same destination;\n"
      "UDP likewise (a datagram the host refuses comes back as ICMP port unreachable); ping\n"
      "beyond the gateway goes through the host's ping sockets where\n"
      "net.ipv4.ping_group_range allows them.\n"
      "When CMD exits, synack run relays its open connections until they finish (at most\n"
      "--drain-timeout), then exits too.\n"
      "Exit status: CMD's (128+N when killed by signal N); 125 when synack could not set up.\n"
      "SIGINT and SIGTERM are passed on to CMD. Not root: a user namespace is used.\n"
      "With --netns PATH|PID, CMD runs in that existing namespace instead, which synack\n"
      "serves as synack attach does (entering its owner's user namespace when not root).\n\n"
      "Examples:\n"
      "  synack run -- curl -s http://example.org/\n"
      "  synack run --allow-host-loopback -- curl http://198.18.0.1:8080/   # host's "
      "127.0.0.1:8080\n"
      "  synack run -p 8080:80 -- python3 -m http.server 80                # host 127.0.0.1:8080 "
      "-> CMD's 80\n"
      "  synack run -p 5300-5309:5300-5309/udp -p [::1]:8443:443 -- CMD    # UDP range, IPv6\n"
      "  synack run -T 5201 -- iperf3 -c 127.0.0.1                      # CMD's 127.0.0.1:5201 "
      "-> host's\n"
      "  synack run --cidr 10.0.2.0/24 -- ip addr                       # slirp4netns's layout\n"
      "  synack run --trace run.jsonl --stats -- wget -qO- http://198.18.0.1/");
  cmd->callback([args, cmd] {
    args->addresses_given = cmd->count("--addr") > 0 || cmd->count("--peer") > 0;
    args->command = run_command_line();
    if (args->command.empty()) {
      std::cerr << "synack run: no command given (synack run [OPTIONS] -- CMD [ARGS...])\n";
      exit_status() = 125;
      return;
    }
    exit_status() = run_run(*args);
  });
}

}  // namespace synack::cli
