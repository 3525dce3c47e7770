// SPDX-License-Identifier: MIT
// Example (a): two synack stacks joined in memory.
//
// A client stack (198.18.0.1) and a server stack (198.18.0.2) are wired back to back: whatever one
// pops with pop_packet() the other gets through receive_packet(). There is no clock, no socket
// and no thread: time is a number this program advances, 1 ms per hop, and each stack says
// through next_deadline() when it wants on_timer(). The client connects, sends a line, the server
// answers it and both close; every state change of both ends is printed. The client ends in
// TIME-WAIT, so the program runs the clock on until both connections are gone.
//
// It also shows the library's answers to misuse — a call on a closed id, a packet of 0 and of
// 70,000 bytes, on_timer() with a deadline long past: documented errors and drop counters, never
// a crash. Exit status 0 when the message went both ways and every check held.
//
// Build against the installed package:
//   cmake:       find_package(synack REQUIRED) ... target_link_libraries(two_stacks synack::synack)
//   pkg-config:  c++ -std=c++20 two_stacks.cpp $(pkg-config --cflags --libs synack)
#include <synack/stack.hpp>
#include <synack/version.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

using synack::Error;
using synack::Instant;
using synack::Stack;

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", what);
  if (!ok) ++failures;
}

// The wire: what a stack sends now is in flight until the next step, 1 ms later (no loss).
using InFlight = std::vector<std::vector<std::byte>>;
void take_output(Stack& from, InFlight& wire) {
  std::vector<std::byte> packet;
  while (from.pop_packet(packet)) wire.push_back(packet);
}

// The state of the stack's one connection. connections() also lists connections the application
// has closed and the stack is finishing (FIN-WAIT, TIME-WAIT...), which state(id) no longer
// answers for: after close() the id is the application's no more.
std::string state_name(const Stack& stack, std::string_view none) {
  auto all = stack.connections();
  return all.empty() ? std::string(none) : std::string(synack::to_string(all.front().status.state));
}

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

}  // namespace

