// SPDX-License-Identifier: MIT
// libsynack_packetdrill.so: packetdrill's shared-object interface (interface.hpp) on the
// public synack::Stack API, so that one packetdrill script runs against the Linux kernel and
// against synack. See README.md here and SHIM.md beside packetdrill.
//
// Time is virtual. The stack is sans-I/O, so the object owns the clock that packetdrill reads
// (gettimeofday) and moves it only when packetdrill asks: usleep() steps through every stack
// deadline up to its end, netdev_receive() on an empty queue jumps to the next deadline, and
// every clock read moves one microsecond. A blocking call sleeps on a condition variable;
// after the stack wakes it, time stands still until that thread has read the clock (so the
// call's return time is the time of the packet or timer that ended it). When a call blocks
// and nobody else calls in, an idle driver thread moves time to the next deadline. Nothing
// spins: idle threads wait on condition variables.
//
// One mutex guards everything; packetdrill calls from its main thread and from its
// blocking-call thread.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "packetdrill/interface.hpp"
#include "synack/profiles.hpp"
#include "synack/stack.hpp"

#undef linux

namespace {

using synack::ConnectionId;
using synack::Error;
using synack::ListenerId;
using synack::State;
using synack::wire::Endpoint;
using synack::wire::IpAddress;

constexpr std::int64_t kSecond = 1'000'000;

// Linux's errno for each synack error.
int to_errno(Error e) {
  switch (e) {
    case Error::Ok:
      return 0;
    case Error::InvalidState:
      return EINVAL;
    case Error::NotConnected:
      return ENOTCONN;
    case Error::AlreadyConnected:
      return EISCONN;
    case Error::IsListener:
      return EINVAL;
    case Error::ShutDown:
      return EPIPE;
    case Error::AddressInUse:
      return EADDRINUSE;
    case Error::NoPortsAvailable:
      return EADDRNOTAVAIL;
    case Error::NoSuchConnection:
      return EBADF;
    case Error::WouldBlock:
      return EAGAIN;
    case Error::ConnectionRefused:
      return ECONNREFUSED;
    case Error::ConnectionReset:
      return ECONNRESET;
    case Error::TimedOut:
      return ETIMEDOUT;
    case Error::ConnectionAborted:
      return ECONNABORTED;
    case Error::Unreachable:
      return EHOSTUNREACH;
    case Error::TooManyConnections:
      return ENOBUFS;
    case Error::InvalidArgument:
      return EINVAL;
  }
  return EIO;
}

struct Sock {
  int fd = -1;  // a host eventfd: a real descriptor, unique, closed by packetdrill at teardown
  int domain = AF_INET;
  bool nonblock = false;
  std::optional<Endpoint> bound;
  std::optional<ListenerId> listener;
  std::deque<ConnectionId> accepted;  // taken from the stack, not yet accept()ed
  std::optional<ConnectionId> conn;
  std::optional<Endpoint> peer;
  bool connecting = false;      // connect() started, result not yet reported
  bool error_reported = false;  // the connection's error was returned once (sk_err is one-shot)
  bool rd_shut = false;
  bool wr_shut = false;
  // Options, as Linux reports them.
  bool nodelay = false;
  bool keepalive = false;
  int keepidle = 7200, keepintvl = 75, keepcnt = 9;
  unsigned user_timeout_ms = 0;
  int maxseg = 0;
  int rcvbuf = 131072, sndbuf = 16384;
  bool rcvbuf_set = false, sndbuf_set = false;  // SO_RCVBUF / SO_SNDBUF called
  bool reuseaddr = false;
  struct linger linger {};
};

constexpr int kMemMax = 212992;  // net.core.rmem_max and wmem_max, Linux's defaults

// The sizes a socket's options ask of a connection it opens (or its listener accepts). Linux
// counts half of the doubled SO_RCVBUF as window (tcp_win_from_space with 6.x's initial
// scaling_ratio of 50%); it charges each queued skb's truesize against the doubled SO_SNDBUF,
// so its payload share varies: half is taken here. TCP_MAXSEG is the MSS clamp.
synack::SocketOptions socket_options(const Sock& k) {
  synack::SocketOptions o;
  if (k.rcvbuf_set) o.receive_buffer = static_cast<std::uint32_t>(k.rcvbuf / 2);
  if (k.sndbuf_set) o.send_buffer = static_cast<std::uint32_t>(k.sndbuf / 2);
  if (k.maxseg) o.max_segment = static_cast<std::uint16_t>(k.maxseg);
  return o;
}

struct Shim {
  std::mutex mu;
  std::condition_variable changed;    // the stack changed: blocked calls re-check
  std::condition_variable handshake;  // a blocked call saw the change / read the clock
  std::condition_variable driver_wake;
  std::unique_ptr<synack::Stack> stack;
  std::map<int, Sock> socks;
  IpAddress local4, local6;

  std::int64_t base_us = 0;  // what gettimeofday reports for virtual time 0
  std::int64_t now_us = 0;   // virtual time since start
  std::deque<std::pair<std::int64_t, std::vector<std::byte>>> out;
  std::uint64_t epoch = 0;  // bumped at every change of the stack

  // The one blocked call (packetdrill allows one at a time).
  bool waiting = false;
  std::thread::id waiter;
  std::uint64_t waiter_epoch = 0;
  std::optional<std::int64_t> waiter_deadline;
  bool await_clock = false;  // a blocked call returned: hold time until it reads the clock
  std::thread::id await_thread;

  std::thread::id main_thread;
  bool main_in_call = false;
  std::chrono::steady_clock::time_point main_seen = std::chrono::steady_clock::now();
  bool stopping = false;
  std::thread driver;

  synack::Instant now() const { return synack::instant_from_us(now_us); }

