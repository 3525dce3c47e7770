// SPDX-License-Identifier: MIT
// `synack-bench [NAME...] [--json]`: how fast and how small synack is, on one core, between
// two stacks in this process over an in-memory link (bench/pair.hpp), with a loopback-sized
// MTU. `synack-bench --linux-loopback` measures the kernel's TCP over 127.0.0.1 the same way,
// so bench/run.sh can report ratios from one run (see docs/performance.md).
//
//   bulk                   one connection's throughput (Gbit/s)
//   connections            open + 1-byte request + 1-byte reply + close, sequentially (/s)
//   memory_per_connection  heap and RSS per idle ESTABLISHED connection end, buffers apart
//   million                one million concurrent ESTABLISHED connections: setup time, peak RSS
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench.hpp"
#include "bench/pair.hpp"
#include "tcp/connection.hpp"  // sizeof(tcp::Connection), the memory per connection

namespace synack::bench {
namespace {

using bench::RealClock;

// One result: printed as a JSON line or as aligned text.
struct Reporter {
  bool json = false;
  void operator()(const std::string& name, double value, const std::string& unit,
                  const std::string& note = "") const {
    if (json) {
      // Six significant digits, as the text form prints them.
      char digits[32];
      std::snprintf(digits, sizeof digits, "%.6g", value);
      nlohmann::ordered_json line;
      line["name"] = name;
      line["value"] = std::strtod(digits, nullptr);
      line["unit"] = unit;
      std::printf("%s\n", line.dump().c_str());
    } else {
      std::printf("%-36s %14.6g %-12s %s\n", name.c_str(), value, unit.c_str(), note.c_str());
    }
    std::fflush(stdout);
  }
};

// Loopback-like link: MTU 65535, so MSS 65535 - 20 (IPv4) - 32 (TCP with timestamps).
StackConfig bench_config(std::uint64_t seed) {
  StackConfig c;
  c.tcp.mss = 65483;
  c.tcp.send_buffer = 4 << 20;
  c.tcp.receive_buffer = 4 << 20;
  c.max_connections = 1 << 21;
  c.random_seed = seed;
  c.tcp_checksum_offload = checksum_offload();
  return c;
}

wire::IpAddress client_address(int i) { return wire::IpAddress::v4(198, 18, 0, 1 + i); }
const wire::IpAddress kServer = wire::IpAddress::v4(198, 18, 1, 1);

// Bytes of resident memory, from /proc/self/statm, and the peak (VmHWM).
std::uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}
std::uint64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}
// In use from malloc's arenas plus its mmap()ed chunks (large vectors live there).
std::uint64_t heap_bytes() {
  auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// ---------------------------------------------------------------------------------------
// bulk: `bytes` from client to server on one connection.
bool bench_bulk(const Reporter& report, std::uint64_t bytes, double time_limit) {
  Stack client(bench_config(1), {client_address(0)});
  Stack server(bench_config(2), {kServer});
  RealClock clock;
  std::vector<std::byte> buf;
  auto listener = server.listen({kServer, 5001}, clock.now());
  auto cid = client.connect({kServer, 5001}, clock.now());
  if (!listener || !cid) return false;
  bench::shuttle(client, server, clock.now(), buf);
  auto sid = server.accept(*listener);
  if (!sid) {
    std::fprintf(stderr, "bulk: handshake did not complete\n");
    return false;
  }
  std::vector<std::byte> data(1 << 20), sink(1 << 20);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7);
  std::uint64_t sent = 0, received = 0;
  double start = clock.seconds();
  while (received < bytes && clock.seconds() - start < time_limit) {
    Instant now = clock.now();
    while (sent < bytes) {
      auto n = std::min<std::uint64_t>(data.size(), bytes - sent);
      auto r = client.send(*cid, std::span(data).first(n), now);
      if (!r || *r == 0) break;
      sent += *r;
    }
    bench::shuttle(client, server, now, buf);
    for (;;) {
      auto r = server.receive(*sid, sink, now);
      if (!r || *r == 0) break;
      received += *r;
    }
    bench::shuttle(client, server, now, buf);
    bench::run_timers(client, now);
    bench::run_timers(server, now);
    bench::drain_events(client);
    bench::drain_events(server);
  }
  double seconds = clock.seconds() - start;
  report(checksum_offload() ? "bulk" : "bulk_software_checksum",
         static_cast<double>(received) * 8 / seconds / 1e9, "Gbit/s",
         std::to_string(received >> 20) + " MiB in " + std::to_string(seconds) + " s");
  return received == bytes;
}

