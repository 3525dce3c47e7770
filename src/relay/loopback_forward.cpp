// SPDX-License-Identifier: MIT
// pasta's -T: CMD's loopback -> the host's loopback, spliced by the kernel (loopback_forward.hpp).
#include "relay/loopback_forward.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "os/accept_rest.hpp"
#include "relay/flush_poll.hpp"
#include "relay/sockaddr.hpp"

namespace synack::relay {
namespace {

using namespace std::chrono_literals;

// splice() calls per direction and wakeup: one busy pair cannot hold the loop (level-triggered
// epoll brings us back while bytes wait).
constexpr int kRounds = 8;
// A side that failed (its peer reset): the other side gets what the failed one sent before,
// and its own queue is delivered (polled: flush_poll_delay), for at most kFailFlushLimit,
// before the RST (fail()).
constexpr Duration kFailFlushLimit = 60s;
// A pipe as the kernel makes it (16 pages); a direction that fills it grows it, up to
// Limits::pipe_bytes, while the memory budget has room.
constexpr std::size_t kFirstPipe = 64 * 1024;
// After accept() ran out of descriptors (or memory), the listeners rest this long.
constexpr Duration kAcceptPause = 100ms;
// Empty pipes kept for the next connections: making a pipe and closing it costs a short
// connection four system calls (pipe2, F_GETPIPE_SZ, two close) per direction and the kernel
// an inode and two files; pasta keeps a pool of pipes for the same reason. A pipe is kept only
// when it ended empty and at its first size (a grown one goes back to the kernel), and the pool
// is let go when descriptors run short.
constexpr std::size_t kSparePipes = 64;

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

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

}  // namespace

// One direction: from `src` into the pipe, from the pipe to `dst`.
struct LoopbackForwarder::Direction {
  int pipe_r = -1, pipe_w = -1;
  std::size_t cap = 0;      // what the pipe holds now (F_SETPIPE_SZ's answer)
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
  std::size_t charged = 0;  // the pipes' capacity, taken from the memory budget
  // What epoll watches on each socket; a socket with nothing to wait for is not in the epoll
  // set at all (EPOLLHUP and EPOLLERR are reported whatever the mask says).
  bool ns_watched = false, host_watched = false;
  std::uint32_t ns_events = 0, host_events = 0;
  // One side failed (fail()): what it sent goes to the other side, then both are reset.
  bool failing = false;
  bool failed_host = false;  // which side
  Instant failed_at{};
  os::EventLoop::TimerId flush_timer = 0;
};

LoopbackForwarder::LoopbackForwarder(os::EventLoop& loop, std::vector<LoopbackForward> forwards,
                                     Limits limits, MemoryBudget* budget)
    : loop_(loop), forwards_(std::move(forwards)), limits_(limits), budget_(budget) {}

LoopbackForwarder::~LoopbackForwarder() {
  abort_all();
  close_listeners();
  release_spare_pipes();
}

bool LoopbackForwarder::take_pipe(Direction& d) {
  if (!spare_pipes_.empty()) {
    const SparePipe p = spare_pipes_.back();
    spare_pipes_.pop_back();
    d.pipe_r = p.r;
    d.pipe_w = p.w;
    d.cap = p.cap;
    ++stats_.pipes_reused;
    return true;
  }
  int p[2];
  if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  d.pipe_r = p[0];
  d.pipe_w = p[1];
  int got = ::fcntl(d.pipe_w, F_GETPIPE_SZ);
  d.cap = got > 0 ? std::min(static_cast<std::size_t>(got), kFirstPipe) : 4096;
  ++stats_.pipes_made;
  return true;
}

void LoopbackForwarder::give_back_pipe(Direction& d) {
  // Empty for certain: every byte spliced in was spliced out (a reset pair may leave some).
  if (d.pipe_r >= 0 && d.pipe_w >= 0 && d.in_pipe == 0 && d.cap <= kFirstPipe &&
      spare_pipes_.size() < kSparePipes) {
    spare_pipes_.push_back(SparePipe{d.pipe_r, d.pipe_w, d.cap});
    d.pipe_r = d.pipe_w = -1;
    return;
  }
  close_fd(d.pipe_r);
  close_fd(d.pipe_w);
}

void LoopbackForwarder::release_spare_pipes() {
  for (SparePipe& p : spare_pipes_) {
    close_fd(p.r);
    close_fd(p.w);
  }
  spare_pipes_.clear();
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
  closed_ = true;
  if (resume_timer_) loop_.cancel_timer(resume_timer_);
  resume_timer_ = 0;
  for (auto& f : forwards_) {
    if (f.listener < 0) continue;
    loop_.remove_fd(f.listener);
    close_fd(f.listener);
  }
}

LoopbackForwarder::Aborted LoopbackForwarder::abort_all() {
  Aborted out;
  out.connections = pairs_.size();
  for (const auto& pair : pairs_) out.bytes_to_host += pair->to_host.in_pipe;
  while (!pairs_.empty()) finish(pairs_.back().get(), true);
  return out;
}

void LoopbackForwarder::pause_accepting() {
  ++stats_.accept_paused;
  release_spare_pipes();  // their descriptors, for the connections waiting
  for (const auto& f : forwards_) loop_.remove_fd(f.listener);
  resume_timer_ = loop_.call_at(loop_.now() + kAcceptPause, [this] {
    resume_timer_ = 0;
    if (!closed_) (void)start();
  });
}

void LoopbackForwarder::on_accept(const LoopbackForward& forward) {
  // Several at once when they queued up; the listener stays readable for the rest.
  for (int i = 0; i < 16; ++i) {
    int ns = ::accept4(forward.listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (ns < 0) {
      // Out of descriptors or memory: the connection stays queued and the listener readable,
      // so watching it would spin; it rests and is watched again after kAcceptPause.
      if (os::accept_shortage(errno)) pause_accepting();
      return;  // EAGAIN, or an error that was the connection's own (ECONNABORTED)
    }
    ++stats_.accepted;
    if (pairs_.size() >= limits_.max_connections) {
      ++stats_.refused_limit;
      close_with_reset(ns);
      continue;
    }
    // Issue 11: what the pipes can hold is buffer memory like the relay's rings.
    const std::size_t first = 2 * kFirstPipe;
    if (budget_ && !budget_->try_reserve(first)) {
      ++stats_.refused_memory;
      close_with_reset(ns);
      continue;
    }
    auto owned = std::make_unique<Pair>();
    Pair* pair = owned.get();
    pairs_.push_back(std::move(owned));
    pair->ns = ns;
    pair->charged = budget_ ? first : 0;
    bool ok = true;
    for (Direction* d : {&pair->to_host, &pair->to_ns}) {
      if (!take_pipe(*d)) {
        ok = false;
        break;
      }
    }
    if (!ok) {
      finish(pair, true);  // out of descriptors: counted as a reset
      release_spare_pipes();
      continue;
    }
    const wire::Endpoint target{
        forward.ipv6 ? *wire::IpAddress::parse("::1") : wire::IpAddress::v4(127, 0, 0, 1),
        forward.host_port};
    pair->host =
        ::socket(forward.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (pair->host < 0) {
      const bool short_of_descriptors = errno == EMFILE || errno == ENFILE;
      finish(pair, true);
      if (short_of_descriptors) release_spare_pipes();  // after finish() gave its pipes back
      continue;
    }
    sockaddr_storage sa;
    socklen_t len = to_sockaddr(target, &sa);
    if (::connect(pair->host, reinterpret_cast<sockaddr*>(&sa), len) == 0) {
      pair->connected = true;
    } else if (errno != EINPROGRESS) {
      ++stats_.host_refused;  // refused at once
      finish(pair, true);
      continue;
    }
    if (pair->connected) {
      on_event(pair, false, 0);                 // both directions: CMD may have written already
    } else if (!watch(pair, true, EPOLLOUT)) {  // the namespace's side waits, unwatched
      finish(pair, true);
    }
  }
}

// Grows a direction's full pipe (up to Limits::pipe_bytes) when the budget has room: a bulk
// flow then needs fewer wakeups per megabyte, and a thousand idle ones hold 128 KiB each.
void LoopbackForwarder::grow(Pair* pair, Direction& d) {
  if (d.cap >= limits_.pipe_bytes) return;
  const std::size_t want = std::min(limits_.pipe_bytes, d.cap * 4);
  if (budget_ && !budget_->try_reserve(want - d.cap)) return;
  int got = ::fcntl(d.pipe_w, F_SETPIPE_SZ, static_cast<int>(want));
  if (got < static_cast<int>(want)) {  // refused (a user's pipe limit): stays as it is
    if (budget_) budget_->release(want - d.cap);
    return;
  }
  if (budget_) pair->charged += want - d.cap;
  d.cap = want;
}

// One splice() from `src` into the direction's pipe (as much as it has room for), and one from
// the pipe to `dst`: what splice() returns (errno as it left it), the pipe's count kept.
ssize_t LoopbackForwarder::splice_in(Direction& d, int src) {
  ssize_t n = ::splice(src, nullptr, d.pipe_w, nullptr, d.cap - d.in_pipe,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) d.in_pipe += static_cast<std::size_t>(n);
  return n;
}

ssize_t LoopbackForwarder::splice_out(Direction& d, int dst) {
  // No SPLICE_F_MORE: it corks the socket (MSG_MORE), and a request or a reply that fits in one
  // splice would wait for the 200 ms cork timer.
  ssize_t n =
      ::splice(d.pipe_r, nullptr, dst, nullptr, d.in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) {
    d.in_pipe -= static_cast<std::size_t>(n);
    d.moved += static_cast<std::uint64_t>(n);
  }
  return n;
}

// Moves what it can from src through the pipe to dst. Not Ok: an error on one of the sockets
// (the pair is reset, after what the failed side sent: fail()). A request or a reply costs two
// splice() calls: a read shorter than the room asked for means the socket had no more (TCP hands
// over what is queued), and a write that leaves bytes means the destination is full; either ends
// the rounds.
LoopbackForwarder::Pumped LoopbackForwarder::pump(Pair* pair, Direction& d, int src, int dst) {
  for (int round = 0; round < kRounds; ++round) {
    bool more = false;
    if (!d.eof && d.in_pipe < d.cap) {
      const std::size_t room = d.cap - d.in_pipe;
      ssize_t n = splice_in(d, src);
      if (n > 0) {
        more = static_cast<std::size_t>(n) == room;
        if (more) grow(pair, d);
      } else if (n == 0) {
        d.eof = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return Pumped::SourceFailed;
      }
    }
    if (d.in_pipe > 0) {
      ssize_t n = splice_out(d, dst);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return Pumped::DestinationFailed;
      if (d.in_pipe > 0) more = false;  // the destination is full: wait for EPOLLOUT
    }
    if (!more) break;
  }
  if (d.eof && d.in_pipe == 0 && !d.shut) {
    d.shut = true;
    // ENOTCONN too: the destination was reset, and its peer must learn that, not of an end —
    // also when the other direction has ended already (a host that reset after its FIN,
    // because bytes reached it after its close()). So no close() in its place, though finish()
    // follows at once then.
    if (::shutdown(dst, SHUT_WR) != 0) return Pumped::DestinationFailed;
  }
  return Pumped::Ok;
}

bool LoopbackForwarder::watch(Pair* pair, bool host_side, std::uint32_t want) {
  const int fd = host_side ? pair->host : pair->ns;
  bool& watched = host_side ? pair->host_watched : pair->ns_watched;
  std::uint32_t& events = host_side ? pair->host_events : pair->ns_events;
  if (want == 0) {
    if (watched) loop_.remove_fd(fd);
    watched = false;
  } else if (!watched) {
    if (!loop_.add_fd(fd, want,
                      [this, pair, host_side](std::uint32_t e) { on_event(pair, host_side, e); }))
      return false;  // no wakeups would come: the caller resets the pair
    watched = true;
  } else if (want != events) {
    (void)loop_.modify_fd(fd, want);
  }
  events = want;
  return true;
}

void LoopbackForwarder::on_event(Pair* pair, bool host_side, std::uint32_t events) {
  if (pair->failing) {
    // Only the surviving side is watched, for room for the rest (EPOLLOUT), or its failure.
    if (events & EPOLLERR)
      finish(pair, true);
    else
      drain_failed(pair);
    return;
  }
  bool both = false;
  if (!pair->connected) {
    if (socket_error(pair->host) != 0) {
      ++stats_.host_refused;
      finish(pair, true);
      return;
    }
    // No error yet is not the same as connected (a descriptor number closed and reused in
    // the same epoll round can bring a wakeup meant for another socket).
    sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    if (::getpeername(pair->host, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return;
    pair->connected = true;
    both = true;
  }
  if (!pair->host_watched && !pair->ns_watched) both = true;  // the first call
  // A reset or an error on this socket: the other side learns it at once (with nothing to
  // write, no splice() would surface it), after what this one sent before it.
  if ((events & EPOLLERR) && socket_error(host_side ? pair->host : pair->ns) != 0) {
    fail(pair, host_side);
    return;
  }
  const std::uint64_t to_host_before = pair->to_host.moved;
  const std::uint64_t to_ns_before = pair->to_ns.moved;
  // Which side failed, if one did: the source of a direction that failed reading, the
  // destination of one that failed writing.
  std::optional<bool> failed_host;
  auto run = [&](Direction& d, bool from_host) {
    const int src = from_host ? pair->host : pair->ns;
    const int dst = from_host ? pair->ns : pair->host;
    switch (pump(pair, d, src, dst)) {
      case Pumped::Ok:
        return true;
      case Pumped::SourceFailed:
        failed_host = from_host;
        return false;
      case Pumped::DestinationFailed:
        failed_host = !from_host;
        return false;
    }
    return false;
  };
  bool ok = true;
  if (both) {
    ok = run(pair->to_host, false) && run(pair->to_ns, true);
  } else {
    // Only the directions this wakeup can move: the one this socket feeds when it is
    // readable (or has ended), the one it drains when it is writable.
    Direction& from_here = host_side ? pair->to_ns : pair->to_host;
    Direction& to_here = host_side ? pair->to_host : pair->to_ns;
    if (events & (EPOLLIN | EPOLLHUP)) ok = run(from_here, host_side);
    if (ok && (events & (EPOLLOUT | EPOLLHUP))) ok = run(to_here, !host_side);
  }
  stats_.bytes_to_host += pair->to_host.moved - to_host_before;
  stats_.bytes_to_namespace += pair->to_ns.moved - to_ns_before;
  if (!ok) {
    fail(pair, failed_host.value_or(host_side));
    return;
  }
  if (pair->to_host.shut && pair->to_ns.shut) {
    finish(pair, false);
    return;
  }
  // Input is watched only while its pipe is empty: with bytes left in it the destination
  // pushed back, its EPOLLOUT is watched, and that wakeup reads the source too. (A pipe is
  // full by its slots, one per splice(), before it is full by bytes: a source watched until
  // `cap` bytes would stay readable while nothing moves.) Output is watched while bytes
  // wait for it. EPOLLRDHUP is not needed: a FIN makes the socket readable, and splice()
  // then returns 0.
  auto want = [](const Direction& in, const Direction& out) {
    std::uint32_t e = 0;
    if (!in.eof && in.in_pipe == 0) e |= EPOLLIN;
    if (out.in_pipe > 0) e |= EPOLLOUT;
    return e;
  };
  if (!watch(pair, false, want(pair->to_host, pair->to_ns)) ||
      !watch(pair, true, want(pair->to_ns, pair->to_host)))
    finish(pair, true);
}

// One side failed (its peer reset it, say). The bytes it sent before, which its socket
// acknowledged, go to the other side first — the rest of its receive queue (splice() returns
// queued data before the error) and what waits in the pipe — and the other side's own queue is
// delivered; then both are reset, so that the other side's peer learns of the failure after
// the data, as a Linux reader gets queued data before ECONNRESET. What was on its way to the
// failed side is dropped. At most kFailFlushLimit; a pair that never connected is reset at once.
void LoopbackForwarder::fail(Pair* pair, bool host_failed) {
  if (!pair->connected) {
    finish(pair, true);
    return;
  }
  pair->failing = true;
  pair->failed_host = host_failed;
  pair->failed_at = loop_.now();
  (void)watch(pair, host_failed, 0);  // its error would wake us again and again
  drain_failed(pair);
}

void LoopbackForwarder::drain_failed(Pair* pair) {
  const bool h = pair->failed_host;
  Direction& d = h ? pair->to_ns : pair->to_host;
  const int src = h ? pair->host : pair->ns;
  const int dst = h ? pair->ns : pair->host;
  std::uint64_t& counted = h ? stats_.bytes_to_namespace : stats_.bytes_to_host;
  for (int round = 0; round < kRounds * 64; ++round) {
    if (!d.eof && d.in_pipe < d.cap) {
      ssize_t n = splice_in(d, src);
      if (n == 0 || (n < 0 && errno != EINTR))
        d.eof = true;  // its end: the error (or, a failed socket, nothing more ever)
    }
    if (d.in_pipe > 0) {
      ssize_t n = splice_out(d, dst);
      if (n > 0) {
        counted += static_cast<std::uint64_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        if (!watch(pair, !h, EPOLLOUT)) finish(pair, true);  // room brings us back
        return;
      } else if (n < 0 && errno != EINTR) {
        finish(pair, true);  // the other side failed as well
        return;
      }
    }
    if (d.eof && d.in_pipe == 0) break;
  }
  if (!(d.eof && d.in_pipe == 0)) {
    if (!watch(pair, !h, EPOLLOUT)) finish(pair, true);  // more next time it has room
    return;
  }
  (void)watch(pair, !h, 0);
  flush_failed(pair);
}

// Polls the surviving side's send queue until its peer has acknowledged all of it.
void LoopbackForwarder::flush_failed(Pair* pair) {
  pair->flush_timer = 0;
  const int dst = pair->failed_host ? pair->ns : pair->host;
  int queued = 0;
  const bool pending = socket_error(dst) == 0 && ::ioctl(dst, SIOCOUTQ, &queued) == 0 && queued > 0;
  if (pending && loop_.now() - pair->failed_at < kFailFlushLimit) {
    pair->flush_timer = loop_.call_at(loop_.now() + flush_poll_delay(loop_.now() - pair->failed_at),
                                      [this, pair] { flush_failed(pair); });
    return;
  }
  finish(pair, true);
}

void LoopbackForwarder::finish(Pair* pair, bool reset) {
  ++(reset ? stats_.reset : stats_.completed);
  if (pair->flush_timer) loop_.cancel_timer(pair->flush_timer);
  pair->flush_timer = 0;
  for (int* fd : {&pair->ns, &pair->host}) {
    if (*fd < 0) continue;
    if (reset) {
      linger l{1, 0};
      ::setsockopt(*fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    // Accepted or made here, the socket is ours alone: closing it leaves the epoll set too.
    loop_.close_fd(*fd);
    *fd = -1;
  }
  for (Direction* d : {&pair->to_host, &pair->to_ns}) give_back_pipe(*d);
  if (budget_) budget_->release(pair->charged);
  auto it =
      std::find_if(pairs_.begin(), pairs_.end(), [pair](const auto& p) { return p.get() == pair; });
  if (it != pairs_.end()) {
    std::swap(*it, pairs_.back());
    pairs_.pop_back();
  }
}

}  // namespace synack::relay
