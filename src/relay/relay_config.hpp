// SPDX-License-Identifier: MIT
// What `synack run`'s relay needs to know: its addresses, the namespace's, and the user's
// decisions (host loopback, port forwards, the DNS upstream).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "synack/time.hpp"
#include "wire/ip_address.hpp"

namespace synack::relay {

enum class ForwardProtocol : std::uint8_t { Tcp, Udp };

// -p [HOSTADDR:]HOSTPORT:PORT[/udp] — a host socket whose connections (TCP) or datagrams (UDP)
// go into the namespace. A range (-p 8000-8010:8000-8010) is one PortForward per port
// (cli/forward_spec.hpp expands it).
struct PortForward {
  wire::Endpoint host;  // address and port listened on, on the host
  std::uint16_t guest_port = 0;
  ForwardProtocol protocol = ForwardProtocol::Tcp;
};

// "tcp 127.0.0.1:8080 -> :80", for messages.
std::string describe(const PortForward& forward);

struct RelayConfig {
  wire::IpAddress gateway;  // synack's address, the namespace's default route
  std::optional<wire::IpAddress> gateway6;
  wire::IpAddress guest;  // the namespace's address
  std::optional<wire::IpAddress> guest6;
  // Connections and datagrams to the gateway reach the host's loopback only when allowed.
  bool allow_host_loopback = false;
  // Where DNS queries to the gateway (UDP port 53) go: the host's resolver.
  std::optional<wire::Endpoint> dns_upstream;
  std::vector<PortForward> forwards;
  // The namespace's resolvers when they are not the gateway (--cidr and the slirp4netns front:
  // 10.0.2.3 beside the gateway 10.0.2.2, fd00::3 with IPv6, as slirp4netns): UDP and TCP to
  // them on port 53 go to dns_upstream, nothing else goes anywhere (relay/destination.cpp).
  std::vector<wire::IpAddress> dns_addresses;
  // Told once, the first time a connection or datagram to the gateway is refused because host
  // loopback is not allowed (synack run prints it on stderr, naming --allow-host-loopback).
  std::function<void(const std::string&)> on_notice;
  Duration connect_timeout = 30s;  // a host connect() slower than this: unreachable
  std::size_t max_udp_flows = 1024;
  // Forwards at once, TCP and UDP together (a host listener or socket each): every port of
  // both protocols on two addresses. Whoever may add forwards at run time (the control and
  // API sockets: the user, or CMD running as the user) cannot take descriptors without end.
  std::size_t max_forwards = 4 * 65536;
  Duration udp_idle_timeout = 60s;
  // Once CMD has exited, how long its relayed connections may take to finish (what its kernel
  // still holds reaches the host, FINs both ways); what is left then is reset and counted.
  Duration drain_timeout = 10s;
};

struct RelayStats {
  std::uint64_t tcp_connects = 0;             // host connects that succeeded
  std::uint64_t tcp_connects_at_once = 0;     // ... done inside connect() (the host's loopback)
  std::uint64_t tcp_refused = 0;              // ... refused (RST to the namespace)
  std::uint64_t tcp_unreachable = 0;          // ... unreachable or timed out (ICMP)
  std::uint64_t tcp_loopback_denied = 0;      // to the host's loopback (any form) without the flag
  std::uint64_t gateway_loopback_denied = 0;  // TCP and UDP to the gateway without the flag
  std::uint64_t tcp_martian_denied = 0;  // to unspecified, multicast, link-local, ... addresses
  std::uint64_t tcp_forwarded = 0;       // port-forward connections accepted
  std::uint64_t forward_accept_rests =
      0;                      // a forward's listener rested: no descriptors (AcceptRest)
  std::uint64_t tcp_dns = 0;  // DNS over TCP to the gateway, sent to dns_upstream
  std::uint64_t udp_flows = 0;
  std::uint64_t udp_to_host = 0;
  std::uint64_t udp_to_guest = 0;
  std::uint64_t udp_dropped = 0;          // no destination for it, or a flow limit
  std::uint64_t udp_loopback_denied = 0;  // ... of which to the host's loopback, any form
  std::uint64_t udp_martian_denied = 0;   // ... of which to other special-purpose addresses
  // The host refused a relayed datagram (ECONNREFUSED: an ICMP port unreachable came back),
  // or the destination was denied (loopback, special-purpose); each becomes an ICMP/ICMPv6
  // port unreachable toward the namespace, rate-limited by the stack (icmp_rate_limited
  // counts the ones not sent).
  std::uint64_t udp_refused = 0;
  std::uint64_t udp_forward_flows = 0;  // host peers of a UDP forward given a flow
  std::uint64_t udp_forwarded_in = 0;   // datagrams host peer -> namespace
  std::uint64_t udp_forwarded_out = 0;  // ... namespace -> host peer
  // ICMP echo beyond the gateway (relay/ping.hpp): requests sent through host ping sockets,
  // replies passed back, requests refused (loopback, special-purpose), requests the host's
  // ping_group_range did not allow, and other losses.
  std::uint64_t ping_requests = 0;
  std::uint64_t ping_replies = 0;
  std::uint64_t ping_denied = 0;
  std::uint64_t ping_unavailable = 0;
  std::uint64_t ping_dropped = 0;
  std::uint64_t udp_forward_dropped = 0;        // flow limit, or the stack or host socket refused
  std::uint64_t udp_forward_flows_removed = 0;  // flows ended by removing their forward
  std::uint64_t bytes_to_host = 0;
  std::uint64_t bytes_to_guest = 0;
  // The host's end-of-file read together with the last data, so that our FIN toward the
  // namespace rides on the last data segment, or read alone (a FIN segment of its own: a client
  // that closes once it has the data then closes first, and keeps TIME-WAIT).
  std::uint64_t fin_with_data = 0;
  std::uint64_t fin_alone = 0;
  // Reads of a host socket that found nothing (EAGAIN before any byte; each a system call spent).
  std::uint64_t host_reads_empty = 0;
  // After CMD's exit (Relay::begin_drain): connections still relayed then, those that finished
  // on both sides, those reset at the drain timeout (or a signal), and the bytes toward the host
  // that the reset dropped (held by synack or by its host socket; not what CMD's kernel had not
  // sent yet, which synack cannot see).
  std::uint64_t drain_connections = 0;
  std::uint64_t drain_completed = 0;
  std::uint64_t drain_peer_reset = 0;  // ... ended by an RST or error from either side
  std::uint64_t drain_reset = 0;
  std::uint64_t drain_bytes_lost = 0;
};

}  // namespace synack::relay
