// SPDX-License-Identifier: MIT
// Example (b): an echo server on a TUN device, driven by the library's event loop.
//
// synack::link (libsynack-link) gives the pieces a real-time program needs around the sans-I/O
// Stack: os::TunDevice (the interface; packets in and out) and os::EventLoop (epoll: it reads the
// TUN into the stack, runs its timers from next_deadline(), hands the application its socket
// events and writes the stack's packets back; SIGINT/SIGTERM close connections gracefully).
// The application only reacts to socket events: accept, receive, send back what came, close.
//
//   tun_echo_server [NAME]      (root or CAP_NET_ADMIN; NAME defaults to synack-echo)
// The server is 198.18.0.1 port 7; the kernel's side of the device is given 198.18.0.2/24 (with
// `ip`). From another shell:   echo hello | nc -q1 198.18.0.1 7
// Ctrl-C ends it after the open connections have closed.
// Exit status: 0 after a clean stop, 1 on failure, 77 when not root (no TUN device allowed).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <synack/event_loop.hpp>
#include <synack/stack.hpp>
#include <synack/system_random.hpp>
#include <synack/tun_device.hpp>

namespace event = synack::tcp::event;

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "synack-echo";
  if (geteuid() != 0)
    std::fprintf(stderr, "note: not root; opening a TUN device needs CAP_NET_ADMIN\n");

  synack::os::TunConfig tun_config;
  tun_config.name = name;
  tun_config.mtu = 1500;
  auto tun = synack::os::TunDevice::open(tun_config);
  if (!tun) {  // errors are values: a message naming the step and errno's text
    std::fprintf(stderr, "TUN: %s\n", tun.error().c_str());
    return geteuid() != 0 ? 77 : 1;
  }
  if (auto up = (*tun)->bring_up(); !up) {
    std::fprintf(stderr, "bring up: %s\n", up.error().c_str());
    return 1;
  }
  // The kernel's address on the link (the library does not configure addresses).
  const std::string ip = "ip addr add 198.18.0.2/24 dev " + name;
  if (std::system(ip.c_str()) != 0) {
    std::fprintf(stderr, "failed: %s\n", ip.c_str());
    return 1;
  }

  synack::os::SystemRandom random;  // ISNs and ports from the system's randomness
  const auto addr = synack::wire::IpAddress::v4(198, 18, 0, 1);
  synack::Stack stack(synack::StackConfig{}, {addr}, &random);
  auto loop = synack::os::EventLoop::create(stack, **tun, {});
  if (!loop) {
    std::fprintf(stderr, "event loop: %s\n", loop.error().c_str());
    return 1;
  }
  synack::os::EventLoop& ev_loop = **loop;
  auto listener = stack.listen({addr, 7}, ev_loop.now());
  if (!listener) {
    std::fprintf(stderr, "listen: %s\n", std::string(synack::to_string(listener.error())).c_str());
    return 1;
  }
  std::printf("echo server on %s port 7 (device %s); Ctrl-C to stop\n", addr.to_string().c_str(),
              name.c_str());

  // Bytes received but not yet taken by send() (the peer's window may be full), per connection.
  std::map<synack::ConnectionId, std::string> pending;
  auto flush = [&](synack::ConnectionId id) {
    auto& out = pending[id];
    if (out.empty()) return;
    auto n = stack.send(id, std::as_bytes(std::span(out.data(), out.size())), ev_loop.now());
    if (n) out.erase(0, *n);  // WouldBlock: wait for Writable
  };

  ev_loop.on_socket_event([&](const synack::SocketEvent& ev) {
    const auto now = ev_loop.now();
    if (ev.is_listener) {
      while (auto id = stack.accept(*listener)) {
        std::string peer = "?";
        for (const auto& c : stack.connections())
          if (c.id == *id) peer = c.remote.to_string();
        std::printf("connection %llu from %s\n", static_cast<unsigned long long>(*id),
                    peer.c_str());
        pending[*id];
      }
      return;
    }
    char buf[16384];
    for (;;) {
      auto n = stack.receive(ev.handle, std::as_writable_bytes(std::span(buf)), now);
      if (!n) {
        if (n.error() != synack::Error::WouldBlock)
          std::printf("connection %llu: %s\n", static_cast<unsigned long long>(ev.handle),
                      std::string(synack::to_string(n.error())).c_str());
        break;
      }
      if (*n == 0) break;
      pending[ev.handle].append(buf, *n);
    }
    flush(ev.handle);
    if (ev.events & event::Reset) {
      auto why = stack.connection_error(ev.handle);
      std::printf("connection %llu failed: %s\n", static_cast<unsigned long long>(ev.handle),
                  why ? std::string(synack::to_string(*why)).c_str() : "?");
      stack.close(ev.handle, now);
      pending.erase(ev.handle);
    } else if ((ev.events & event::PeerClosed) && pending[ev.handle].empty()) {
      std::printf("connection %llu closed by the peer; closing\n",
                  static_cast<unsigned long long>(ev.handle));
      stack.close(ev.handle, now);
      pending.erase(ev.handle);
    }
  });
  ev_loop.on_shutdown([&] {  // SIGINT/SIGTERM: stop listening, close what is open
    stack.close_listener(*listener, ev_loop.now());
    for (auto& [id, out] : pending) stack.close(id, ev_loop.now());
    pending.clear();
  });
  ev_loop.run();
  std::printf("stopped\n");
  return 0;
}
