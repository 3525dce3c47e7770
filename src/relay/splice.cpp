// SPDX-License-Identifier: MIT
// A relayed connection: the stack's connection <-> a host socket.
#include "relay/splice.hpp"

#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "relay/flush_poll.hpp"

namespace synack::relay {
namespace {

// How often a splice whose stack send ring the budget cannot hold tries again.
constexpr Duration kMemoryRetry = 100ms;
// Rounds of host reads per pump: each fills the free send ring; the bound keeps one busy
// connection from holding the loop (the level-triggered epoll brings us back).
constexpr int kReadRounds = 4;
// The smallest segment sent to the host straight from the packet. A send() per small segment
// costs more than copying it into the ring and sending many at once; one per large segment
// (a TUN with a 64 KiB MTU) saves the copy and costs no more system calls.
constexpr std::size_t kDirectMin = 16 * 1024;

}  // namespace

Splice::Splice(Stack& stack, os::EventLoop& loop, ConnectionId conn, int fd, SpliceStats& stats,
               std::function<void(ConnectionId)> on_done, bool watch_handshake)
    : stack_(stack),
      loop_(loop),
      conn_(conn),
      fd_(fd),
      stats_(stats),
      on_done_(std::move(on_done)),
      budget_(stack.memory_budget()) {
  direct_ = [this](std::span<const std::byte> bytes) -> std::size_t {
    // Called from inside the stack's input: only the socket is touched here. A socket that is
    // full or failing takes nothing (or less than offered); the rest goes to the ring, whose
    // Readable event brings guest_to_host(), which meets the same condition and handles it.
    if (bytes.size() < kDirectMin || host_full_ || host_shut_ || fd_ < 0) return 0;
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return 0;
    stats_.bytes_to_host += static_cast<std::uint64_t>(n);
    return static_cast<std::size_t>(n);
  };
  // Whatever it is waiting for, a host socket that fails must be noticed (see the header for
  // the connect that completed at once).
  if (watch_handshake) update_interest();
}

Splice::~Splice() {
  on_done_ = nullptr;
  if (!done_) abort();
  if (flush_timer_) loop_.cancel_timer(flush_timer_);
  if (memory_timer_) loop_.cancel_timer(memory_timer_);
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
  if (flush_timer_) loop_.cancel_timer(flush_timer_);
  flush_timer_ = 0;
  if (on_done_) on_done_(conn_);
}

void Splice::on_stack_event(std::uint8_t events) {
  if (done_ || flushing_) return;
  if ((events & tcp::event::Connected) && !established_) {
    // First, even when the same batch of segments reset the connection: what came with the
    // handshake is still passed on (fail_guest()).
    established_ = true;
    (void)stack_.set_direct_reader(conn_, &direct_);  // cleared by the stack's close or abort
  }
  if (events & (tcp::event::Reset | tcp::event::Closed)) {
    // Closed without Reset: the connection ended after both FINs — TIME-WAIT, CLOSING or
    // LAST-ACK cut short by an RST (RFC 9293 §3.10.7.4 "enter the CLOSED state", no error),
    // as CMD's kernel sends when our ACK of a FIN it retransmitted meets a socket it has
    // already freed. Everything the namespace sent, and its FIN, is in the receive ring:
    // passed on first, and if both directions are complete the splice finishes cleanly.
    // (pump() drains it, waiting for the host socket's room if it must.)
    if (!(events & tcp::event::Reset) && established_) {
      guest_closed_ = true;
      pump();
      return;
    }
    // The namespace reset the connection, or it died (retransmissions ran out).
    fail_guest();
    return;
  }
  // Data from the namespace, or room in the send ring. A read of the host socket right after
  // passing on a request would nearly always find the reply not there yet (EAGAIN: a system
  // call per keep-alive request, measured 1.95 recvfrom per request); when epoll watches the
  // socket for input (level-triggered), its next wait reports what arrives, so the socket is
  // read here only when it is not watched for input: the send ring was full, or the
  // connection was just established.
  pump(!registered_ || !(interest_ & EPOLLIN));
}

void Splice::on_fd_event(std::uint32_t events) {
  if (done_) return;
  if (flushing_) {
    // Only an error matters now (the host's peer reset): nothing is left to deliver.
    if (events & EPOLLERR) flush_then_reset();
    return;
  }
  if (guest_failed_ && (events & EPOLLERR)) {
    abort();  // both sides failed: nothing more can be delivered
    return;
  }
  if (events & EPOLLERR) {
    if (established_) {
      // Reset by the host's peer, say. What the socket received before is still readable
      // (recv() returns it before the error): host_failed() passes it on first.
      host_failed();
      return;
    }
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len);
    fail_host(error ? error : ECONNRESET);
    return;
  }
  if (events & EPOLLOUT) host_full_ = false;
  if (events & (EPOLLRDHUP | EPOLLHUP)) host_hangup_ = true;
  if (!established_ && (events & EPOLLHUP)) {
    fail_host(ECONNRESET);
    return;
  }
  pump();
}

