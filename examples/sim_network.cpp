// SPDX-License-Identifier: MIT
// Example (d): two stacks on the library's simulated network, captured to pcap and read back.
//
// synack::link (libsynack-link) carries, beside the TUN device and the event loop, a network in
// virtual time (synack/sim_network.hpp) and pcap files (synack/pcap.hpp). Here a client stack
// (198.18.0.1) sends 1 MiB to a server stack (198.18.0.2) over a 20 Mbit/s path with 10 ms of
// delay each way and 1% loss, both ends close, and the run goes on until TIME-WAIT is over — in
// well under a second of real time, the same way on every run (the seed fixes every fate). Every
// packet is written to a capture as it is sent; the program then reads the capture back with
// PcapReader and counts its frames and SYNs against the network's own counters.
//
//   sim_network [CAPTURE.pcap]     (default: a file in $TMPDIR, removed at the end)
// Exit status 0 when the bytes arrived, the link lost some and the capture matches.
#include <unistd.h>

#include <synack/pcap.hpp>
#include <synack/sim_network.hpp>
#include <synack/stack.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

namespace {

namespace event = synack::tcp::event;
using synack::Instant;
using synack::Stack;
using namespace std::chrono_literals;

constexpr std::size_t kTransfer = 1 << 20;
int failures = 0;

void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", what);
  if (!ok) ++failures;
}

// The TCP flags byte of an IPv4 packet carrying TCP (what a capture reader would look at).
int tcp_flags(std::span<const std::byte> ip) {
  if (ip.size() < 20 || (std::to_integer<int>(ip[0]) >> 4) != 4 || std::to_integer<int>(ip[9]) != 6)
    return -1;
  const std::size_t ihl = (std::to_integer<std::size_t>(ip[0]) & 0x0f) * 4;
  return ip.size() < ihl + 14 ? -1 : std::to_integer<int>(ip[ihl + 13]);
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  const bool keep = argc > 1;
  const std::string path = keep ? argv[1]
                                : std::string(tmp ? tmp : "/tmp") + "/synack-sim-example-" +
                                      std::to_string(::getpid()) + ".pcap";
  const auto client_addr = synack::wire::IpAddress::v4(198, 18, 0, 1);
  const auto server_addr = synack::wire::IpAddress::v4(198, 18, 0, 2);
  synack::StackConfig config;
  config.random_seed = 1;
  Stack client(config, {client_addr});
  config.random_seed = 2;
  Stack server(config, {server_addr});

  synack::sim::SimNetwork net(/*seed=*/42);
  synack::sim::LinkParams link;
  link.delay = 10ms;
  link.rate_bps = 20'000'000;
  link.loss = 0.01;
  net.set_default_link(link);
  net.add_host(client, {client_addr}, "client");
  net.add_host(server, {server_addr}, "server");
  std::string error;
  if (!net.capture_to(path, &error)) {  // errors are values: libpcap's message
    std::fprintf(stderr, "capture %s: %s\n", path.c_str(), error.c_str());
    return 1;
  }

  auto listener = server.listen({server_addr, 9}, net.now());
  auto conn = client.connect({server_addr, 9}, net.now());
  if (!listener || !conn) {
    std::fprintf(stderr, "listen/connect failed\n");
    return 1;
  }
  const std::vector<std::byte> chunk(16384, std::byte{'x'});
  std::size_t sent = 0, received = 0;
  bool client_closed = false, server_closed = false;

  // The application's loop: run the network 1 ms of virtual time, react to socket events, hand
  // what the stacks produced to the network (flush_outputs), until both connections are freed.
  const Instant limit = net.now() + 120s;
  while (net.now() < limit && (client.connection_count() > 0 || server.connection_count() > 0)) {
    net.run_for(1ms);
    while (auto ev = server.poll_event()) {
      if (ev->is_listener) {
        while (server.accept(*listener)) {
        }
        continue;
      }
      std::vector<std::byte> buf(65536);
      while (auto n = server.receive(ev->handle, buf, net.now())) {
        if (*n == 0) break;
        received += *n;
      }
      if ((ev->events & event::PeerClosed) && !server_closed) {
        server.close(ev->handle, net.now());
        server_closed = true;
      }
    }
    while (auto ev = client.poll_event()) {
      if (ev->events & event::PeerClosed) client.close(*conn, net.now());
    }
    // Fill the send buffer as far as it takes (it says how much: a partial write is normal).
    while (sent < kTransfer && !client_closed) {
      const std::size_t want = std::min(chunk.size(), kTransfer - sent);
      auto n = client.send(*conn, std::span(chunk).first(want), net.now());
      if (!n || *n == 0) break;
      sent += *n;
    }
    if (sent == kTransfer && !client_closed) {
      client.shutdown_write(*conn, net.now());  // FIN after the last byte
      client_closed = true;
    }
    net.flush_outputs();
  }
  net.stop_capture();
  const auto& counters = net.counters();
  std::printf("virtual time %.3f s: %zu bytes delivered; %llu packets sent, %llu lost\n",
              synack::to_us(net.now()) / 1e6, received,
              static_cast<unsigned long long>(counters.packets_sent),
              static_cast<unsigned long long>(counters.lost));

  auto reader = synack::capture::PcapReader::open(path, &error);
  if (!reader) {
    std::fprintf(stderr, "read %s: %s\n", path.c_str(), error.c_str());
    return 1;
  }
  std::uint64_t frames = 0, syns = 0;
  while (auto packet = reader->next()) {
    ++frames;
    if (int flags = tcp_flags(packet->ip); flags >= 0 && (flags & 0x02)) ++syns;
  }
  if (!keep) std::remove(path.c_str());
  std::printf("checks:\n");
  check(received == kTransfer, "the server received every byte");
  check(counters.lost > 0, "the link lost packets (and TCP recovered them)");
  check(client.connection_count() == 0 && server.connection_count() == 0,
        "both connections closed and freed (TIME-WAIT done)");
  check(reader->error().empty(), "the capture reads back to its end");
  check(frames == counters.packets_sent, "one capture record per packet sent");
  check(syns >= 2, "the capture holds the SYN and the SYN-ACK");
  std::printf("%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}
