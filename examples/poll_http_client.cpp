// SPDX-License-Identifier: MIT
// Example (c): driving a synack Stack from your own poll() loop — the sans-I/O contract.
//
// The library never reads a clock, opens a descriptor or sleeps. The program owns all of that:
//   packets in   read() from the device          -> stack.receive_packet(bytes, now)
//   packets out  stack.pop_packet(buffer)        -> write() to the device
//   time         poll()'s timeout comes from stack.next_deadline(); when it passes,
//                stack.on_timer(now) with now read from CLOCK_MONOTONIC by this program
//   sockets      stack.poll_event() -> connect/send/receive/close on connection ids
// Only libsynack (synack::synack / pkg-config synack) is used: no event loop from the library.
//
// It is a tiny HTTP/1.0 client: GET / from HOST:PORT, print the status line and the body size.
//
//   poll_http_client --tun NAME [HOST [PORT]]
//       over a TUN device it opens itself (root or CAP_NET_ADMIN). Our address is 198.18.0.1;
//       give the kernel 198.18.0.2 and a server, e.g. in another shell, once the device exists:
//         ip addr add 198.18.0.2/24 dev NAME && ip link set NAME up
//         python3 -m http.server --bind 198.18.0.2 8000
//       then HOST 198.18.0.2 PORT 8000 (the defaults). Without root it exits 77.
//   poll_http_client --self-test
//       no TUN, no root: the "device" is one end of a socketpair(AF_UNIX, SOCK_SEQPACKET);
//       at its other end a second Stack, driven by the same poll() loop, serves HTTP on port 80.
//       It first connects to a port nobody listens on (refused: the error comes through events
//       and connection_error()), then does the GET, then misuses the API on purpose.
// Exit status: 0 success, 1 failure, 2 usage, 77 TUN not available (not root).
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <synack/stack.hpp>

namespace {

using synack::Error;
using synack::Instant;
using synack::Stack;
namespace event = synack::tcp::event;

Instant monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return synack::instant_from_us(ts.tv_sec * 1'000'000LL + ts.tv_nsec / 1000);
}

std::string err(Error e) { return std::string(synack::to_string(e)); }

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// One stack on one packet descriptor (TUN or a socketpair end): the glue a driver needs.
struct Port {
  Stack* stack;
  int fd;
  void read_all(Instant now) {
    std::vector<std::byte> buf(65536);
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) return;  // EAGAIN: drained (other errors: the next poll() reports them)
      // n may be 0 (an empty datagram): the stack drops it and counts it; no special case needed.
      stack->receive_packet(std::span(buf.data(), static_cast<std::size_t>(n)), now);
    }
  }
  void write_all() {
    std::vector<std::byte> out;
    while (stack->pop_packet(out)) {
      if (::write(fd, out.data(), out.size()) < 0 && errno != EAGAIN)
        std::perror("write");  // a lost packet: TCP retransmits it
    }
  }
};

// poll() timeout from the earliest deadline: -1 (none), 0 (already due — a deadline in the past
// is normal after a slow iteration: just run on_timer now), else the milliseconds left, rounded up.
int timeout_ms(std::initializer_list<const Stack*> stacks, Instant now) {
  std::optional<Instant> first;
  for (const Stack* s : stacks)
    if (auto d = s->next_deadline(); d && (!first || *d < *first)) first = d;
  if (!first) return -1;
  if (*first <= now) return 0;
  return static_cast<int>((synack::to_us(*first) - synack::to_us(now) + 999) / 1000);
}

// The HTTP client's state: one connection, the response accumulated until EOF.
struct Client {
  Client(Stack& s, std::string h) : stack(s), host(std::move(h)) {}
  Stack& stack;
  std::string host;
  synack::ConnectionId id = 0;
  std::string response;
  bool done = false;
  std::optional<Error> error;

  void on_event(const synack::SocketEvent& ev, Instant now) {
    if (ev.handle != id) return;
    if (ev.events & event::Connected) {
      std::string req =
          "GET / HTTP/1.0\r\nHost: " + host + "\r\nUser-Agent: synack-example\r\n\r\n";
      if (auto r = stack.send_last(id, bytes(req), now); !r) {  // the FIN rides on the request
        error = r.error();
        done = true;
        return;
      }
    }
    char buf[4096];
    for (;;) {
      auto n = stack.receive(id, std::as_writable_bytes(std::span(buf)), now);
      if (!n || *n == 0) break;  // WouldBlock: nothing more for now
      response.append(buf, *n);
    }
    if (ev.events & event::Reset) {  // refused, reset, timed out, unreachable: ask why
      error = stack.connection_error(id).value_or(Error::ConnectionReset);
      stack.close(id, now);  // frees the id
      done = true;
    } else if (ev.events & event::PeerClosed) {
      stack.close(id, now);
      done = true;
    }
  }
};

