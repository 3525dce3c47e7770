// SPDX-License-Identifier: MIT
// `synack slirp4netns` (also synack invoked as `slirp4netns`, through a symlink): slirp4netns's
// command line, addressing and API socket, served by synack — what rootless podman, buildah
// and rootlesskit start for a container's network namespace.
//
//   slirp4netns [OPTIONS] PID|PATH TAPNAME
//
// Defaults as slirp4netns 1.2: 10.0.2.0/24 with synack (the gateway) at .2, the resolver at .3
// and the namespace at .100; with --enable-ipv6 fd00::/64 with ::2, ::3 and ::100; MTU 1500;
// the host's loopback reachable through the gateway unless --disable-host-loopback.
#include <iostream>
#include <memory>

#include "cli/attach_service.hpp"
#include "cli/commands.hpp"
#include "cli/net_options.hpp"
#include "wire/ip_address.hpp"

namespace synack::cli {
namespace {

struct SlirpArgs {
  std::string target;
  std::string tapname;
  bool configure = false;
  unsigned mtu = 1500;
  bool enable_ipv6 = false;
  bool disable_host_loopback = false;
  bool disable_dns = false;
  std::string cidr = "10.0.2.0/24";
  std::string netns_type = "pid";
  std::string userns_path;
  std::string api_socket;
  int ready_fd = -1;
  int exit_fd = -1;
  std::string outbound_addr;
  std::string outbound_addr6;
  std::string macaddress;
  bool enable_sandbox = false;
  bool enable_seccomp = false;
  bool version = false;
  // Not slirp4netns's: synack's own diagnostics.
  bool stats = false;
  std::string pcap;
  // synack run's bounds (--max-memory 256M by default, --fin-timeout, --orphan-retries): a
  // container's processes must not take the host's memory through the relay.
  NetOptions limits;
};

// --cidr's network with the host part `n` (.2 gateway, .3 resolver, .100 namespace).
std::optional<wire::IpAddress> host_in(const wire::IpAddress& network, unsigned prefix,
                                       std::uint32_t n) {
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  if (n > ~mask) return std::nullopt;
  return wire::IpAddress::v4_from_u32((network.v4_u32() & mask) | n);
}

int run_slirp4netns(const SlirpArgs& s) {
  auto fail = [](const std::string& message) {
    std::cerr << "slirp4netns (synack): " << message << "\n";
    return 1;
  };
  if (s.target.empty() || s.tapname.empty())
    return fail("usage: slirp4netns [OPTIONS] PID|PATH TAPNAME");
  if (s.tapname.size() > 15) return fail("TAPNAME: at most 15 characters: " + s.tapname);
  auto cidr = parse_prefix(s.cidr);
  // libslirp needs room for .2, .3 and .100 (slirp4netns refuses prefixes above /25 too).
  if (!cidr || !cidr->first.is_v4() || cidr->second > 25)
    return fail("--cidr: expected an IPv4 network of /25 or larger, got " + s.cidr);
  auto gateway = host_in(cidr->first, cidr->second, 2);
  auto resolver = host_in(cidr->first, cidr->second, 3);
  auto guest = host_in(cidr->first, cidr->second, 100);
  if (!gateway || !resolver || !guest) return fail("--cidr: too small: " + s.cidr);

  AttachArgs a;
  a.who = "slirp4netns (synack)";
  a.target = s.target;
  a.netns_type = s.netns_type;
  a.userns_path = s.userns_path;
  a.configure = s.configure;
  a.replace_tap = true;
  a.allow_host_loopback = !s.disable_host_loopback;
  a.disable_dns = s.disable_dns;
  a.dns_addresses.push_back(*resolver);
  a.ready_fd = s.ready_fd;
  a.exit_fd = s.exit_fd;
  a.api_socket = s.api_socket;
  a.net.tun = s.tapname;
  a.net.mtu = s.mtu;
  a.net.addr = gateway->to_string();
  a.net.peer = guest->to_string() + "/" + std::to_string(cidr->second);
  a.net.no_ipv6 = !s.enable_ipv6;
  a.net.addr6 = "fd00::2";
  a.net.peer6 = "fd00::100/64";
  if (s.enable_ipv6) a.dns_addresses.push_back(*wire::IpAddress::parse("fd00::3"));
  a.net.stats = s.stats;
  a.net.pcap = s.pcap;
  a.net.max_memory = s.limits.max_memory;
  a.net.max_connections = s.limits.max_connections;
  a.net.fin_timeout = s.limits.fin_timeout;
  a.net.orphan_retries = s.limits.orphan_retries;
  // Accepted and not applied (README, "Use with podman / rootlesskit"): --outbound-addr
  // (relayed sockets are bound by the host's routing), --macaddress (a TUN has no link
  // layer), --enable-sandbox and --enable-seccomp (synack keeps its own privileges; it never
  // runs code from the namespace).
  return serve_namespace(a);
}

}  // namespace

void register_slirp4netns(CLI::App& app) {
  auto s = std::make_shared<SlirpArgs>();
  auto* cmd = app.add_subcommand(
      "slirp4netns",
      "slirp4netns's command line, addressing and API socket, served by synack (for podman, "
      "buildah, rootlesskit; also run as `slirp4netns` through a symlink)");
  cmd->add_option("target", s->target, "PID or PATH of the network namespace");
  cmd->add_option("tapname", s->tapname, "the interface to create in it (e.g. tap0)");
  cmd->add_flag("-c,--configure", s->configure,
                "bring up the interface, give it the namespace's address and routes");
  cmd->add_option("-e,--exit-fd", s->exit_fd, "exit when this descriptor becomes readable");
  cmd->add_option("-r,--ready-fd", s->ready_fd, "write \"1\" to this descriptor when ready");
  cmd->add_option("-m,--mtu", s->mtu, "MTU (default 1500, at most 65520)")
      ->check(CLI::Range(1280u, 65520u));
  cmd->add_option("--cidr", s->cidr, "the IPv4 network (default 10.0.2.0/24)");
  cmd->add_flag("--disable-host-loopback", s->disable_host_loopback,
                "refuse connections to the host's 127.0.0.1 / ::1 through the gateway");
  cmd->add_option("--netns-type", s->netns_type, "pid (default) or path")
      ->check(CLI::IsMember({"pid", "path"}));
  cmd->add_option("--userns-path", s->userns_path, "enter this user namespace first");
  cmd->add_option("-a,--api-socket", s->api_socket, "the JSON API socket (port forwards)");
  cmd->add_flag("-6,--enable-ipv6", s->enable_ipv6, "IPv6 too (fd00::/64; resolver fd00::3)");
  cmd->add_flag("--disable-dns", s->disable_dns, "no resolver at .3");
  cmd->add_option("--outbound-addr", s->outbound_addr, "accepted, not applied");
  cmd->add_option("--outbound-addr6", s->outbound_addr6, "accepted, not applied");
  cmd->add_option("--macaddress", s->macaddress, "accepted, not applied (a TUN has no MAC)");
  cmd->add_flag("--enable-sandbox", s->enable_sandbox, "accepted, not applied");
  cmd->add_flag("--enable-seccomp", s->enable_seccomp, "accepted, not applied");
  cmd->add_flag("-v,--version", s->version, "print the version");
  cmd->add_flag("--stats", s->stats, "(synack) print counters on exit");
  cmd->add_option("--pcap", s->pcap, "(synack) capture the interface's packets to FILE");
  add_server_options(cmd, s->limits, false);
  cmd->footer(
      "Addressing as slirp4netns: gateway .2, resolver .3, namespace .100 of --cidr.\n"
      "TAPNAME is created as a TUN (IP packets, no Ethernet): with --configure or a caller\n"
      "that configures it (rootlesskit), nothing else differs.");
  cmd->callback([s] {
    if (s->version) {
      // podman info and rootlesskit read the first line's version.
      std::cout << "slirp4netns version 1.2.0 (served by synack: synack --version)\n"
                << "libslirp: none (synack's own stack)\n";
      exit_status() = 0;
      return;
    }
    exit_status() = run_slirp4netns(*s);
  });
}

}  // namespace synack::cli
