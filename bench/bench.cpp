// SPDX-License-Identifier: MIT
// `synack-bench [NAME...] [--json]`: how fast and how small synack is, on one core, between
// two stacks in this process over an in-memory link (bench/pair.hpp), with a loopback-sized
// MTU. `synack-bench --linux-loopback` measures the kernel's TCP over 127.0.0.1 the same way,
// so bench/run.sh can report ratios from one run (see docs/performance.md).
//
//   bulk                   one connection's throughput (Gbit/s)
//   connections            open + 1-byte request + 1-byte reply + close, sequentially (/s)
//   bulk_concurrent        bulk over N concurrent connections at once (--concurrency 1,100,10000;
//                          aggregate Gbit/s, fairness): bulk_c1, bulk_c100, bulk_c10000
//   connections_concurrent N clients doing connection cycles at once (/s): connections_cN
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
// bulk: `bytes` from client to server on one connection, written `block` bytes at a time.
bool bench_bulk(const Reporter& report, std::uint64_t bytes, std::size_t block, double time_limit) {
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
  std::vector<std::byte> data(block), sink(block);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7);
  std::uint64_t sent = 0, received = 0;
  GatherLink link(client, server);
  double start = clock.seconds();
  while (received < bytes && clock.seconds() - start < time_limit) {
    Instant now = clock.now();
    link.now = now;
    // One block per round, then the packets it made are moved and everything that arrived is
    // read — as an application in an event loop writes, and as linux_bulk and iperf3 (one
    // 128 KiB write at a time, the reader reading as data arrives) do. Filling the whole 4 MiB
    // send buffer before moving anything made every copy miss the cache (19 Gbit/s then).
    if (sent < bytes) {
      auto n = std::min<std::uint64_t>(data.size(), bytes - sent);
      auto r = client.send(*cid, std::span(data).first(n), now);
      if (r) sent += *r;
    }
    bench::shuttle(client, server, now, buf);
    for (;;) {
      auto r = server.receive(*sid, sink, now);
      if (!r || *r == 0) break;
      received += *r;
    }
    bench::settle(client, server, now, buf);
  }
  double seconds = clock.seconds() - start;
  report(checksum_offload() ? "bulk" : "bulk_software_checksum",
         static_cast<double>(received) * 8 / seconds / 1e9, "Gbit/s",
         std::to_string(received >> 20) + " MiB in " + std::to_string(seconds) + " s; " +
             std::to_string(link.delivered) + " packets by gather I/O, " +
             std::to_string(link.refused) + " queued");
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
    bench::settle(client, server, now, buf);
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

  // `options`: the connections' buffer sizes (default: the stacks' 4 MiB); `backlog`: each
  // listener's (a SYN beyond it is dropped and retried a second later).
  explicit ManyPair(SocketOptions options = {}, std::size_t backlog = 1024) : options(options) {
    std::vector<wire::IpAddress> addrs;
    addrs.reserve(kAddresses);
    for (int i = 0; i < kAddresses; ++i) addrs.push_back(client_address(i));
    client = std::make_unique<Stack>(bench_config(1), addrs);
    server = std::make_unique<Stack>(bench_config(2), std::vector{kServer});
    for (int p = 0; p < kPorts; ++p)
      listeners.push_back(*server->listen({kServer, static_cast<std::uint16_t>(10000 + p)},
                                          clock.now(), backlog, options));
  }
  SocketOptions options;

  // Client and server ends of what establish() made, when `ids` is given.
  using Ids = std::vector<std::pair<ConnectionId, ConnectionId>>;

  std::uint64_t establish(std::uint64_t count, double time_limit, Ids* ids = nullptr) {
    std::vector<std::byte> buf;
    double start = clock.seconds();
    for (std::uint64_t i = 0; i < count; ++i) {
      if ((i & 1023) == 0 && clock.seconds() - start > time_limit) break;
      Instant now = clock.now();
      auto port = static_cast<std::uint16_t>(10000 + (i / kAddresses) % kPorts);
      auto cid = client->connect(
          {kServer, port}, now, wire::Endpoint{client_address(static_cast<int>(i % kAddresses)), 0},
          options);
      if (!cid) {
        std::fprintf(stderr, "connect %llu: %s\n", static_cast<unsigned long long>(i),
                     std::string(to_string(cid.error())).c_str());
        break;
      }
      bench::shuttle(*client, *server, now, buf);
      auto sid = server->accept(listeners[(i / kAddresses) % kPorts]);
      if (!sid) {
        std::fprintf(stderr, "accept %llu failed\n", static_cast<unsigned long long>(i));
        break;
      }
      if (ids) ids->emplace_back(*cid, *sid);
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
// Scaling: the same work spread over N concurrent connections (bulk_cN, connections_cN).

// Per-connection send and receive buffer for N concurrent bulk connections: the stacks' 4 MiB
// for one connection, then 256 MiB shared out (at least 32 KiB each), so that 10,000
// connections do not hold 10,000 × 2 × 4 MiB (KiB, reported as bulk_cN_buffer).
std::uint32_t concurrent_buffer(std::uint64_t n) {
  std::uint64_t share = (256ull << 20) / std::max<std::uint64_t>(n, 1) / 1024 * 1024;
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(share, 32 << 10, 4 << 20));
}

// bulk_cN: N established connections all sending client → server at once, `bytes` in total
// (bytes / N each). Each round every connection that has data left offers one chunk (at most
// 64 KiB) to send() in turn, the link carries everything queued, and the server reads every
// connection dry: no connection can take more than its turn. Aggregate Gbit/s over the
// measured time (set-up excluded), and Jain's fairness index of the bytes each had received
// when half of the total had arrived (1 = equal shares; 1/N = one connection had everything;
// at the end every connection has its equal quota, so the end says nothing).
bool bench_bulk_concurrent(const Reporter& report, std::uint64_t n, std::uint64_t bytes,
                           double time_limit, std::uint32_t buffer) {
  const std::string name = "bulk_c" + std::to_string(n);
  if (buffer == 0) buffer = concurrent_buffer(n);
  ManyPair pair(SocketOptions{buffer, buffer, 0});
  ManyPair::Ids ids;
  ids.reserve(n);
  if (pair.establish(n, time_limit, &ids) != n) {
    std::fprintf(stderr, "%s: only %zu of %llu connections established\n", name.c_str(), ids.size(),
                 static_cast<unsigned long long>(n));
    return false;
  }
  Stack& client = *pair.client;
  Stack& server = *pair.server;
  const std::uint64_t each = std::max<std::uint64_t>(bytes / n, 1);
  std::vector<std::byte> data(std::min<std::uint32_t>(64 << 10, buffer)), sink(64 << 10), buf;
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7);
  std::vector<std::uint64_t> sent(n), received(n);
  std::uint64_t total = 0, errors = 0;
  double fairness = 0;
  std::uint64_t least = 0, most = 0;
  auto snapshot = [&] {  // Jain's index and the extremes of `received`
    double sum = 0, squares = 0;
    for (auto r : received) {
      sum += static_cast<double>(r);
      squares += static_cast<double>(r) * static_cast<double>(r);
    }
    fairness = squares > 0 ? sum * sum / (static_cast<double>(n) * squares) : 0;
    auto [lo, hi] = std::minmax_element(received.begin(), received.end());
    least = *lo;
    most = *hi;
  };
  RealClock& clock = pair.clock;
  double start = clock.seconds();
  while (total < each * n && clock.seconds() - start < time_limit) {
    Instant now = clock.now();
    for (std::size_t i = 0; i < n; ++i) {
      if (sent[i] >= each) continue;
      auto chunk = std::min<std::uint64_t>(data.size(), each - sent[i]);
      auto r = client.send(ids[i].first, std::span(data).first(chunk), now);
      if (r)
        sent[i] += *r;
      else if (r.error() != Error::WouldBlock)
        ++errors;
    }
    bench::shuttle(client, server, now, buf);
    for (std::size_t i = 0; i < n; ++i) {
      for (;;) {
        auto r = server.receive(ids[i].second, sink, now);
        if (!r || *r == 0) break;
        received[i] += *r;
        total += *r;
      }
    }
    if (fairness == 0 && total >= each * n / 2) snapshot();
    bench::settle(client, server, now, buf);
    if (errors) break;
  }
  double seconds = clock.seconds() - start;
  if (fairness == 0) snapshot();  // stopped by the time limit before half had arrived
  report(name, static_cast<double>(total) * 8 / seconds / 1e9, "Gbit/s",
         std::to_string(total >> 20) + " MiB in " + std::to_string(seconds) + " s, " +
             std::to_string(n) + " connections");
  report(name + "_fairness", fairness, "Jain index",
         "at half-way, per connection " + std::to_string(least >> 10) + "–" +
             std::to_string(most >> 10) + " KiB");
  report(
      name + "_buffer", buffer / 1024.0, "KiB",
      buffer < (4u << 20) ? "smaller per-connection send/receive buffers than bulk's 4 MiB" : "");
  if (errors) std::fprintf(stderr, "%s: send failed\n", name.c_str());
  return errors == 0 && total == each * n;
}