  // Everything the stack queued leaves with the current time; blocked calls re-check.
  void pump() {
    std::vector<std::byte> pkt;
    while (stack->pop_packet(pkt)) out.emplace_back(now_us, std::move(pkt));
    ++epoch;
    changed.notify_all();
  }

  std::optional<std::int64_t> next_deadline() const {
    std::optional<std::int64_t> d;
    if (auto s = stack->next_deadline()) d = synack::to_us(*s);
    if (waiting && waiter_deadline && (!d || *waiter_deadline < *d)) d = waiter_deadline;
    return d;
  }

  // Waits (real time, bounded) until a blocked call has seen the latest change and, if it
  // returned, has read the clock.
  void settle(std::unique_lock<std::mutex>& lock) {
    auto self = std::this_thread::get_id();
    auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (((waiting && waiter != self && waiter_epoch != epoch) ||
            (await_clock && await_thread != self)) &&
           std::chrono::steady_clock::now() < limit) {
      handshake.wait_until(lock, limit);
    }
  }

  // Moves virtual time to `target`, running every stack deadline on the way, in order.
  void advance_to(std::unique_lock<std::mutex>& lock, std::int64_t target) {
    for (int guard = 0; guard < 1'000'000; ++guard) {
      settle(lock);
      auto d = next_deadline();
      if (!d || *d > target) break;
      if (*d > now_us) now_us = *d;
      stack->on_timer(now());
      pump();
    }
    settle(lock);
    if (target > now_us) now_us = target;
  }

  // Blocks the calling thread until ready() (or virtual time reaches deadline_us). Returns
  // ready(). Never spins: waits on `changed`.
  template <class F>
  bool block_until(std::unique_lock<std::mutex>& lock, F ready,
                   std::optional<std::int64_t> deadline_us = std::nullopt) {
    if (ready()) return true;
    if (deadline_us && now_us >= *deadline_us) return false;
    waiting = true;
    waiter = std::this_thread::get_id();
    waiter_epoch = epoch;  // after ready(): what it pumped is already seen
    waiter_deadline = deadline_us;
    handshake.notify_all();
    driver_wake.notify_all();
    bool ok = false;
    for (;;) {
      changed.wait(lock);
      ok = ready();
      waiter_epoch = epoch;  // after ready(): a change it made itself needs no second look
      if (ok || (deadline_us && now_us >= *deadline_us) || stopping) break;
      handshake.notify_all();
    }
    waiting = false;
    waiter_deadline.reset();
    await_clock = true;
    await_thread = std::this_thread::get_id();
    handshake.notify_all();
    return ok;
  }

  // The idle driver: a call blocks, nobody else calls in, time moves to the next deadline.
  void drive() {
    std::unique_lock lock(mu);
    while (!stopping) {
      if (!waiting) {
        driver_wake.wait(lock);
        continue;
      }
      driver_wake.wait_for(lock, std::chrono::milliseconds(20));
      if (stopping || !waiting) continue;
      bool main_idle =
          waiter == main_thread || (!main_in_call && std::chrono::steady_clock::now() - main_seen >
                                                         std::chrono::milliseconds(50));
      if (!main_idle || waiter_epoch != epoch || await_clock) continue;
      auto d = next_deadline();
      if (!d) continue;
      advance_to(lock, std::max(*d, now_us));
      if (*d <= now_us) {
        // A deadline already due (a blocked poll's timeout): wake the waiter.
        ++epoch;
        changed.notify_all();
      }
    }
  }
};

Shim* shim(void* ud) { return static_cast<Shim*>(ud); }

// Every callback holds the lock and tells the idle driver whether packetdrill's main thread
// is busy.
class Call {
 public:
  explicit Call(void* ud) : s_(*shim(ud)), lock_(s_.mu) {
    if (std::this_thread::get_id() == s_.main_thread) {
      s_.main_in_call = true;
      s_.main_seen = std::chrono::steady_clock::now();
    }
  }
  ~Call() {
    if (std::this_thread::get_id() == s_.main_thread) {
      s_.main_in_call = false;
      s_.main_seen = std::chrono::steady_clock::now();
    }
  }
  Shim& s() { return s_; }
  std::unique_lock<std::mutex>& lock() { return lock_; }

 private:
  Shim& s_;
  std::unique_lock<std::mutex> lock_;
};

int fail(int err) {
  errno = err;
  return -1;
}

Sock* find(Shim& s, int fd) {
  auto it = s.socks.find(fd);
  return it == s.socks.end() ? nullptr : &it->second;
}

// sockaddr <-> Endpoint; IPv4-mapped IPv6 addresses become IPv4 endpoints.
std::optional<Endpoint> to_endpoint(const sockaddr* sa, socklen_t len) {
  if (!sa) return std::nullopt;
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return Endpoint{IpAddress::v4_from_u32(ntohl(in->sin_addr.s_addr)), ntohs(in->sin_port)};
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    const auto* b = in6->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      return Endpoint{IpAddress::v4(b[12], b[13], b[14], b[15]), ntohs(in6->sin6_port)};
    }
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), b, 16);
    return Endpoint{IpAddress::v6(bytes), ntohs(in6->sin6_port)};
  }
  return std::nullopt;
}

void from_endpoint(const Endpoint& e, int domain, sockaddr* sa, socklen_t* len) {
  if (!sa || !len) return;
  sockaddr_storage ss{};
  socklen_t n = 0;
  if (domain == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(e.port);
    in->sin_addr.s_addr = htonl(e.addr.v4_u32());
    n = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(e.port);
    if (e.addr.is_v4()) {
      in6->sin6_addr.s6_addr[10] = 0xff;
      in6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&in6->sin6_addr.s6_addr[12], e.addr.bytes.data(), 4);
    } else {
      std::memcpy(in6->sin6_addr.s6_addr, e.addr.bytes.data(), 16);
    }
    n = sizeof(sockaddr_in6);
  }
  std::memcpy(sa, &ss, std::min(n, *len));
  *len = n;
}

