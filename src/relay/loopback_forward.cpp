// SPDX-License-Identifier: MIT
// pasta's -T: CMD's loopback -> the host's loopback, spliced by the kernel (loopback_forward.hpp).
#include "relay/loopback_forward.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "relay/sockaddr.hpp"

namespace synack::relay {
namespace {

// splice() calls per direction and wakeup: one busy pair cannot hold the loop (level-triggered
// epoll brings us back while bytes wait).
constexpr int kRounds = 8;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Closing with SO_LINGER 0 sends a reset: the other side learns the connection failed rather
// than that the stream ended.
void close_with_reset(int& fd) {
  if (fd < 0) return;
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close_fd(fd);
}

}  // namespace

// One direction: from `src` into the pipe, from the pipe to `dst`.
struct Direction {
  int pipe_r = -1, pipe_w = -1;
  std::size_t cap = 0;      // what the pipe holds (what F_SETPIPE_SZ gave)
  std::size_t in_pipe = 0;  // bytes taken from src, not yet given to dst
  bool eof = false;         // src has ended (FIN)
  bool shut = false;        // dst has been sent our FIN
  std::uint64_t moved = 0;  // bytes given to dst
};

struct LoopbackForwarder::Pair {
  int ns = -1;    // accepted in CMD's namespace
  int host = -1;  // connected (or connecting) to the host's loopback
  bool connected = false;
  Direction to_host, to_ns;
  std::uint32_t ns_events = 0, host_events = 0;  // what epoll watches now
};

LoopbackForwarder::LoopbackForwarder(os::EventLoop& loop, std::vector<LoopbackForward> forwards,
                                     Limits limits)
    : loop_(loop), forwards_(std::move(forwards)), limits_(limits) {}

LoopbackForwarder::~LoopbackForwarder() {
  abort_all();
  close_listeners();
}

Expected<void, int> LoopbackForwarder::start() {
  for (const auto& f : forwards_) {
    LoopbackForward copy = f;
    if (auto r =
            loop_.add_fd(f.listener, EPOLLIN, [this, copy](std::uint32_t) { on_accept(copy); });
        !r)
      return r;
  }
  return {};
}

void LoopbackForwarder::close_listeners() {
  for (auto& f : forwards_) {
    if (f.listener < 0) continue;
    loop_.remove_fd(f.listener);
    close_fd(f.listener);
  }
}

std::size_t LoopbackForwarder::abort_all() {
  std::size_t n = pairs_.size();
  while (!pairs_.empty()) finish(pairs_.back().get(), true);
  return n;
}

void LoopbackForwarder::on_accept(const LoopbackForward& forward) {
  // Several at once when they queued up; the listener stays readable for the rest.
  for (int i = 0; i < 16; ++i) {
    int ns = ::accept4(forward.listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (ns < 0) return;  // EAGAIN, or an error the next connection may not have
    ++stats_.accepted;
    if (pairs_.size() >= limits_.max_connections) {
      ++stats_.refused_limit;
      close_with_reset(ns);
      continue;
    }
    auto pair = std::make_unique<Pair>();
    pair->ns = ns;
    bool ok = true;
    for (Direction* d : {&pair->to_host, &pair->to_ns}) {
      int p[2];
      if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
        ok = false;
        break;
      }
      d->pipe_r = p[0];
      d->pipe_w = p[1];
      // Larger pipes mean fewer wakeups per megabyte; the kernel caps what it gives
      // (fs.pipe-max-size for us without CAP_SYS_RESOURCE). What the pipe holds is what
      // the pump may put in it: more, and a full pipe would leave its source readable and
      // watched, waking us for nothing until the destination drains.
      int got = ::fcntl(d->pipe_w, F_SETPIPE_SZ, static_cast<int>(limits_.pipe_bytes));
      if (got < 0) got = ::fcntl(d->pipe_w, F_GETPIPE_SZ);
      d->cap = got > 0 ? static_cast<std::size_t>(got) : 4096;
    }
    if (!ok) {
      Pair* raw = pair.get();
      pairs_.push_back(std::move(pair));
      finish(raw, true);  // out of descriptors: counted as a reset
      continue;
    }
    wire::Endpoint target{
        forward.ipv6 ? *wire::IpAddress::parse("::1") : wire::IpAddress::v4(127, 0, 0, 1),
        forward.host_port};
    pair->host =
        ::socket(forward.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ok = pair->host >= 0;
    if (ok) {
      sockaddr_storage sa;
      socklen_t len = to_sockaddr(target, &sa);
      int r = ::connect(pair->host, reinterpret_cast<sockaddr*>(&sa), len);
      if (r == 0)
        pair->connected = true;
      else if (errno != EINPROGRESS)
        ok = false;
    }
    Pair* raw = pair.get();
    pairs_.push_back(std::move(pair));
    if (!ok) {  // refused at once (or no socket to connect with)
      ++stats_.host_refused;
      finish(raw, true);
      continue;
    }
    // The namespace side waits, unwatched, until the host side has connected.
    raw->host_events = raw->connected ? 0u : static_cast<std::uint32_t>(EPOLLOUT);
    if (!loop_.add_fd(raw->host, raw->host_events,
                      [this, raw](std::uint32_t e) { on_event(raw, true, e); }) ||
        !loop_.add_fd(raw->ns, 0, [this, raw](std::uint32_t e) { on_event(raw, false, e); })) {
      finish(raw, true);
      continue;
    }
    if (raw->connected) on_event(raw, true, EPOLLOUT);
  }
}

namespace {

// Moves what it can from src through the pipe to dst. False: an error on either socket (the
// pair is reset). A request or a reply costs two splice() calls: a read shorter than the
// room asked for means the socket had no more (TCP hands over what is queued), and a write
// that leaves bytes means the destination is full; either ends the rounds.
bool pump(Direction& d, int src, int dst) {
  const std::size_t pipe_bytes = d.cap;
  for (int round = 0; round < kRounds; ++round) {
    bool more = false;
    if (!d.eof && d.in_pipe < pipe_bytes) {
      const std::size_t room = pipe_bytes - d.in_pipe;
      ssize_t n =
          ::splice(src, nullptr, d.pipe_w, nullptr, room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe += static_cast<std::size_t>(n);
        more = static_cast<std::size_t>(n) == room;
      } else if (n == 0) {
        d.eof = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    if (d.in_pipe > 0) {
      // No SPLICE_F_MORE: it corks the socket (MSG_MORE), and a request or a reply that
      // fits in one splice would wait for the 200 ms cork timer.
      ssize_t n =
          ::splice(d.pipe_r, nullptr, dst, nullptr, d.in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe -= static_cast<std::size_t>(n);
        d.moved += static_cast<std::uint64_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return false;
      }
      if (d.in_pipe > 0) more = false;  // the destination is full: wait for EPOLLOUT
    }
    if (!more) break;
  }
  if (d.eof && d.in_pipe == 0 && !d.shut) {
    d.shut = true;
    if (::shutdown(dst, SHUT_WR) != 0 && errno != ENOTCONN) return false;
  }
  return true;
}

}  // namespace

void LoopbackForwarder::on_event(Pair* pair, bool host_side, std::uint32_t events) {
  bool connected_now = false;
  if (!pair->connected) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(pair->host, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      ++stats_.host_refused;
      finish(pair, true);
      return;
    }
    // No error yet is not the same as connected: a wakeup for the namespace's side (or for a
    // descriptor number closed and reused in the same epoll round) can come first.
    sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    if (::getpeername(pair->host, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return;
    pair->connected = true;
    connected_now = true;  // both directions: the namespace side may have data waiting
    host_side = false;
  }
  const std::uint64_t to_host_before = pair->to_host.moved;
  const std::uint64_t to_ns_before = pair->to_ns.moved;
  // Only the directions this wakeup can move: the one this socket feeds when it is readable
  // (or has ended or failed), the one it drains when it is writable.
  const bool readable = events & (EPOLLIN | EPOLLHUP | EPOLLERR);
  const bool writable = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
  Direction& from_here = host_side ? pair->to_ns : pair->to_host;
  Direction& to_here = host_side ? pair->to_host : pair->to_ns;
  const int here = host_side ? pair->host : pair->ns;
  const int there = host_side ? pair->ns : pair->host;
  bool ok = true;
  if (readable || (connected_now && !host_side)) ok = pump(from_here, here, there);
  if (ok && (writable || connected_now)) ok = pump(to_here, there, here);
  stats_.bytes_to_host += pair->to_host.moved - to_host_before;
  stats_.bytes_to_namespace += pair->to_ns.moved - to_ns_before;
  if (!ok) {
    finish(pair, true);
    return;
  }
  if (pair->to_host.shut && pair->to_ns.shut) {
    finish(pair, false);
    return;
  }
  // Watch each socket for what would let a direction move: input while its pipe has room
  // and it has not ended, output while bytes wait for it. EPOLLRDHUP is not needed: a FIN
  // makes the socket readable, and splice() then returns 0.
  auto want = [](const Direction& in, const Direction& out) {
    std::uint32_t e = 0;
    if (!in.eof && in.in_pipe < in.cap) e |= EPOLLIN;
    if (out.in_pipe > 0) e |= EPOLLOUT;
    return e;
  };
  std::uint32_t ns_events = want(pair->to_host, pair->to_ns);
  std::uint32_t host_events = want(pair->to_ns, pair->to_host);
  // A socket that has ended its input and been sent our FIN has nothing left to do while the
  // other direction drains; epoll would report its EPOLLHUP on every round, so it is no
  // longer watched (finish() closes it).
  auto update = [this](int fd, std::uint32_t& watched, std::uint32_t want, bool done) {
    if (done) {
      loop_.remove_fd(fd);
    } else if (want != watched) {
      (void)loop_.modify_fd(fd, want);
    }
    watched = want;
  };
  update(pair->ns, pair->ns_events, ns_events, pair->to_host.eof && pair->to_ns.shut);
  update(pair->host, pair->host_events, host_events, pair->to_ns.eof && pair->to_host.shut);
}

void LoopbackForwarder::finish(Pair* pair, bool reset) {
  ++(reset ? stats_.reset : stats_.completed);
  for (int* fd : {&pair->ns, &pair->host}) {
    if (*fd < 0) continue;
    loop_.remove_fd(*fd);
    if (reset)
      close_with_reset(*fd);
    else
      close_fd(*fd);
  }
  for (Direction* d : {&pair->to_host, &pair->to_ns}) {
    close_fd(d->pipe_r);
    close_fd(d->pipe_w);
  }
  auto it =
      std::find_if(pairs_.begin(), pairs_.end(), [pair](const auto& p) { return p.get() == pair; });
  if (it != pairs_.end()) {
    std::swap(*it, pairs_.back());
    pairs_.pop_back();
  }
}

}  // namespace synack::relay
