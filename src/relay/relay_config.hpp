// What `synack run`'s relay needs to know: its addresses, the namespace's, and the user's
// decisions (host loopback, port forwards, the DNS upstream).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "synack/time.hpp"
#include "wire/ip_address.hpp"

namespace synack::relay {

// -p [HOSTADDR:]HOSTPORT:PORT — a host listener whose connections go into the namespace.
struct PortForward {
  wire::Endpoint host;  // address and port listened on, on the host
  std::uint16_t guest_port = 0;
};

struct RelayConfig {
  wire::IpAddress gateway;  // synack's address, the namespace's default route
  std::optional<wire::IpAddress> gateway6;
  wire::IpAddress guest;  // the namespace's address
  std::optional<wire::IpAddress> guest6;
  // Connections and datagrams to the gateway reach the host's loopback only when allowed.
  bool allow_host_loopback = false;
  // Where DNS queries to the gateway (UDP port 53) go: the host's resolver.
  std::optional<wire::Endpoint> dns_upstream;
  // Further addresses whose UDP port 53 is the resolver as the gateway's is (slirp4netns's
  // 10.0.2.3); anything else sent to them is relayed as to any other address.
  std::vector<wire::IpAddress> dns_addresses;
  std::vector<PortForward> forwards;
  Duration connect_timeout = 30s;  // a host connect() slower than this: unreachable
  std::size_t max_udp_flows = 1024;
  Duration udp_idle_timeout = 60s;
  // Once CMD has exited, how long its relayed connections may take to finish (what its kernel
  // still holds reaches the host, FINs both ways); what is left then is reset and counted.
  Duration drain_timeout = 10s;
};

struct RelayStats {
  std::uint64_t tcp_connects = 0;         // host connects that succeeded
  std::uint64_t tcp_refused = 0;          // ... refused (RST to the namespace)
  std::uint64_t tcp_unreachable = 0;      // ... unreachable or timed out (ICMP)
  std::uint64_t tcp_loopback_denied = 0;  // to the host's loopback (any form) without the flag
  std::uint64_t tcp_martian_denied = 0;   // to unspecified, multicast, link-local, ... addresses
  std::uint64_t tcp_forwarded = 0;        // port-forward connections accepted
  std::uint64_t udp_flows = 0;
  std::uint64_t udp_to_host = 0;
  std::uint64_t udp_to_guest = 0;
  std::uint64_t udp_dropped = 0;          // no destination for it, or a flow limit
  std::uint64_t udp_loopback_denied = 0;  // ... of which to the host's loopback, any form
  std::uint64_t udp_martian_denied = 0;   // ... of which to other special-purpose addresses
  std::uint64_t bytes_to_host = 0;
  std::uint64_t bytes_to_guest = 0;
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