bool is_unspecified(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

// --- connection state as Linux's socket sees it ---------------------------------------

std::optional<State> conn_state(Shim& s, const Sock& k) {
  if (!k.conn) return std::nullopt;
  return s.stack->state(*k.conn);
}

// The connection's failure, once (Linux's sk_err is cleared when reported).
int take_error(Shim& s, Sock& k) {
  if (!k.conn || k.error_reported) return 0;
  auto e = s.stack->connection_error(*k.conn);
  if (!e || *e == Error::Ok) return 0;
  k.error_reported = true;
  k.connecting = false;
  return to_errno(*e);
}

bool pending_error(Shim& s, const Sock& k) {
  if (!k.conn || k.error_reported) return false;
  auto e = s.stack->connection_error(*k.conn);
  return e && *e != Error::Ok;
}

bool established_or_later(std::optional<State> st) { return st && synack::is_synchronized(*st); }

void apply_options(Shim& s, Sock& k) {
  if (!k.conn) return;
  (void)s.stack->set_no_delay(*k.conn, k.nodelay);
  if (k.keepalive) {
    (void)s.stack->set_keepalive(*k.conn, true, std::chrono::seconds(k.keepidle),
                                 std::chrono::seconds(k.keepintvl),
                                 static_cast<std::uint8_t>(k.keepcnt), s.now());
  }
  if (k.user_timeout_ms) {
    (void)s.stack->set_user_timeout(*k.conn, s.stack->config().tcp.data_retries,
                                    std::chrono::milliseconds(k.user_timeout_ms));
  }
}

// Moves completed connections from the stack's accept queue to the socket's.
void drain_accepts(Shim& s, Sock& k) {
  if (!k.listener) return;
  for (;;) {
    auto id = s.stack->accept(*k.listener);
    if (!id) break;
    k.accepted.push_back(*id);
  }
}

// Linux's tcp_poll().
short poll_mask(Shim& s, Sock& k) {
  short m = 0;
  if (k.listener) {
    drain_accepts(s, k);
    if (!k.accepted.empty()) m |= POLLIN | POLLRDNORM;
    return m;
  }
  auto st = conn_state(s, k);
  bool closed = !st || *st == State::Closed;
  bool rcv_shut = k.rd_shut;
  bool snd_shut = k.wr_shut;
  if (k.conn && st) {
    bool failed = s.stack->connection_error(*k.conn).has_value() &&
                  *s.stack->connection_error(*k.conn) != Error::Ok;
    if (failed || *st == State::Closed) rcv_shut = snd_shut = true;
    auto status = s.stack->status(*k.conn);
    bool fin = status && (*st == State::CloseWait || *st == State::LastAck ||
                          *st == State::Closing || *st == State::TimeWait);
    if (fin) rcv_shut = true;
  }
  if ((rcv_shut && snd_shut) || closed) m |= POLLHUP;
  if (rcv_shut) m |= POLLIN | POLLRDNORM | POLLRDHUP;
  if (st && *st != State::SynSent && *st != State::SynReceived) {
    auto status = s.stack->status(*k.conn);
    if (status && status->receive_queue > 0) m |= POLLIN | POLLRDNORM;
    if (!snd_shut) {
      auto space = s.stack->send_space(*k.conn);
      if (space && *space > 0) m |= POLLOUT | POLLWRNORM;
    } else {
      m |= POLLOUT | POLLWRNORM;
    }
  } else if (!st) {
    m |= POLLOUT | POLLWRNORM;
  }
  if (pending_error(s, k)) m |= POLLERR;
  return m;
}

// --- socket calls --------------------------------------------------------------------

int pd_socket(void* ud, int domain, int type, int protocol) {
  Call c(ud);
  if (domain != AF_INET && domain != AF_INET6) return fail(EAFNOSUPPORT);
  int base_type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base_type != SOCK_STREAM) return fail(EPROTONOSUPPORT);
  if (protocol != 0 && protocol != IPPROTO_TCP) return fail(EPROTONOSUPPORT);
  int fd = eventfd(0, EFD_CLOEXEC);
  if (fd < 0) return -1;
  Sock k;
  k.fd = fd;
  k.domain = domain;
  k.nonblock = (type & SOCK_NONBLOCK) != 0;
  c.s().socks[fd] = k;
  return fd;
}

int pd_bind(void* ud, int fd, const sockaddr* addr, socklen_t len) {
  Call c(ud);
  Sock* k = find(c.s(), fd);
  if (!k) return fail(EBADF);
  auto e = to_endpoint(addr, len);
  if (!e) return fail(EINVAL);
  if (k->bound || k->conn || k->listener) return fail(EINVAL);
  if (!is_unspecified(e->addr) && e->addr != c.s().local4 && e->addr != c.s().local6)
    return fail(EADDRNOTAVAIL);
  k->bound = *e;
  return 0;
}

int pd_listen(void* ud, int fd, int backlog) {
  Call c(ud);
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  if (k->conn) return fail(EINVAL);
  if (k->listener) return 0;  // Linux: listen() again only changes the backlog
  Endpoint local = k->bound.value_or(Endpoint{});
  if (local.port == 0) local.port = 32768;  // autobind (a fixed choice: virtual and simple)
  if (is_unspecified(local.addr) && k->domain == AF_INET) local.addr = IpAddress{};
  // Linux's accept queue holds backlog + 1 connections (sk_acceptq_is_full uses ">").
  std::size_t b = backlog < 0 ? 4096 : static_cast<std::size_t>(backlog) + 1;
  auto id = s.stack->listen(local, s.now(), b, socket_options(*k));
  if (!id) return fail(to_errno(id.error()));
  k->listener = *id;
  k->bound = local;
  return 0;
}