// The far side for --self-test: a second stack serving one HTTP page on port 80.
struct Server {
  Stack& stack;
  synack::ListenerId listener;
  std::string request;
  void on_event(const synack::SocketEvent& ev, Instant now) {
    if (ev.is_listener) {
      while (stack.accept(listener)) {
      }
      return;
    }
    char buf[4096];
    for (;;) {
      auto n = stack.receive(ev.handle, std::as_writable_bytes(std::span(buf)), now);
      if (!n || *n == 0) break;
      request.append(buf, *n);
    }
    if (ev.events & event::PeerClosed) {
      const std::string body = "<h1>hello from a synack stack</h1>\n";
      std::string reply = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
      stack.send_last(ev.handle, bytes(reply), now);
      stack.close(ev.handle, now);
    }
  }
};

int open_tun(const char* name) {
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

// Runs the poll() loop until the client is done or `limit` passes.
bool drive(std::vector<Port> ports, Client& client, Server* server, std::chrono::seconds limit) {
  const Instant start = monotonic_now();
  while (!client.done) {
    Instant now = monotonic_now();
    if (now - start > limit) return false;
    std::vector<pollfd> fds;
    for (auto& p : ports) fds.push_back({p.fd, POLLIN, 0});
    int t = -1;
    for (auto& p : ports) {
      int pt = timeout_ms({p.stack}, now);
      if (pt >= 0 && (t < 0 || pt < t)) t = pt;
    }
    if (t < 0 || t > 1000) t = 1000;  // also wake to check the time limit
    if (::poll(fds.data(), fds.size(), t) < 0 && errno != EINTR) {
      std::perror("poll");
      return false;
    }
    now = monotonic_now();
    for (std::size_t i = 0; i < ports.size(); ++i) {
      if (fds[i].revents & POLLIN) ports[i].read_all(now);
      if (auto d = ports[i].stack->next_deadline(); d && *d <= now) ports[i].stack->on_timer(now);
    }
    while (auto ev = client.stack.poll_event()) client.on_event(*ev, now);
    if (server)
      while (auto ev = server->stack.poll_event()) server->on_event(*ev, now);
    for (auto& p : ports) p.write_all();
  }
  return true;
}

int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", what);
  if (!ok) ++failures;
}