// ---------------------------------------------------------------------------------------
// connections: sequential open, 1-byte request, 1-byte reply, close (client first, as a
// client usually does: the client keeps TIME-WAIT; 32 client addresses keep ports free).
bool bench_connections(const Reporter& report, std::uint64_t count, double time_limit) {
  std::vector<wire::IpAddress> addrs;
  addrs.reserve(32);
  for (int i = 0; i < 32; ++i) addrs.push_back(client_address(i));
  Stack client(bench_config(1), addrs);
  Stack server(bench_config(2), {kServer});
  RealClock clock;
  std::vector<std::byte> buf;
  auto listener = server.listen({kServer, 80}, clock.now());
  if (!listener) return false;
  const std::byte request[1] = {std::byte{'?'}}, reply[1] = {std::byte{'!'}};
  std::byte in[16];
  auto one = [](const Expected<std::size_t, Error>& r) { return r && *r == 1; };
  std::uint64_t done = 0, failed = 0;
  double start = clock.seconds();
  for (std::uint64_t i = 0; i < count && clock.seconds() - start < time_limit; ++i) {
    Instant now = clock.now();
    auto cid = client.connect({kServer, 80}, now, wire::Endpoint{addrs[i % addrs.size()], 0});
    if (!cid) {
      ++failed;
      continue;
    }
    bench::shuttle(client, server, now, buf);
    auto sid = server.accept(*listener);
    bool ok = sid.has_value();
    if (ok) {
      ok = one(client.send(*cid, request, now));
      bench::shuttle(client, server, now, buf);
      ok = ok && one(server.receive(*sid, in, now));
      ok = ok && one(server.send(*sid, reply, now));
      bench::shuttle(client, server, now, buf);
      ok = ok && one(client.receive(*cid, in, now));
    }
    (void)client.close(*cid, now);
    bench::shuttle(client, server, now, buf);
    if (sid) (void)server.close(*sid, now);
    bench::shuttle(client, server, now, buf);
    bench::run_timers(client, now);
    bench::run_timers(server, now);
    bench::drain_events(client);
    bench::drain_events(server);
    if (ok)
      ++done;
    else
      ++failed;
  }
  double seconds = clock.seconds() - start;
  report("connections", static_cast<double>(done) / seconds, "conn/s",
         std::to_string(done) + " cycles in " + std::to_string(seconds) + " s");
  if (failed)
    std::fprintf(stderr, "connections: %llu cycles failed\n",
                 static_cast<unsigned long long>(failed));
  return failed == 0;
}

// ---------------------------------------------------------------------------------------
// `count` idle ESTABLISHED connections between a client stack with 32 addresses and a server
// stack listening on 8 ports. Returns how many were made.
struct ManyPair {
  std::unique_ptr<Stack> client, server;
  std::vector<ListenerId> listeners;
  RealClock clock;
  std::uint64_t established = 0;
  double seconds = 0;

  static constexpr int kAddresses = 32;
  static constexpr int kPorts = 8;

  ManyPair() {
    std::vector<wire::IpAddress> addrs;
    addrs.reserve(kAddresses);
    for (int i = 0; i < kAddresses; ++i) addrs.push_back(client_address(i));
    client = std::make_unique<Stack>(bench_config(1), addrs);
    server = std::make_unique<Stack>(bench_config(2), std::vector{kServer});
    for (int p = 0; p < kPorts; ++p)
      listeners.push_back(
          *server->listen({kServer, static_cast<std::uint16_t>(10000 + p)}, clock.now(), 1024));
  }

  std::uint64_t establish(std::uint64_t count, double time_limit) {
    std::vector<std::byte> buf;
    double start = clock.seconds();
    for (std::uint64_t i = 0; i < count; ++i) {
      if ((i & 1023) == 0 && clock.seconds() - start > time_limit) break;
      Instant now = clock.now();
      auto port = static_cast<std::uint16_t>(10000 + (i / kAddresses) % kPorts);
      auto cid =
          client->connect({kServer, port}, now,
                          wire::Endpoint{client_address(static_cast<int>(i % kAddresses)), 0});
      if (!cid) {
        std::fprintf(stderr, "connect %llu: %s\n", static_cast<unsigned long long>(i),
                     std::string(to_string(cid.error())).c_str());
        break;
      }
      bench::shuttle(*client, *server, now, buf);
      if (!server->accept(listeners[(i / kAddresses) % kPorts])) {
        std::fprintf(stderr, "accept %llu failed\n", static_cast<unsigned long long>(i));
        break;
      }
      ++established;
      if ((i & 255) == 0) {
        bench::run_timers(*client, now);
        bench::run_timers(*server, now);
      }
      bench::drain_events(*client);
      bench::drain_events(*server);
    }
    seconds = clock.seconds() - start;
    return established;
  }
};