int main() {
  std::printf("synack %s: two stacks in memory\n", SYNACK_VERSION_STRING);
  const auto client_addr = synack::wire::IpAddress::v4(198, 18, 0, 1);
  const auto server_addr = synack::wire::IpAddress::v4(198, 18, 0, 2);
  synack::StackConfig config;
  config.random_seed = 1;  // deterministic ISNs and ports: the same run every time
  Stack client(config, {client_addr});
  config.random_seed = 2;
  Stack server(config, {server_addr});

  Instant now{};
  auto listener = server.listen({server_addr, 7}, now);
  if (!listener) {
    std::fprintf(stderr, "listen: %s\n", std::string(synack::to_string(listener.error())).c_str());
    return 1;
  }
  auto conn = client.connect({server_addr, 7}, now);
  if (!conn) {
    std::fprintf(stderr, "connect: %s\n", std::string(synack::to_string(conn.error())).c_str());
    return 1;
  }
  const synack::ConnectionId c = *conn;
  std::string got_by_server, got_by_client;
  const std::string_view request = "hello over synack\n";
  bool sent = false, client_closed = false, server_closed = false;
  std::string last_states;

  // The loop a driver runs: deliver packets, run timers when due, handle events, repeat.
  InFlight to_server, to_client;
  auto show = [&] {
    std::string states = "client " + state_name(client, "CLOSED") + ", server " +
                         state_name(server, "LISTEN (no connection)");
    if (states != last_states) {
      std::printf("%10.3f ms  %s\n", synack::to_us(now) / 1000.0, states.c_str());
      last_states = states;
    }
  };
  take_output(client, to_server);  // the SYN, on the wire at 0 ms, arriving at 1 ms
  show();
  now += std::chrono::milliseconds(1);
  for (int step = 0; step < 100000; ++step) {
    const bool moved = !to_server.empty() || !to_client.empty();
    for (auto& p : to_server) {
      server.receive_packet(p, now);
      show();
    }
    for (auto& p : to_client) {
      client.receive_packet(p, now);
      show();
    }
    to_server.clear();
    to_client.clear();
    for (Stack* st : {&client, &server}) {
      if (auto d = st->next_deadline(); d && *d <= now) st->on_timer(now);
    }
    while (auto ev = server.poll_event()) {
      if (ev->is_listener) {
        while (server.accept(*listener)) {
        }
        continue;
      }
      char buf[256];
      while (auto n = server.receive(ev->handle, std::as_writable_bytes(std::span(buf)), now)) {
        if (*n == 0) break;
        got_by_server.append(buf, *n);
      }
      if ((ev->events & synack::tcp::event::PeerClosed) && !server_closed) {
        // Echo what came, then close: FIN after the data.
        if (auto r = server.send(ev->handle, bytes(got_by_server), now); !r)
          std::printf("server send: %s\n", std::string(synack::to_string(r.error())).c_str());
        server.close(ev->handle, now);
        server_closed = true;
      }
    }
    while (auto ev = client.poll_event()) {
      if ((ev->events & synack::tcp::event::Connected) && !sent) {
        client.send(c, bytes(request), now);
        client.shutdown_write(c, now);  // our FIN after the line: the server echoes at EOF
        sent = true;
      }
      char buf[256];
      while (auto n = client.receive(c, std::as_writable_bytes(std::span(buf)), now)) {
        if (*n == 0) break;
        got_by_client.append(buf, *n);
      }
      if ((ev->events & synack::tcp::event::PeerClosed) && !client_closed) {
        client.close(c, now);
        client_closed = true;
      }
    }
    show();
    take_output(client, to_server);
    take_output(server, to_client);
    if (client_closed && server_closed && client.connection_count() == 0 &&
        server.connection_count() == 0)
      break;
    if (moved || !to_server.empty() || !to_client.empty()) {
      now += std::chrono::milliseconds(1);  // the next hop's packets arrive 1 ms later
    } else {
      // Nothing in flight: jump to the earliest deadline (TIME-WAIT's 2 MSL takes no real time).
      auto dc = client.next_deadline(), ds = server.next_deadline();
      if (!dc && !ds) break;
      now = std::max(now, dc && ds ? std::min(*dc, *ds) : dc ? *dc : *ds);
    }
  }

  std::printf("server got: %s", got_by_server.c_str());
  std::printf("client got: %s", got_by_client.c_str());
  std::printf("checks:\n");
  check(got_by_server == request, "the server received the line");
  check(got_by_client == request, "the client received the echo");
  check(client.connection_count() == 0 && server.connection_count() == 0,
        "both connections closed and freed (TIME-WAIT done)");

  // --- misuse: documented errors, never a crash ---
  auto r = client.send(c, bytes("late"), now);
  check(!r && r.error() == Error::NoSuchConnection, "send on a closed id -> NoSuchConnection");
  auto rc = client.close(c, now);
  check(!rc && rc.error() == Error::NoSuchConnection, "close on a closed id -> NoSuchConnection");
  check(!client.state(c).has_value(), "state of a closed id -> nullopt");
  auto rl = server.listen({server_addr, 7}, now);  // still listening on 7
  check(!rl && rl.error() == Error::AddressInUse, "second listen on port 7 -> AddressInUse");
  auto r0 = client.connect({server_addr, 0}, now);
  check(!r0, "connect to port 0 -> an error, not a SYN");

  const auto malformed_before = server.counters().drop_malformed;
  server.receive_packet({}, now);                                              // 0 bytes
  server.receive_packet(std::vector<std::byte>(70000, std::byte{0x45}), now);  // 70,000 bytes
  check(server.counters().drop_malformed == malformed_before + 2,
        "0-byte and 70,000-byte packets dropped and counted (drop_malformed)");
  server.on_timer(Instant{});  // a deadline long in the past: nothing due, nothing breaks
  server.on_timer(now);
  check(server.next_deadline() == std::nullopt, "no timers pending after a past on_timer()");

  std::printf("%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}