int self_test() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
    std::perror("socketpair");
    return 1;
  }
  const auto client_addr = synack::wire::IpAddress::v4(198, 18, 0, 1);
  const auto server_addr = synack::wire::IpAddress::v4(198, 18, 0, 2);
  Stack client_stack(synack::StackConfig{}, {client_addr});
  Stack server_stack(synack::StackConfig{}, {server_addr});
  auto listener = server_stack.listen({server_addr, 80}, monotonic_now());
  if (!listener) {
    std::fprintf(stderr, "listen: %s\n", err(listener.error()).c_str());
    return 1;
  }
  Server server{server_stack, *listener, {}};
  std::vector<Port> ports{{&client_stack, sv[0]}, {&server_stack, sv[1]}};

  std::printf("1. connect to 198.18.0.2:81, where nothing listens\n");
  Client refused{client_stack, "198.18.0.2"};
  auto id = client_stack.connect({server_addr, 81}, monotonic_now());
  if (!id) {
    std::fprintf(stderr, "connect: %s\n", err(id.error()).c_str());
    return 1;
  }
  refused.id = *id;
  ports[0].write_all();
  if (!drive(ports, refused, &server, std::chrono::seconds(10))) return 1;
  std::printf("   -> %s\n", refused.error ? err(*refused.error).c_str() : "connected?!");
  check(refused.error == Error::ConnectionRefused, "a closed port is refused (RST), reported");

  std::printf("2. GET http://198.18.0.2/\n");
  Client client{client_stack, "198.18.0.2"};
  id = client_stack.connect({server_addr, 80}, monotonic_now());
  if (!id) {
    std::fprintf(stderr, "connect: %s\n", err(id.error()).c_str());
    return 1;
  }
  client.id = *id;
  ports[0].write_all();
  if (!drive(ports, client, &server, std::chrono::seconds(10))) {
    std::fprintf(stderr, "timed out\n");
    return 1;
  }
  auto eol = client.response.find("\r\n");
  std::printf("   -> %s, %zu bytes\n", client.response.substr(0, eol).c_str(),
              client.response.size());
  check(!client.error && client.response.starts_with("HTTP/1.0 200 OK\r\n") &&
            client.response.ends_with("</h1>\n"),
        "the whole response arrived");
  check(server.request.starts_with("GET / HTTP/1.0\r\n"), "the server saw the request");

  std::printf("3. misuse\n");
  Instant now = monotonic_now();
  auto r = client_stack.send(client.id, bytes("more"), now);
  check(!r && r.error() == Error::NoSuchConnection, "send on a closed id -> NoSuchConnection");
  auto rr = client_stack.receive(12345, {}, now);
  check(!rr && rr.error() == Error::NoSuchConnection,
        "receive on an unknown id -> NoSuchConnection");
  // Packets of 0 and 70,000 bytes through the real descriptor: the stack drops and counts them.
  const auto before = server_stack.counters().drop_malformed;
  ::send(sv[0], "", 0, 0);
  std::vector<char> big(70000, 0x45);
  if (::send(sv[0], big.data(), big.size(), 0) < 0) {
    // Too big for the socketpair's buffer: hand it to the stack directly instead.
    server_stack.receive_packet(std::as_bytes(std::span(big)), now);
  }
  ports[1].read_all(now);
  check(server_stack.counters().drop_malformed == before + 2,
        "0- and 70,000-byte packets dropped and counted (drop_malformed)");
  const auto deadline = client_stack.next_deadline();
  client_stack.on_timer(Instant{});  // a time long past: nothing is due yet, nothing changes
  check(client_stack.next_deadline() == deadline, "on_timer() with a time long past is harmless");
  ::close(sv[0]);
  ::close(sv[1]);
  std::printf("%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}

int tun_client(const char* name, const std::string& host, std::uint16_t port) {
  auto dst = synack::wire::IpAddress::parse(host);
  if (!dst) {
    std::fprintf(stderr, "not an IP address: %s\n", host.c_str());
    return 2;
  }
  int fd = open_tun(name);
  if (fd < 0) {
    std::fprintf(stderr, "cannot open TUN device %s: %s%s\n", name, std::strerror(errno),
                 geteuid() != 0 ? " (needs root or CAP_NET_ADMIN)" : "");
    return geteuid() != 0 ? 77 : 1;
  }
  std::printf("TUN %s open; waiting for %s:%u (configure the device now if you have not)\n", name,
              host.c_str(), port);
  Stack stack(synack::StackConfig{}, {synack::wire::IpAddress::v4(198, 18, 0, 1)});
  Client client{stack, host};
  auto id = stack.connect({*dst, port}, monotonic_now());
  if (!id) {
    std::fprintf(stderr, "connect: %s\n", err(id.error()).c_str());
    return 1;
  }
  client.id = *id;
  std::vector<Port> ports{{&stack, fd}};
  ports[0].write_all();
  bool finished = drive(ports, client, nullptr, std::chrono::seconds(150));
  ::close(fd);
  if (!finished || client.error) {
    std::fprintf(stderr, "GET failed: %s\n",
                 client.error ? err(*client.error).c_str() : "timed out");
    return 1;
  }
  auto eol = client.response.find("\r\n");
  std::printf("%s (%zu bytes)\n", client.response.substr(0, eol).c_str(), client.response.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--self-test") return self_test();
  if (!args.empty() && args[0] == "--tun" && args.size() >= 2 && args.size() <= 4) {
    std::string host = args.size() >= 3 ? std::string(args[2]) : "198.18.0.2";
    int port = args.size() >= 4 ? std::atoi(std::string(args[3]).c_str()) : 8000;
    if (port <= 0 || port > 65535) {
      std::fprintf(stderr, "bad port\n");
      return 2;
    }
    return tun_client(argv[2], host, static_cast<std::uint16_t>(port));
  }
  std::fprintf(stderr, "usage: %s --self-test | --tun NAME [HOST [PORT]]\n", argv[0]);
  return 2;
}
