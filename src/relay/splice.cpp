// SPDX-License-Identifier: MIT
// A relayed connection: the stack's connection <-> a host socket.
#include "relay/splice.hpp"

#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace synack::relay {
namespace {

// What one read from the stack may take while the memory budget is exhausted: a chunk left
// over when the host socket fills is charged even beyond the budget, so it is kept small.
constexpr std::size_t kPressureChunk = 4 * 1024;
// How often a splice whose stack send ring the budget cannot hold tries again.
constexpr Duration kMemoryRetry = 100ms;

}  // namespace

Splice::Splice(Stack& stack, os::EventLoop& loop, ConnectionId conn, int fd,
               std::span<std::byte> scratch, SpliceStats& stats,
               std::function<void(ConnectionId)> on_done)
    : stack_(stack),
      loop_(loop),
      conn_(conn),
      fd_(fd),
      scratch_(scratch),
      stats_(stats),
      on_done_(std::move(on_done)),
      budget_(stack.memory_budget()) {
  // Whatever it is waiting for, a host socket that fails must be noticed.
  update_interest();
}

Splice::~Splice() {
  on_done_ = nullptr;
  if (!done_) abort();
  if (flush_timer_) loop_.cancel_timer(flush_timer_);
  if (memory_timer_) loop_.cancel_timer(memory_timer_);
  if (budget_) budget_->release(charged_);
}

void Splice::account() {
  if (to_host_.empty() && to_host_.capacity()) std::vector<std::byte>().swap(to_host_);
  if (to_guest_.empty() && to_guest_.capacity()) std::vector<std::byte>().swap(to_guest_);
  if (!budget_) return;
  const std::size_t now_held = to_host_.capacity() + to_guest_.capacity();
  if (now_held > charged_)
    budget_->charge(now_held - charged_);
  else
    budget_->release(charged_ - now_held);
  charged_ = now_held;
}

void Splice::wait_for_memory() {
  if (memory_timer_ || !budget_) return;
  memory_timer_ = loop_.call_at(loop_.now() + kMemoryRetry, [this] {
    memory_timer_ = 0;
    pump();
  });
}

void Splice::mark_done() {
  done_ = true;
  if (on_done_) on_done_(conn_);
}

void Splice::on_stack_event(std::uint8_t events) {
  if (done_ || flushing_) return;
  if (events & (tcp::event::Reset | tcp::event::Closed)) {
    // The namespace reset the connection, or it died (retransmissions ran out).
    fail_guest();
    return;
  }
  if (events & tcp::event::Connected) established_ = true;
  pump();
}

void Splice::on_fd_event(std::uint32_t events) {
  if (done_) return;
  if (flushing_) {
    // Only an error matters now (the host's peer reset): nothing is left to deliver.
    if (events & EPOLLERR) flush_then_reset();
    return;
  }
  if (events & EPOLLERR) {
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len);
    fail_host(error ? error : ECONNRESET);
    return;
  }
  if (events & (EPOLLRDHUP | EPOLLHUP)) host_hangup_ = true;
  if (!established_ && (events & EPOLLHUP)) {
    fail_host(ECONNRESET);
    return;
  }
  pump();
}

void Splice::pump() {
  if (done_) return;
  if (established_) {
    bool ok = guest_to_host() && host_to_guest();
    account();
    if (!ok) return;
    if (guest_eof_ && host_shut_ && host_eof_ && guest_shut_ && to_host_.empty()) {
      finish();
      return;
    }
  }
  update_interest();
}