int pd_accept(void* ud, int fd, sockaddr* addr, socklen_t* len) {
  Call c(ud);
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  if (!k->listener) return fail(EINVAL);
  int lfd = fd;
  auto ready = [&] {
    Sock* l = find(s, lfd);
    if (!l || !l->listener) return true;
    drain_accepts(s, *l);
    return !l->accepted.empty();
  };
  if (!ready()) {
    if (k->nonblock) return fail(EAGAIN);
    s.block_until(c.lock(), ready);
  }
  k = find(s, lfd);
  if (!k || !k->listener) return fail(EBADF);
  if (k->accepted.empty()) return fail(EAGAIN);
  ConnectionId id = k->accepted.front();
  k->accepted.pop_front();
  std::optional<Endpoint> peer;
  for (const auto& info : s.stack->connections()) {
    if (info.id == id) peer = info.remote;
  }
  int nfd = eventfd(0, EFD_CLOEXEC);
  if (nfd < 0) return -1;
  Sock n;
  n.fd = nfd;
  n.domain = k->domain;
  n.conn = id;
  n.peer = peer;
  n.bound = k->bound;
  // Accepted sockets inherit the listener's options, as on Linux.
  n.nodelay = k->nodelay;
  n.keepalive = k->keepalive;
  n.keepidle = k->keepidle;
  n.keepintvl = k->keepintvl;
  n.keepcnt = k->keepcnt;
  n.user_timeout_ms = k->user_timeout_ms;
  n.linger = k->linger;
  n.rcvbuf = k->rcvbuf;
  n.sndbuf = k->sndbuf;
  s.socks[nfd] = n;
  apply_options(s, s.socks[nfd]);
  s.pump();
  if (peer) from_endpoint(*peer, k->domain, addr, len);
  return nfd;
}

int pd_connect(void* ud, int fd, const sockaddr* addr, socklen_t len) {
  Call c(ud);
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  if (addr && addr->sa_family == AF_UNSPEC) {
    // Linux: connect(AF_UNSPEC) disconnects (tcp_disconnect: an RST if synchronized) and the
    // socket may connect again.
    if (k->conn) (void)s.stack->abort(*k->conn, s.now());
    k->conn.reset();
    k->peer.reset();
    k->connecting = k->error_reported = k->rd_shut = k->wr_shut = false;
    s.pump();
    return 0;
  }
  if (k->listener) return fail(EISCONN);
  if (k->conn) {
    if (k->connecting) {
      if (int e = take_error(s, *k)) return fail(e);
      auto st = conn_state(s, *k);
      if (established_or_later(st)) {
        k->connecting = false;
        return 0;
      }
      return fail(EALREADY);
    }
    if (int e = take_error(s, *k)) return fail(e);
    return fail(EISCONN);
  }
  auto remote = to_endpoint(addr, len);
  if (!remote) return fail(EAFNOSUPPORT);
  std::optional<Endpoint> local = k->bound;
  auto id = s.stack->connect(*remote, s.now(), local, socket_options(*k));
  if (!id) return fail(to_errno(id.error()));
  k->conn = *id;
  k->peer = remote;
  k->connecting = true;
  apply_options(s, *k);
  s.pump();
  if (k->nonblock) return fail(EINPROGRESS);
  auto ready = [&] {
    Sock* x = find(s, fd);
    if (!x || !x->conn) return true;
    auto st = conn_state(s, *x);
    return established_or_later(st) || pending_error(s, *x) || !st || *st == State::Closed;
  };
  s.block_until(c.lock(), ready);
  k = find(s, fd);
  if (!k) return fail(EBADF);
  if (int e = take_error(s, *k)) return fail(e);
  k->connecting = false;
  return 0;
}

// Reads into `out`, blocking as the socket says. Linux's tcp_recvmsg errors.
ssize_t do_read(Call& c, int fd, std::span<std::byte> out, int flags) {
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  if (k->listener || !k->conn) return fail(ENOTCONN);
  bool nonblock = k->nonblock || (flags & MSG_DONTWAIT);
  if (out.empty()) return 0;
  ssize_t result = -1;
  int err = 0;
  auto attempt = [&]() -> bool {
    Sock* x = find(s, fd);
    if (!x || !x->conn) {
      err = EBADF;
      return true;
    }
    auto st = conn_state(s, *x);
    if (st && (*st == State::SynSent || *st == State::SynReceived)) {
      if (pending_error(s, *x)) {
        err = take_error(s, *x);
        return true;
      }
      err = EAGAIN;
      return false;
    }
    auto r = s.stack->receive(*x->conn, out, s.now());
    s.pump();
    if (r) {
      result = static_cast<ssize_t>(*r);
      return true;
    }
    if (r.error() == Error::WouldBlock) {
      if (x->rd_shut) {
        result = 0;
        return true;
      }
      err = EAGAIN;
      return false;
    }
    // A failed connection: its error once, then end of stream (Linux).
    if (int e = take_error(s, *x)) {
      err = e;
      return true;
    }
    if (r.error() == Error::NotConnected && x->error_reported) {
      result = 0;
      return true;
    }
    if (x->error_reported) {
      result = 0;
      return true;
    }
    err = to_errno(r.error());
    return true;
  };
  if (!attempt()) {
    if (nonblock) return fail(EAGAIN);
    err = 0;
    s.block_until(c.lock(), attempt);
  }
  if (result >= 0) return result;
  return fail(err ? err : EAGAIN);
}