bool bench_memory(const Reporter& report, std::uint64_t count) {
  std::uint64_t heap0 = heap_bytes(), rss0 = rss_bytes();
  ManyPair pair;
  std::uint64_t heap1 = heap_bytes(), rss1 = rss_bytes();
  std::uint64_t n = pair.establish(count, 120);
  std::uint64_t heap2 = heap_bytes(), rss2 = rss_bytes();
  if (n == 0) return false;
  // Each connection has two ends (a TCB in each stack): per-connection state is per end.
  double ends = 2.0 * static_cast<double>(n);
  report("memory_per_connection", static_cast<double>(heap2 - heap1) / ends, "bytes",
         "heap (mallinfo2) per idle ESTABLISHED end, " + std::to_string(n) + " connections");
  report("memory_per_connection_rss", static_cast<double>(rss2 - rss1) / ends, "bytes",
         "RSS delta per end");
  report("sizeof_tcp_connection", sizeof(tcp::Connection), "bytes");
  // The stack's own per-connection overhead: its slot (the optional<Connection> plus slot
  // fields) and a 4-tuple hash-map node; what the heap delta holds beyond sizeof(Connection).
  report("stack_overhead_per_connection",
         static_cast<double>(heap2 - heap1) / ends - static_cast<double>(sizeof(tcp::Connection)),
         "bytes");
  (void)heap0;
  (void)rss0;
  return true;
}

bool bench_million(const Reporter& report, std::uint64_t count) {
  std::uint64_t rss0 = rss_bytes();
  ManyPair pair;
  std::uint64_t n = pair.establish(count, 600);
  report("million_established", static_cast<double>(n), "connections");
  report("million_setup_time", pair.seconds, "s",
         std::to_string(static_cast<double>(n) / pair.seconds) + " conn/s");
  report("million_peak_rss", static_cast<double>(peak_rss_bytes()) / (1 << 20), "MiB",
         "VmHWM of the whole process (both stacks)");
  report("million_rss_delta", static_cast<double>(rss_bytes() - rss0) / (1 << 20), "MiB");
  std::size_t c = pair.client->connection_count(), s = pair.server->connection_count();
  if (c != n || s != n)
    std::fprintf(stderr, "million: client %zu, server %zu connections live\n", c, s);
  return n == count;
}

// ---------------------------------------------------------------------------------------
// The kernel's TCP over loopback, on one thread, the same shapes as above.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

std::optional<sockaddr_in> loopback_listener(int fd) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return std::nullopt;
  if (listen(fd, 1024) != 0) return std::nullopt;
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return a;
}

bool linux_connections(const Reporter& report, std::uint64_t count, double time_limit) {
  Fd lfd(socket(AF_INET, SOCK_STREAM, 0));
  auto addr = loopback_listener(lfd.fd);
  if (!addr) return false;
  RealClock clock;
  std::uint64_t done = 0;
  char b = '?';
  for (std::uint64_t i = 0; i < count && clock.seconds() < time_limit; ++i) {
    Fd c(socket(AF_INET, SOCK_STREAM, 0));
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
      std::fprintf(stderr, "linux connect: %s\n", std::strerror(errno));
      break;
    }
    Fd s(accept(lfd.fd, nullptr, nullptr));
    if (s.fd < 0) break;
    if (write(c.fd, &b, 1) != 1 || read(s.fd, &b, 1) != 1 || write(s.fd, &b, 1) != 1 ||
        read(c.fd, &b, 1) != 1)
      break;
    // Client closes first (TIME-WAIT on the client side, as for synack above).
    ::close(c.fd);
    c.fd = -1;
    if (read(s.fd, &b, 1) != 0) break;  // the client's FIN
    ++done;
  }
  double seconds = clock.seconds();
  report("linux_connections", static_cast<double>(done) / seconds, "conn/s",
         std::to_string(done) + " cycles in " + std::to_string(seconds) + " s");
  return done > 0;
}