void Splice::pump(bool read_host) {
  if (done_) return;
  if (host_failed_) {
    drain_then_reset_guest();
    return;
  }
  if (guest_failed_) {
    drain_then_reset_host();
    return;
  }
  if (established_ && guest_closed_) {
    // Only the receive ring is left of the stack's side (on_stack_event): once it and the
    // namespace's FIN have reached the host socket, done.
    if (!guest_to_host()) return;
    if (guest_eof_) {
      finish();
      return;
    }
  } else if (established_) {
    if (!guest_to_host() || (read_host && !host_to_guest())) return;
    if (guest_eof_ && host_shut_ && host_eof_ && guest_shut_) {
      finish();
      return;
    }
  }
  update_interest();
}

// What the host socket takes of `bytes`; host_full_ when it took less, `error` when it failed.
std::size_t Splice::send_to_host(std::span<const std::byte> bytes, int& error) {
  ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR)
      host_full_ = true;
    else
      error = errno;
    return 0;
  }
  if (static_cast<std::size_t>(n) < bytes.size()) host_full_ = true;
  return static_cast<std::size_t>(n);
}

bool Splice::guest_to_host() {
  // Straight from the stack's receive ring into the host socket (no copy of our own): what
  // the socket does not take stays in the ring, whose window closes as the namespace keeps
  // sending, until EPOLLOUT says the socket has room. Asked again after a read that took
  // everything, to see the FIN behind the data (0: end of stream) or data that arrived
  // meanwhile.
  for (int round = 0; round < kReadRounds && !guest_eof_ && !host_full_; ++round) {
    int error = 0;
    auto sent = stack_.receive_with(
        conn_, [&](std::span<const std::byte> bytes) { return send_to_host(bytes, error); },
        loop_.now());
    if (error) {
      host_failed();
      return false;
    }
    if (!sent) {
      if (sent.error() == Error::WouldBlock) break;
      fail_guest();
      return false;
    }
    stats_.bytes_to_host += *sent;
    if (*sent == 0) guest_eof_ = true;  // the namespace's FIN, after every byte
  }
  if (guest_eof_ && !host_shut_) {
    // The namespace's FIN, passed on. When the host's side has finished already (its
    // end-of-file read, our FIN queued), pump() finishes the splice right after this, and
    // finish()'s close() sends the FIN itself (after anything still queued; the receive queue
    // is empty, so no RST): one system call per short connection saved.
    if (!(host_eof_ && guest_shut_)) ::shutdown(fd_, SHUT_WR);
    host_shut_ = true;
  }
  return true;
}