// Writes all of `data` (blocking) or what fits (non-blocking). Linux's tcp_sendmsg errors.
ssize_t do_write(Call& c, int fd, std::span<const std::byte> data, int flags) {
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  bool nonblock = k->nonblock || (flags & MSG_DONTWAIT);
  if (k->listener || !k->conn) return fail(EPIPE);
  std::size_t done = 0;
  int err = 0;
  auto attempt = [&]() -> bool {
    Sock* x = find(s, fd);
    if (!x || !x->conn) {
      err = EBADF;
      return true;
    }
    if (int e = take_error(s, *x)) {
      err = e;
      return true;
    }
    if (x->wr_shut || x->error_reported) {
      err = EPIPE;
      return true;
    }
    auto st = conn_state(s, *x);
    if (!st || *st == State::Closed) {
      err = EPIPE;
      return true;
    }
    if (*st == State::SynSent || *st == State::SynReceived) return false;
    auto r = s.stack->send(*x->conn, data.subspan(done), s.now());
    s.pump();
    if (r) {
      done += *r;
      return done == data.size();
    }
    if (r.error() == Error::WouldBlock) return false;
    err = to_errno(r.error());
    return true;
  };
  bool finished = attempt();
  if (!finished && !nonblock) {
    s.block_until(c.lock(), attempt);
  }
  if (done > 0) return static_cast<ssize_t>(done);
  if (err) return fail(err);
  if (data.empty()) return 0;
  return fail(EAGAIN);
}

ssize_t pd_read(void* ud, int fd, void* buf, size_t count) {
  Call c(ud);
  return do_read(c, fd, {static_cast<std::byte*>(buf), count}, 0);
}

ssize_t pd_recv(void* ud, int fd, void* buf, size_t len, int flags) {
  Call c(ud);
  return do_read(c, fd, {static_cast<std::byte*>(buf), len}, flags);
}

ssize_t pd_recvfrom(void* ud, int fd, void* buf, size_t len, int flags, sockaddr* src,
                    socklen_t* srclen) {
  Call c(ud);
  ssize_t r = do_read(c, fd, {static_cast<std::byte*>(buf), len}, flags);
  if (r >= 0 && src && srclen) {
    Sock* k = find(c.s(), fd);
    if (k && k->peer) from_endpoint(*k->peer, k->domain, src, srclen);
  }
  return r;
}

ssize_t pd_readv(void* ud, int fd, const iovec* iov, int iovcnt) {
  Call c(ud);
  std::size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  std::vector<std::byte> tmp(total);
  ssize_t r = do_read(c, fd, tmp, 0);
  if (r <= 0) return r;
  std::size_t off = 0;
  for (int i = 0; i < iovcnt && off < static_cast<std::size_t>(r); ++i) {
    std::size_t n = std::min(iov[i].iov_len, static_cast<std::size_t>(r) - off);
    std::memcpy(iov[i].iov_base, tmp.data() + off, n);
    off += n;
  }
  return r;
}

ssize_t pd_recvmsg(void* ud, int fd, msghdr* msg, int flags) {
  Call c(ud);
  std::size_t total = 0;
  for (std::size_t i = 0; i < msg->msg_iovlen; ++i) total += msg->msg_iov[i].iov_len;
  std::vector<std::byte> tmp(total);
  ssize_t r = do_read(c, fd, tmp, flags);
  if (r <= 0) return r;
  std::size_t off = 0;
  for (std::size_t i = 0; i < msg->msg_iovlen && off < static_cast<std::size_t>(r); ++i) {
    std::size_t n = std::min(msg->msg_iov[i].iov_len, static_cast<std::size_t>(r) - off);
    std::memcpy(msg->msg_iov[i].iov_base, tmp.data() + off, n);
    off += n;
  }
  msg->msg_controllen = 0;
  msg->msg_flags = 0;
  return r;
}

ssize_t pd_write(void* ud, int fd, const void* buf, size_t count) {
  Call c(ud);
  return do_write(c, fd, {static_cast<const std::byte*>(buf), count}, 0);
}

ssize_t pd_send(void* ud, int fd, const void* buf, size_t len, int flags) {
  Call c(ud);
  return do_write(c, fd, {static_cast<const std::byte*>(buf), len}, flags);
}

ssize_t pd_sendto(void* ud, int fd, const void* buf, size_t len, int flags, const sockaddr*,
                  socklen_t) {
  Call c(ud);
  return do_write(c, fd, {static_cast<const std::byte*>(buf), len}, flags);
}

ssize_t pd_writev(void* ud, int fd, const iovec* iov, int iovcnt) {
  Call c(ud);
  std::vector<std::byte> tmp;
  for (int i = 0; i < iovcnt; ++i) {
    const auto* p = static_cast<const std::byte*>(iov[i].iov_base);
    tmp.insert(tmp.end(), p, p + iov[i].iov_len);
  }
  return do_write(c, fd, tmp, 0);
}

ssize_t pd_sendmsg(void* ud, int fd, const msghdr* msg, int flags) {
  Call c(ud);
  std::vector<std::byte> tmp;
  for (std::size_t i = 0; i < msg->msg_iovlen; ++i) {
    const auto* p = static_cast<const std::byte*>(msg->msg_iov[i].iov_base);
    tmp.insert(tmp.end(), p, p + msg->msg_iov[i].iov_len);
  }
  return do_write(c, fd, tmp, flags);
}

int pd_fcntl(void* ud, int fd, int cmd, ...) {
  Call c(ud);
  Sock* k = find(c.s(), fd);
  if (!k) return fail(EBADF);
  va_list ap;
  va_start(ap, cmd);
  int arg = 0;
  if (cmd == F_SETFL || cmd == F_SETFD) arg = va_arg(ap, int);
  va_end(ap);
  switch (cmd) {
    case F_GETFL:
      return O_RDWR | (k->nonblock ? O_NONBLOCK : 0);
    case F_SETFL:
      k->nonblock = (arg & O_NONBLOCK) != 0;
      return 0;
    case F_GETFD:
      return 0;
    case F_SETFD:
      return 0;
    default:
      return fail(EINVAL);
  }
}