// One thread writes and reads alternately (non-blocking), 4 MiB socket buffers: the kernel
// on one core, as synack's bulk is. iperf3 (two processes) is run by bench/run.sh.
bool linux_bulk(const Reporter& report, std::uint64_t bytes, double time_limit) {
  Fd lfd(socket(AF_INET, SOCK_STREAM, 0));
  auto addr = loopback_listener(lfd.fd);
  if (!addr) return false;
  Fd c(socket(AF_INET, SOCK_STREAM, 0));
  int size = 4 << 20;
  setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (connect(c.fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) return false;
  Fd s(accept(lfd.fd, nullptr, nullptr));
  setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  std::vector<char> data(1 << 20, 'x'), sink(1 << 20);
  std::uint64_t sent = 0, received = 0;
  RealClock clock;
  while (received < bytes && clock.seconds() < time_limit) {
    if (sent < bytes) {
      auto n = std::min<std::uint64_t>(data.size(), bytes - sent);
      auto w = send(c.fd, data.data(), n, MSG_DONTWAIT);
      if (w > 0) sent += static_cast<std::uint64_t>(w);
    }
    auto r = recv(s.fd, sink.data(), sink.size(), MSG_DONTWAIT);
    if (r > 0) received += static_cast<std::uint64_t>(r);
  }
  double seconds = clock.seconds();
  report("linux_bulk_1thread", static_cast<double>(received) * 8 / seconds / 1e9, "Gbit/s",
         std::to_string(received >> 20) + " MiB in " + std::to_string(seconds) + " s");
  return received == bytes;
}

}  // namespace

int& exit_status() {
  static int status = 0;
  return status;
}

void register_bench(CLI::App& app) {
  struct Args {
    std::vector<std::string> names;
    bool json = false;
    bool linux_loopback = false;
    bool software_checksum = false;
    std::uint64_t bulk_bytes = 2ull << 30;
    std::uint64_t connections = 100000;
    std::uint64_t memory_connections = 100000;
    std::uint64_t million = 1000000;
    double time_limit = 30;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = &app;
  cmd->add_option("names", a->names, "benchmarks to run (default: all)")
      ->check(CLI::IsMember({"bulk", "connections", "memory_per_connection", "million"}));
  cmd->add_flag("--json", a->json, "one JSON object per result per line");
  cmd->add_flag("--software-checksum", a->software_checksum,
                "compute and verify every TCP checksum (default: offloaded, as on loopback)");
  cmd->add_flag(
      "--linux-loopback", a->linux_loopback,
      "measure the kernel's TCP over 127.0.0.1 instead (bulk on one thread, connections)");
  cmd->add_option("--bulk-bytes", a->bulk_bytes, "bytes for bulk (default 2 GiB)");
  cmd->add_option("--connections", a->connections, "cycles for connections (default 100000)");
  cmd->add_option("--memory-connections", a->memory_connections,
                  "idle connections for memory_per_connection (default 100000)");
  cmd->add_option("--million", a->million, "connections for million (default 1000000)");
  cmd->add_option("--time-limit", a->time_limit, "seconds per timed benchmark (default 30)");
  cmd->callback([a] {
    Reporter report{a->json};
    checksum_offload() = !a->software_checksum;
    auto wanted = [&](const char* name) {
      return a->names.empty() ||
             std::find(a->names.begin(), a->names.end(), name) != a->names.end();
    };
    bool ok = true;
    if (a->linux_loopback) {
      if (wanted("bulk")) ok = linux_bulk(report, a->bulk_bytes, a->time_limit) && ok;
      if (wanted("connections"))
        ok = linux_connections(report, a->connections, a->time_limit) && ok;
      exit_status() = ok ? 0 : 1;
      return;
    }
    if (wanted("bulk")) ok = bench_bulk(report, a->bulk_bytes, a->time_limit) && ok;
    if (wanted("connections")) ok = bench_connections(report, a->connections, a->time_limit) && ok;
    if (wanted("memory_per_connection")) ok = bench_memory(report, a->memory_connections) && ok;
    // Last: its peak RSS is the process's.
    if (wanted("million")) ok = bench_million(report, a->million) && ok;
    exit_status() = ok ? 0 : 1;
  });
}

}  // namespace synack::bench