bool Splice::guest_to_host() {
  while (true) {
    if (!to_host_.empty()) {
      ssize_t n = ::send(fd_, to_host_.data(), to_host_.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return true;
        fail_host(errno);
        return false;
      }
      stats_.bytes_to_host += static_cast<std::uint64_t>(n);
      to_host_.erase(to_host_.begin(), to_host_.begin() + n);
      if (!to_host_.empty()) return true;  // the socket is full: wait for EPOLLOUT
    }
    if (guest_eof_) {
      if (!host_shut_) {
        ::shutdown(fd_, SHUT_WR);  // the namespace's FIN, passed on
        host_shut_ = true;
      }
      return true;
    }
    // What the host socket does not take is held in to_host_ and charged: read no more than
    // the budget has left (at least kPressureChunk, the most a splice exceeds it by).
    std::span<std::byte> buf = scratch_;
    if (budget_)
      buf = buf.first(std::min(buf.size(), std::max(budget_->available(), kPressureChunk)));
    auto got = stack_.receive(conn_, buf, loop_.now());
    if (!got) {
      if (got.error() == Error::WouldBlock) return true;
      fail_guest();
      return false;
    }
    if (*got == 0) {
      guest_eof_ = true;
      continue;
    }
    ssize_t n = ::send(fd_, buf.data(), *got, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        fail_host(errno);
        return false;
      }
      n = 0;
    }
    stats_.bytes_to_host += static_cast<std::uint64_t>(n);
    if (static_cast<std::size_t>(n) < *got) {
      // Back-pressure: hold the rest; the stack is not read again until it is written, so
      // its receive window closes as the namespace keeps sending.
      to_host_.assign(buf.begin() + n, buf.begin() + static_cast<std::ptrdiff_t>(*got));
      return true;
    }
  }
}

bool Splice::host_to_guest() {
  const Instant now = loop_.now();
  while (true) {
    if (!to_guest_.empty()) {
      auto taken = stack_.send(conn_, to_guest_, now);
      if (!taken) {
        if (taken.error() == Error::WouldBlock) return true;
        fail_guest();
        return false;
      }
      stats_.bytes_to_guest += *taken;
      to_guest_.erase(to_guest_.begin(), to_guest_.begin() + static_cast<std::ptrdiff_t>(*taken));
      if (!to_guest_.empty()) return true;
    }
    if (host_eof_) break;
    // Read no more than the stack takes: the rest stays in the host socket, whose window
    // closes toward the real peer.
    std::uint32_t space = stack_.send_space(conn_).value_or(0);
    if (space == 0) {
      // A Writable event resumes us, unless the ring is empty for want of memory.
      if (budget_ && stack_.status(conn_).value_or(ConnectionStatus{}).send_queue == 0)
        wait_for_memory();
      return true;
    }
    std::size_t want = std::min<std::size_t>(space, scratch_.size());
    ssize_t n = ::recv(fd_, scratch_.data(), want, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      fail_host(errno);
      return false;
    }
    if (n == 0) {
      host_eof_ = true;
      break;
    }
    bool eof_follows = false;
    if (host_hangup_ && static_cast<std::size_t>(n) < want) {
      // The host's peer has finished: read on to its end-of-file now, so that our FIN
      // leaves on the same segment as the last data (a client that has read a complete
      // reply and closes then sees our FIN first, and TIME-WAIT stays on our side).
      ssize_t more = ::recv(fd_, scratch_.data() + n, want - static_cast<std::size_t>(n), 0);
      if (more > 0)
        n += more;
      else if (more == 0)
        eof_follows = true;
    }
    auto data = scratch_.first(static_cast<std::size_t>(n));
    auto taken = eof_follows ? stack_.send_last(conn_, data, now) : stack_.send(conn_, data, now);
    if (taken && eof_follows && *taken == data.size()) {
      stats_.bytes_to_guest += *taken;
      host_eof_ = true;
      guest_shut_ = true;
      break;
    }
    if (eof_follows) host_eof_ = true;  // the rest is queued below, then the FIN
    if (!taken) {
      fail_guest();
      return false;
    }
    stats_.bytes_to_guest += *taken;
    if (*taken < data.size()) {
      to_guest_.assign(data.begin() + static_cast<std::ptrdiff_t>(*taken), data.end());
    } else if (!host_eof_ && static_cast<std::size_t>(n) < want) {
      // A short read drained the socket: asking again would only say EAGAIN (a system call
      // per reply saved); the level-triggered epoll wakes us when more arrives.
      return true;
    }
  }
  if (to_guest_.empty() && !guest_shut_) {
    // End of file from the host: our FIN toward the namespace, after the queued data.
    (void)stack_.shutdown_write(conn_, now);
    guest_shut_ = true;
  }
  return true;
}