int pd_ioctl(void* ud, int fd, unsigned long request, ...) {
  Call c(ud);
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  va_list ap;
  va_start(ap, request);
  int* out = va_arg(ap, int*);
  va_end(ap);
  if (request == SIOCINQ || request == SIOCOUTQ) {
    if (k->listener) return fail(EINVAL);
    int v = 0;
    if (k->conn) {
      auto st = s.stack->status(*k->conn);
      if (st) v = static_cast<int>(request == SIOCINQ ? st->receive_queue : st->send_queue);
    }
    if (out) *out = v;
    return 0;
  }
  if (request == FIONBIO) {
    k->nonblock = out && *out;
    return 0;
  }
  return fail(ENOTTY);
}

int pd_close(void* ud, int fd) {
  Call c(ud);
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  if (k->listener) {
    // Connections already taken from the stack but not accepted are reset, as on Linux.
    for (ConnectionId id : k->accepted) (void)s.stack->abort(id, s.now());
    (void)s.stack->close_listener(*k->listener, s.now());
  } else if (k->conn) {
    auto st = conn_state(s, *k);
    if (k->linger.l_onoff && k->linger.l_linger == 0 && st && *st != State::SynSent) {
      (void)s.stack->abort(*k->conn, s.now());  // SO_LINGER 0: RST (Linux tcp_close)
    } else {
      (void)s.stack->close(*k->conn, s.now());
    }
  }
  ::close(k->fd);
  s.socks.erase(fd);
  s.pump();
  return 0;
}

int pd_shutdown(void* ud, int fd, int how) {
  Call c(ud);
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return fail(EINVAL);
  auto st = conn_state(s, *k);
  if (k->listener) {
    // Linux: shutdown of a listener closes it (inet_shutdown -> tcp_disconnect).
    for (ConnectionId id : k->accepted) (void)s.stack->abort(id, s.now());
    k->accepted.clear();
    (void)s.stack->close_listener(*k->listener, s.now());
    k->listener.reset();
    s.pump();
    return 0;
  }
  if (!k->conn || !st || *st == State::Closed) return fail(ENOTCONN);
  if (*st == State::SynSent) return fail(ENOTCONN);  // Linux: a connecting socket is not connected
  if (how == SHUT_RD || how == SHUT_RDWR) k->rd_shut = true;
  if ((how == SHUT_WR || how == SHUT_RDWR) && !k->wr_shut) {
    k->wr_shut = true;
    (void)s.stack->shutdown_write(*k->conn, s.now());
  }
  s.pump();
  return 0;
}

template <class T>
int put_opt(void* optval, socklen_t* optlen, const T& v) {
  if (!optlen || !optval) return fail(EFAULT);
  socklen_t n = std::min<socklen_t>(*optlen, sizeof(T));
  std::memcpy(optval, &v, n);
  *optlen = n;
  return 0;
}

int pd_getsockopt(void* ud, int fd, int level, int name, void* optval, socklen_t* optlen) {
  Call c(ud);
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR:
        return put_opt(optval, optlen, take_error(s, *k));
      case SO_LINGER:
        return put_opt(optval, optlen, k->linger);
      case SO_RCVBUF:
        return put_opt(optval, optlen, k->rcvbuf);
      case SO_SNDBUF:
        return put_opt(optval, optlen, k->sndbuf);
      case SO_KEEPALIVE:
        return put_opt(optval, optlen, static_cast<int>(k->keepalive));
      case SO_REUSEADDR:
        return put_opt(optval, optlen, static_cast<int>(k->reuseaddr));
      case SO_TYPE:
        return put_opt(optval, optlen, static_cast<int>(SOCK_STREAM));
      case SO_ACCEPTCONN:
        return put_opt(optval, optlen, static_cast<int>(k->listener.has_value()));
      default:
        return fail(ENOPROTOOPT);
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_NODELAY:
        return put_opt(optval, optlen, static_cast<int>(k->nodelay));
      case TCP_MAXSEG: {
        // Linux: the MSS in use once connected; before, the user's value or 536.
        int v = k->maxseg ? k->maxseg : 536;
        if (k->conn) {
          auto st = s.stack->status(*k->conn);
          if (st && synack::is_synchronized(st->state)) v = static_cast<int>(st->snd_mss);
        }
        return put_opt(optval, optlen, v);
      }
      case TCP_USER_TIMEOUT:
        return put_opt(optval, optlen, static_cast<int>(k->user_timeout_ms));
      case TCP_KEEPIDLE:
        return put_opt(optval, optlen, k->keepidle);
      case TCP_KEEPINTVL:
        return put_opt(optval, optlen, k->keepintvl);
      case TCP_KEEPCNT:
        return put_opt(optval, optlen, k->keepcnt);
      default:
        return fail(ENOPROTOOPT);
    }
  }
  return fail(ENOPROTOOPT);
}