bool Splice::host_to_guest() {
  const Instant now = loop_.now();
  for (int round = 0; round < kReadRounds && !host_eof_; ++round) {
    // Straight from the host socket into the stack's send ring: no more than the ring has
    // room for, so the rest stays in the host socket, whose window closes toward the real
    // peer.
    int error = 0;
    bool drained = false;
    auto taken = stack_.send_with(
        conn_,
        [&](std::span<std::byte> space, bool& last) -> std::size_t {
          std::size_t got = 0;
          while (got < space.size()) {
            ssize_t n = ::recv(fd_, space.data() + got, space.size() - got, MSG_DONTWAIT);
            if (n > 0) {
              got += static_cast<std::size_t>(n);
              // A short read drained the socket: asking again would usually say EAGAIN, a
              // system call per reply — unless the host's peer has finished. Then reading on to
              // its end-of-file now lets our FIN leave on the same segment as the last data (a
              // client that has read a complete reply and closes then sees our FIN first, and
              // TIME-WAIT stays on our side). EPOLLRDHUP says so when the FIN was there at
              // epoll_wait; a server that writes its reply and closes at once (HTTP's
              // `Connection: close`) has often sent its FIN by the time we read, after the
              // event was reported (measured: nearly every FIN that left alone was in the
              // socket at the short read). So the first kEofProbes short reads of a connection
              // ask once more; a keep-alive connection spends them on its first replies and
              // then saves the system call for good.
              if (got < space.size() && !host_hangup_ && eof_probes_left_ == 0) {
                drained = true;
                break;
              }
              continue;
            }
            if (n == 0) {
              // Whether our FIN can ride on the last data segment (relay_fin_with_data).
              ++(got ? stats_.fin_with_data : stats_.fin_alone);
              host_eof_ = true;
              last = true;
            } else if (errno == EAGAIN || errno == EINTR) {
              if (got > 0 && eof_probes_left_ > 0)
                --eof_probes_left_;  // a probe that found nothing
              if (got == 0) ++stats_.host_reads_empty;
              drained = true;
            } else {
              error = errno;
            }
            break;
          }
          return got;
        },
        now);
    if (!taken) {
      fail_guest();
      return false;
    }
    stats_.bytes_to_guest += *taken;
    if (error) {
      // Every byte the socket held came before the error (tcp_recvmsg() returns queued data
      // first): nothing more to read.
      close_fd(false);
      if (!host_failed_) host_failed();
      return false;
    }
    if (drained) break;
    if (*taken == 0 && !host_eof_) {
      // The send ring is full: a Writable event resumes us, unless the ring is empty for want
      // of memory (then no ACK will come to say so).
      if (budget_ && stack_.status(conn_).value_or(ConnectionStatus{}).send_queue == 0)
        wait_for_memory();
      break;
    }
  }
  if (host_eof_ && !guest_shut_) {
    // End of file from the host: our FIN toward the namespace, after the queued data (the
    // writer's `last` already queued it when the connection was ESTABLISHED or CLOSE-WAIT;
    // then this says ShutDown and changes nothing).
    (void)stack_.shutdown_write(conn_, now);
    guest_shut_ = true;
  }
  return true;
}

void Splice::fail_host(int) {
  // An error on the host socket before the stack connection was established: RST toward the
  // namespace.
  (void)stack_.abort(conn_, loop_.now());
  close_fd(false);
  mark_done();
}

// The host socket failed (its peer reset, or an error) while the stack connection is
// established. What the relay took from the host's peer it has acknowledged, as a kernel
// receiver would have; end to end, the namespace would have received those bytes before the
// RST (a Linux reader gets them before ECONNRESET). So: the socket is read to its error (it may
// hold more than the send ring takes at once; the stack's Writable events bring us back, the
// socket out of the epoll set so that its error cannot wake us again and again), the send ring
// is delivered and acknowledged, and then the RST goes (at most kFlushLimit after the failure).
// What the namespace still sends is not read: the host side is gone.
void Splice::host_failed() {
  if (host_failed_ || done_) return;
  host_failed_ = true;
  flush_start_ = loop_.now();
  if (fd_ >= 0 && registered_) loop_.remove_fd(fd_);
  registered_ = false;
  interest_ = 0;
  flush_timer_ = loop_.call_at(flush_start_ + kFlushLimit, [this] {
    flush_timer_ = 0;
    close_fd(false);
    (void)stack_.abort(conn_, loop_.now());  // given up: the RST now
    mark_done();
  });
  drain_then_reset_guest();
}

void Splice::drain_then_reset_guest() {
  if (fd_ >= 0 && !host_eof_) host_to_guest();  // closes the socket once it reports the error
  if (done_) return;
  // Closed when the host's FIN came before the error, or when the socket had nothing to say
  // though the ring had room (no error to wait for: it is out of the epoll set).
  if (fd_ >= 0 && (host_eof_ || stack_.send_space(conn_).value_or(0) > 0)) close_fd(false);
  if (fd_ >= 0) return;  // more to read once the send ring has room (a Writable event)
  auto st = stack_.status(conn_);
  if (st && st->send_queue > 0 && st->state != State::Closed) return;  // an ACK brings us back
  if (flush_timer_) loop_.cancel_timer(flush_timer_);
  flush_timer_ = 0;
  (void)stack_.abort(conn_, loop_.now());  // delivered: now the RST
  mark_done();
}