// connections_cN: N clients, each repeating open, 1-byte request, 1-byte reply, close (client
// first, as in `connections`), all at once; `count` cycles in total or `time_limit`. Each round
// every client and every server connection takes the step it can, then the link carries
// everything queued. Cycles completed per second.
bool bench_connections_concurrent(const Reporter& report, std::uint64_t n, std::uint64_t count,
                                  double time_limit) {
  const std::string name = "connections_c" + std::to_string(n);
  // 32 client addresses, 8 listening ports, each with a backlog for all N clients.
  ManyPair pair({}, std::max<std::size_t>(1024, n));
  Stack& client = *pair.client;
  Stack& server = *pair.server;
  RealClock& clock = pair.clock;
  enum class Step : std::uint8_t { Idle, Connecting, Requested };
  struct Client {
    ConnectionId id = 0;
    Step step = Step::Idle;
  };
  struct Served {
    ConnectionId id = 0;
    bool replied = false;
  };
  std::vector<Client> clients(n);
  std::vector<Served> served;
  served.reserve(n);
  const std::byte request[1] = {std::byte{'?'}}, reply[1] = {std::byte{'!'}};
  std::byte in[16];
  std::vector<std::byte> buf;
  std::uint64_t started = 0, done = 0, failed = 0;
  double start = clock.seconds();
  while (done + failed < count && clock.seconds() - start < time_limit) {
    Instant now = clock.now();
    auto fail = [&](Client& c) {
      (void)client.abort(c.id, now);
      c.step = Step::Idle;
      ++failed;
    };
    for (auto& c : clients) {
      switch (c.step) {
        case Step::Idle: {
          if (started >= count) break;
          auto k = started++;
          auto port = static_cast<std::uint16_t>(10000 + k % ManyPair::kPorts);
          auto local = wire::Endpoint{
              client_address(static_cast<int>((k / ManyPair::kPorts) % ManyPair::kAddresses)), 0};
          auto id = client.connect({kServer, port}, now, local);
          if (!id) {
            ++failed;
            break;
          }
          c = Client{*id, Step::Connecting};
          break;
        }
        case Step::Connecting: {
          auto st = client.state(c.id);
          if (st == State::SynSent) break;
          if (st != State::Established) {
            fail(c);
            break;
          }
          auto r = client.send(c.id, request, now);
          if (!r || *r != 1) {
            fail(c);
            break;
          }
          c.step = Step::Requested;
          break;
        }
        case Step::Requested: {
          auto r = client.receive(c.id, in, now);
          if (!r && r.error() == Error::WouldBlock) break;
          if (!r || *r != 1) {
            fail(c);
            break;
          }
          (void)client.close(c.id, now);
          c.step = Step::Idle;
          ++done;
          break;
        }
      }
    }
    bench::shuttle(client, server, now, buf);
    for (auto listener : pair.listeners)
      while (auto sid = server.accept(listener)) served.push_back(Served{*sid, false});
    for (std::size_t i = 0; i < served.size();) {
      auto& s = served[i];
      auto r = server.receive(s.id, in, now);
      bool finished = false;
      if (!r) {
        finished = r.error() != Error::WouldBlock;  // reset or failed: nothing more to do
      } else if (*r == 0) {
        finished = true;  // the client's FIN after the reply
      } else if (!s.replied) {
        auto w = server.send(s.id, reply, now);
        s.replied = true;
        finished = !w || *w != 1;
      }
      if (finished) {
        (void)server.close(s.id, now);
        s = served.back();
        served.pop_back();
      } else {
        ++i;
      }
    }
    bench::settle(client, server, now, buf);
  }
  double seconds = clock.seconds() - start;
  report(name, static_cast<double>(done) / seconds, "conn/s",
         std::to_string(done) + " cycles in " + std::to_string(seconds) + " s, " +
             std::to_string(n) + " clients");
  if (failed)
    std::fprintf(stderr, "%s: %llu cycles failed\n", name.c_str(),
                 static_cast<unsigned long long>(failed));
  if (auto o = server.counters().tcp_backlog_overflow)
    std::fprintf(stderr, "%s: %llu SYNs over the backlog\n", name.c_str(),
                 static_cast<unsigned long long>(o));
  return failed == 0 && done > 0;
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
bool linux_bulk(const Reporter& report, std::uint64_t bytes, std::size_t block, double time_limit) {
  Fd lfd(socket(AF_INET, SOCK_STREAM, 0));
  auto addr = loopback_listener(lfd.fd);
  if (!addr) return false;
  Fd c(socket(AF_INET, SOCK_STREAM, 0));
  int size = 4 << 20;
  setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (connect(c.fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) return false;
  Fd s(accept(lfd.fd, nullptr, nullptr));
  setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  std::vector<char> data(block, 'x'), sink(block);
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
    std::size_t bulk_block = 128 << 10;
    std::uint64_t connections = 100000;
    std::uint64_t memory_connections = 100000;
    std::uint64_t million = 1000000;
    double time_limit = 30;
    std::vector<std::uint64_t> concurrency{1, 100, 10000};
    std::uint32_t buffer = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = &app;
  cmd->add_option("names", a->names, "benchmarks to run (default: all)")
      ->check(CLI::IsMember({"bulk", "connections", "bulk_concurrent", "connections_concurrent",
                             "memory_per_connection", "million"}));
  cmd->add_flag("--json", a->json, "one JSON object per result per line");
  cmd->add_flag("--software-checksum", a->software_checksum,
                "compute and verify every TCP checksum (default: offloaded, as on loopback)");
  cmd->add_flag(
      "--linux-loopback", a->linux_loopback,
      "measure the kernel's TCP over 127.0.0.1 instead (bulk on one thread, connections)");
  cmd->add_option("--bulk-bytes", a->bulk_bytes, "bytes for bulk (default 2 GiB)");
  cmd->add_option("--bulk-block", a->bulk_block,
                  "bytes per write for bulk, then the reader reads what arrived (default 128 KiB, "
                  "iperf3's default write size)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64} << 20));
  cmd->add_option("--connections", a->connections, "cycles for connections (default 100000)");
  cmd->add_option("--memory-connections", a->memory_connections,
                  "idle connections for memory_per_connection (default 100000)");
  cmd->add_option("--million", a->million, "connections for million (default 1000000)");
  cmd->add_option("--time-limit", a->time_limit, "seconds per timed benchmark (default 30)");
  cmd->add_option("--concurrency", a->concurrency,
                  "connection counts for bulk_concurrent and connections_concurrent "
                  "(default 1,100,10000)")
      ->delimiter(',')
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100000}));
  cmd->add_option("--buffer", a->buffer,
                  "per-connection send and receive buffer for bulk_concurrent, bytes "
                  "(default: 4 MiB, or 256 MiB / N and at least 32 KiB for N connections)")
      ->check(CLI::Range(std::uint32_t{1024}, std::uint32_t{1} << 30));
  cmd->callback([a] {
    Reporter report{a->json};
    checksum_offload() = !a->software_checksum;
    auto wanted = [&](const char* name) {
      return a->names.empty() ||
             std::find(a->names.begin(), a->names.end(), name) != a->names.end();
    };
    bool ok = true;
    if (a->linux_loopback) {
      if (wanted("bulk"))
        ok = linux_bulk(report, a->bulk_bytes, a->bulk_block, a->time_limit) && ok;
      if (wanted("connections"))
        ok = linux_connections(report, a->connections, a->time_limit) && ok;
      exit_status() = ok ? 0 : 1;
      return;
    }
    if (wanted("bulk")) ok = bench_bulk(report, a->bulk_bytes, a->bulk_block, a->time_limit) && ok;
    if (wanted("connections")) ok = bench_connections(report, a->connections, a->time_limit) && ok;
    if (wanted("bulk_concurrent"))
      for (auto n : a->concurrency)
        ok = bench_bulk_concurrent(report, n, a->bulk_bytes, a->time_limit, a->buffer) && ok;
    if (wanted("connections_concurrent"))
      for (auto n : a->concurrency)
        ok = bench_connections_concurrent(report, n, a->connections, a->time_limit) && ok;
    if (wanted("memory_per_connection")) ok = bench_memory(report, a->memory_connections) && ok;
    // Last: its peak RSS is the process's.
    if (wanted("million")) ok = bench_million(report, a->million) && ok;
    exit_status() = ok ? 0 : 1;
  });
}

}  // namespace synack::bench