void Splice::fail_host(int) {
  // An error on the host socket (ECONNRESET, say): RST toward the namespace.
  (void)stack_.abort(conn_, loop_.now());
  close_fd(false);
  mark_done();
}

void Splice::fail_guest() {
  if (guest_eof_ && host_shut_ && to_host_.empty() && fd_ >= 0) {
    // The namespace reset after its FIN — CMD's kernel does so when data arrives for a socket
    // CMD has closed — and its whole stream is in the host socket already. End to end, the
    // peer would have had that data before the RST: let the host socket deliver it first.
    (void)stack_.abort(conn_, loop_.now());
    flushing_ = true;
    flush_start_ = loop_.now();
    if (registered_) (void)loop_.modify_fd(fd_, 0);  // errors and hang-ups only
    interest_ = 0;
    flush_then_reset();
    return;
  }
  // The namespace reset (or the connection died): an abortive close sends the host's peer
  // an RST too.
  close_fd(true);
  (void)stack_.abort(conn_, loop_.now());
  mark_done();
}

void Splice::flush_then_reset() {
  flush_timer_ = 0;
  int queued = 0;
  int error = 0;
  socklen_t len = sizeof error;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len);
  bool pending = error == 0 && ::ioctl(fd_, SIOCOUTQ, &queued) == 0 && queued > 0;
  if (pending && loop_.now() - flush_start_ < kFlushLimit) {
    flush_timer_ = loop_.call_at(loop_.now() + 10ms, [this] { flush_then_reset(); });
    return;
  }
  close_fd(true);  // delivered (or given up): now the RST
  mark_done();
}

void Splice::abort() {
  if (done_) return;
  if (flush_timer_) loop_.cancel_timer(flush_timer_);
  flush_timer_ = 0;
  close_fd(true);
  (void)stack_.abort(conn_, loop_.now());
  mark_done();
}

std::uint64_t Splice::bytes_held_to_host() const {
  std::uint64_t held = to_host_.size();
  if (auto st = stack_.status(conn_)) held += st->receive_queue;
  int queued = 0;
  if (fd_ >= 0 && ::ioctl(fd_, SIOCOUTQ, &queued) == 0 && queued > 0)
    held += static_cast<std::uint64_t>(queued);
  return held;
}

void Splice::finish() {
  clean_ = true;
  close_fd(false);
  (void)stack_.close(conn_, loop_.now());  // both FINs done: the stack finishes the close
  mark_done();
}

void Splice::close_fd(bool abortive) {
  if (fd_ < 0) return;
  if (registered_) loop_.remove_fd(fd_);
  registered_ = false;
  if (abortive) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd_);
  fd_ = -1;
}

void Splice::update_interest() {
  if (fd_ < 0) return;
  std::uint32_t want = 0;
  if (established_) {
    if (!host_eof_ && to_guest_.empty() && stack_.send_space(conn_).value_or(0) > 0)
      want |= EPOLLIN | EPOLLRDHUP;
    if (!to_host_.empty()) want |= EPOLLOUT;
  }
  // Before the handshake completes the socket is watched with no events at all: epoll still
  // reports an error or hang-up, which is all we want to know then.
  if (want == 0 && established_) {
    // Nothing to wait for on the socket: out of the epoll set, so that a hang-up cannot
    // wake us again and again while the stack side holds us back.
    if (registered_) loop_.remove_fd(fd_);
    registered_ = false;
    interest_ = 0;
    return;
  }
  if (registered_) {
    if (want != interest_) (void)loop_.modify_fd(fd_, want);
  } else {
    registered_ =
        loop_.add_fd(fd_, want, [this](std::uint32_t ev) { on_fd_event(ev); }).has_value();
  }
  interest_ = want;
}

}  // namespace synack::relay