int pd_setsockopt(void* ud, int fd, int level, int name, const void* optval, socklen_t optlen) {
  Call c(ud);
  Shim& s = c.s();
  Sock* k = find(s, fd);
  if (!k) return fail(EBADF);
  int v = 0;
  bool is_linger = level == SOL_SOCKET && name == SO_LINGER;
  if (is_linger) {
    if (!optval || optlen < sizeof(struct linger)) return fail(EINVAL);
    std::memcpy(&k->linger, optval, sizeof(struct linger));
    return 0;
  }
  if (!optval || optlen < sizeof(int)) return fail(EINVAL);
  std::memcpy(&v, optval, sizeof(int));
  if (level == SOL_SOCKET) {
    switch (name) {
      // Linux (sock_setsockopt): the value is capped at net.core.rmem_max / wmem_max
      // (212992 by default), doubled (bookkeeping overhead) and floored at 2304 / 4608. Set
      // before connect() or listen(), it sizes the connection (socket_options()); later it
      // is only reported.
      case SO_RCVBUF:
        k->rcvbuf = std::max(2 * std::clamp(v, 0, kMemMax), 2304);
        k->rcvbuf_set = true;
        return 0;
      case SO_SNDBUF:
        k->sndbuf = std::max(2 * std::clamp(v, 0, kMemMax), 4608);
        k->sndbuf_set = true;
        return 0;
      case SO_REUSEADDR:
        k->reuseaddr = v != 0;
        return 0;
      case SO_KEEPALIVE:
        k->keepalive = v != 0;
        if (k->conn) {
          (void)s.stack->set_keepalive(*k->conn, k->keepalive, std::chrono::seconds(k->keepidle),
                                       std::chrono::seconds(k->keepintvl),
                                       static_cast<std::uint8_t>(k->keepcnt), s.now());
        }
        return 0;
      default:
        return fail(ENOPROTOOPT);
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_NODELAY:
        k->nodelay = v != 0;
        if (k->conn) {
          (void)s.stack->set_no_delay(*k->conn, k->nodelay);
          // Linux pushes what Nagle held back at once (tcp_push_pending_frames).
          (void)s.stack->send(*k->conn, {}, s.now());
          s.pump();
        }
        return 0;
      case TCP_MAXSEG:
        if (v < 88 || v > 32767) return fail(EINVAL);  // Linux TCP_MIN_MSS / MAX_TCP_WINDOW
        k->maxseg = v;
        return 0;
      case TCP_USER_TIMEOUT:
        if (v < 0) return fail(EINVAL);
        k->user_timeout_ms = static_cast<unsigned>(v);
        if (k->conn) {
          (void)s.stack->set_user_timeout(*k->conn, s.stack->config().tcp.data_retries,
                                          std::chrono::milliseconds(v));
        }
        return 0;
      case TCP_KEEPIDLE:
      case TCP_KEEPINTVL:
        if (v < 1 || v > 32767) return fail(EINVAL);
        (name == TCP_KEEPIDLE ? k->keepidle : k->keepintvl) = v;
        break;
      case TCP_KEEPCNT:
        if (v < 1 || v > 127) return fail(EINVAL);
        k->keepcnt = v;
        break;
      default:
        return fail(ENOPROTOOPT);
    }
    if (k->conn && k->keepalive) {
      (void)s.stack->set_keepalive(*k->conn, true, std::chrono::seconds(k->keepidle),
                                   std::chrono::seconds(k->keepintvl),
                                   static_cast<std::uint8_t>(k->keepcnt), s.now());
    }
    return 0;
  }
  return fail(ENOPROTOOPT);
}

int pd_poll(void* ud, pollfd* fds, nfds_t nfds, int timeout) {
  Call c(ud);
  Shim& s = c.s();
  int count = 0;
  auto scan = [&]() -> bool {
    count = 0;
    for (nfds_t i = 0; i < nfds; ++i) {
      fds[i].revents = 0;
      if (fds[i].fd < 0) continue;
      Sock* k = find(s, fds[i].fd);
      short m = k ? poll_mask(s, *k) : POLLNVAL;
      fds[i].revents = static_cast<short>(m & (fds[i].events | POLLERR | POLLHUP | POLLNVAL));
      if (fds[i].revents) ++count;
    }
    return count > 0;
  };
  if (scan() || timeout == 0) return count;
  std::optional<std::int64_t> deadline;
  if (timeout > 0) deadline = s.now_us + static_cast<std::int64_t>(timeout) * 1000;
  s.block_until(c.lock(), scan, deadline);
  return count;
}

int pd_netdev_send(void* ud, const void* buf, size_t count) {
  Call c(ud);
  Shim& s = c.s();
  s.stack->receive_packet({static_cast<const std::byte*>(buf), count}, s.now());
  s.pump();
  return 0;
}

int pd_netdev_receive(void* ud, void* buf, size_t* count, long long* time_usecs) {
  Call c(ud);
  Shim& s = c.s();
  s.settle(c.lock());
  // Far enough for a keep-alive after Linux's default 2 h idle time.
  std::int64_t limit = s.now_us + 3 * 3600 * kSecond;
  while (s.out.empty()) {
    auto d = s.next_deadline();
    if (!d || *d > limit) {
      std::fprintf(stderr,
                   "synack shim: the script expects a packet, but synack has nothing to send "
                   "and no timer pending (virtual time %.6f s)\n",
                   static_cast<double>(s.now_us) / kSecond);
      *count = 0;
      *time_usecs = s.base_us + s.now_us;
      return 0;
    }
    s.advance_to(c.lock(), std::max(*d, s.now_us));
    if (*d <= s.now_us && s.out.empty()) {
      // A blocked call's own deadline, already due: let it finish.
      ++s.epoch;
      s.changed.notify_all();
      s.settle(c.lock());
      if (s.out.empty() && s.next_deadline() == d) break;
    }
  }
  if (s.out.empty()) {
    *count = 0;
    return 0;
  }
  auto& [t, pkt] = s.out.front();
  std::size_t n = std::min(*count, pkt.size());
  std::memcpy(buf, pkt.data(), n);
  *count = n;
  *time_usecs = s.base_us + t;
  s.out.pop_front();
  return 0;
}

int pd_usleep(void* ud, useconds_t usec) {
  Call c(ud);
  Shim& s = c.s();
  s.advance_to(c.lock(), s.now_us + usec);
  return 0;
}