void Splice::fail_guest() {
  if (guest_eof_ && host_shut_ && fd_ >= 0) {
    // The namespace reset after its FIN — CMD's kernel does so when data arrives for a socket
    // CMD has closed — and its whole stream is in the host socket already. End to end, the
    // peer would have had that data before the RST: let the host socket deliver it first.
    flush_start_ = loop_.now();
    begin_flush();
    return;
  }
  if (established_ && fd_ >= 0 && !host_failed_) {
    // The namespace reset mid-stream. What it sent before, we acknowledged, as a kernel
    // receiver would have, and a Linux reader would get it before ECONNRESET: the receive ring
    // goes to the host socket first (the stack keeps it readable after the RST), then the
    // socket's own queue is flushed, and then the host's peer gets the RST.
    guest_failed_ = true;
    flush_start_ = loop_.now();  // the whole of it bounded by kFlushLimit
    flush_timer_ = loop_.call_at(flush_start_ + kFlushLimit, [this] {
      flush_timer_ = 0;
      abort();  // the host's peer took nothing for that long: given up
    });
    drain_then_reset_host();
    return;
  }
  // The namespace reset (or the connection died) before anything could flow: an abortive
  // close sends the host's peer an RST too.
  close_fd(true);
  (void)stack_.abort(conn_, loop_.now());
  mark_done();
}

void Splice::drain_then_reset_host() {
  bool ring_empty = false;
  while (!host_full_ && !ring_empty) {
    int error = 0;
    auto sent = stack_.receive_with(
        conn_, [&](std::span<const std::byte> bytes) { return send_to_host(bytes, error); },
        loop_.now());
    if (error) break;  // the host side failed as well: nothing can be delivered
    if (!sent) {
      // WouldBlock: the socket took none of it (host_full_); otherwise the reset itself, which
      // RECEIVE reports once the ring is empty.
      ring_empty = sent.error() != Error::WouldBlock;
    } else if (*sent == 0) {
      ring_empty = true;  // the namespace's FIN, then its RST
    } else {
      stats_.bytes_to_host += *sent;
    }
  }
  if (!ring_empty && host_full_) {
    update_interest();  // EPOLLOUT brings us back
    return;
  }
  // Delivered to the socket (or it failed): now as after a FIN, the socket's queue, then RST
  // (within what is left of kFlushLimit).
  if (flush_timer_) loop_.cancel_timer(flush_timer_);
  flush_timer_ = 0;
  begin_flush();
}

// The stack's side is done with (reset): the host socket delivers what it holds (polled from
// flush_start_, at most kFlushLimit), then is closed abortively.
void Splice::begin_flush() {
  (void)stack_.abort(conn_, loop_.now());
  flushing_ = true;
  if (registered_) (void)loop_.modify_fd(fd_, 0);  // errors and hang-ups only
  interest_ = 0;
  flush_then_reset();
}

void Splice::flush_then_reset() {
  flush_timer_ = 0;
  int queued = 0;
  int error = 0;
  socklen_t len = sizeof error;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len);
  bool pending = error == 0 && ::ioctl(fd_, SIOCOUTQ, &queued) == 0 && queued > 0;
  if (pending && loop_.now() - flush_start_ < kFlushLimit) {
    flush_timer_ = loop_.call_at(loop_.now() + flush_poll_delay(loop_.now() - flush_start_),
                                 [this] { flush_then_reset(); });
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
  std::uint64_t held = 0;
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
  if (abortive) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  // The socket is ours alone (made or accepted here): its close leaves the epoll set too, and
  // the loop forgets any handler it had (ours, or the relay's for the connect).
  loop_.close_fd(fd_);
  registered_ = false;
  fd_ = -1;
}

void Splice::update_interest() {
  if (fd_ < 0) return;
  std::uint32_t want = 0;
  if (guest_failed_) {
    if (host_full_) want = EPOLLOUT;  // room for the rest of the receive ring
  } else if (established_) {
    if (!host_eof_ && stack_.send_space(conn_).value_or(0) > 0) want |= EPOLLIN | EPOLLRDHUP;
    if (host_full_ && !guest_eof_) want |= EPOLLOUT;
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
    // interest_ says what epoll watches (on_stack_event() trusts it not to read the socket
    // itself): kept as it was if the change failed.
    if (want != interest_ && !loop_.modify_fd(fd_, want)) return;
  } else {
    // The relay may hand over the socket still watched for its connect: replaced, not re-added.
    registered_ =
        loop_.replace_fd(fd_, want, [this](std::uint32_t ev) { on_fd_event(ev); }).has_value();
  }
  interest_ = want;
}

}  // namespace synack::relay