int pd_gettimeofday(void* ud, timeval* tv, void*) {
  Call c(ud);
  Shim& s = c.s();
  if (s.await_clock && s.await_thread == std::this_thread::get_id()) {
    s.await_clock = false;
    s.handshake.notify_all();
  } else {
    s.advance_to(c.lock(), s.now_us + 1);  // packetdrill spins on the clock: it must move
  }
  std::int64_t t = s.base_us + s.now_us;
  tv->tv_sec = t / kSecond;
  tv->tv_usec = t % kSecond;
  return 0;
}

int pd_epoll_create(void*, int) { return fail(ENOSYS); }
int pd_epoll_ctl(void*, int, int, int, epoll_event*) { return fail(ENOSYS); }
int pd_epoll_wait(void*, int, epoll_event*, int, int) { return fail(ENOSYS); }
int pd_pipe(void*, int*) { return fail(ENOSYS); }
int pd_splice(void*, int, loff_t*, int, loff_t*, size_t, unsigned) { return fail(ENOSYS); }

void pd_free(void* ud) {
  Shim* s = shim(ud);
  {
    std::lock_guard lock(s->mu);
    s->stopping = true;
    s->driver_wake.notify_all();
    s->changed.notify_all();
  }
  if (s->driver.joinable()) s->driver.join();
  // Descriptors still open were closed by packetdrill (host close()); do not close again.
  delete s;
}

// "key=value,key=value": profile=linux|rfc, local_ip=ADDR, local_ip6=ADDR, mtu=N (the
// --mtu given to packetdrill: the MSS announced is N - 40 for IPv4, N - 60 for IPv6), and
// tail_loss_probe=0|1 (tests/packetdrill/run.sh sets 0 where a script turns Linux's off with
// net.ipv4.tcp_early_retrans=0).
bool parse_flags(const char* flags, Shim& s, synack::StackConfig& config) {
  std::string text = flags ? flags : "";
  std::optional<int> mtu;
  std::optional<bool> tail_loss_probe;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "profile") {
      auto p = synack::profiles::by_name(value);
      if (!p) {
        std::fprintf(stderr, "synack shim: unknown profile '%s' (linux or rfc)\n", value.c_str());
        return false;
      }
      config = *p;
    } else if (key == "local_ip" || key == "local_ip6") {
      auto a = IpAddress::parse(value);
      if (!a || (key == "local_ip") != a->is_v4()) {
        std::fprintf(stderr, "synack shim: bad %s '%s'\n", key.c_str(), value.c_str());
        return false;
      }
      (key == "local_ip" ? s.local4 : s.local6) = *a;
    } else if (key == "mtu") {
      int v = std::atoi(value.c_str());
      if (v < 576 || v > 65535) {
        std::fprintf(stderr, "synack shim: bad mtu '%s'\n", value.c_str());
        return false;
      }
      mtu = v;
    } else if (key == "tail_loss_probe" && (value == "0" || value == "1")) {
      tail_loss_probe = value == "1";
    } else {
      std::fprintf(stderr, "synack shim: unknown flag '%s'\n", key.c_str());
      return false;
    }
  }
  // The stack announces TcpConfig::mss over IPv4 and 20 bytes less over IPv6.
  if (mtu) config.tcp.mss = static_cast<std::uint16_t>(*mtu - 40);
  // After the loop: a profile replaces the whole configuration.
  if (tail_loss_probe) config.tcp.tail_loss_probe = *tail_loss_probe;
  return true;
}

}  // namespace

extern "C" void packetdrill_interface_init(const char* flags, packetdrill_interface* ifc) {
  auto* s = new Shim;
  s->local4 = IpAddress::v4(192, 168, 0, 1);
  s->local6 = *IpAddress::parse("fd3d:fa7b:d17d::1");
  synack::StackConfig config = synack::profiles::linux();
  if (!parse_flags(flags, *s, config)) std::exit(1);
  s->stack = std::make_unique<synack::Stack>(config, std::vector<IpAddress>{s->local4, s->local6});
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  s->base_us = static_cast<std::int64_t>(tv.tv_sec) * kSecond + tv.tv_usec;
  s->main_thread = std::this_thread::get_id();
  s->driver = std::thread([s] { s->drive(); });

  ifc->userdata = s;
  ifc->free = pd_free;
  ifc->socket = pd_socket;
  ifc->bind = pd_bind;
  ifc->listen = pd_listen;
  ifc->accept = pd_accept;
  ifc->connect = pd_connect;
  ifc->read = pd_read;
  ifc->readv = pd_readv;
  ifc->recv = pd_recv;
  ifc->recvfrom = pd_recvfrom;
  ifc->recvmsg = pd_recvmsg;
  ifc->write = pd_write;
  ifc->writev = pd_writev;
  ifc->send = pd_send;
  ifc->sendto = pd_sendto;
  ifc->sendmsg = pd_sendmsg;
  ifc->fcntl = pd_fcntl;
  ifc->ioctl = pd_ioctl;
  ifc->close = pd_close;
  ifc->shutdown = pd_shutdown;
  ifc->getsockopt = pd_getsockopt;
  ifc->setsockopt = pd_setsockopt;
  ifc->poll = pd_poll;
  ifc->netdev_send = pd_netdev_send;
  ifc->netdev_receive = pd_netdev_receive;
  ifc->usleep = pd_usleep;
  ifc->gettimeofday = pd_gettimeofday;
  ifc->epoll_create = pd_epoll_create;
  ifc->epoll_ctl = pd_epoll_ctl;
  ifc->epoll_wait = pd_epoll_wait;
  ifc->pipe = pd_pipe;
  ifc->splice = pd_splice;
}
