// SPDX-License-Identifier: MIT
// One relayed TCP connection: a connection of synack's stack (toward the namespace) joined to
// a kernel socket of the host (toward the real peer). Bytes flow both ways with
// back-pressure and nothing buffered here: the host socket is written straight from the
// stack's receive ring — or, for a large segment arriving while the ring is empty, straight
// from the packet (Stack::set_direct_reader) — and read straight into its send ring
// (Stack::receive_with/send_with, no copy of our own, issue 14 §2). What one side does not take
// stays where it is — the stack's receive window closes, or the host socket's buffer fills and the
// kernel's window closes. A FIN becomes shutdown(SHUT_WR) and end-of-file becomes a FIN; an RST
// becomes an abortive close (SO_LINGER 0) and a socket error becomes an RST, each after the
// bytes the failing side sent before it are delivered (as Linux's recv() returns queued data
// before ECONNRESET). The rings are the
// stack's, charged to its memory budget (issue 11 §4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "synack/event_loop.hpp"
#include "synack/stack.hpp"

namespace synack::relay {

struct SpliceStats {
  std::uint64_t bytes_to_host = 0;
  std::uint64_t bytes_to_guest = 0;
  // The host's end-of-file read with the last data (our FIN rides on its segment), or alone.
  std::uint64_t fin_with_data = 0;
  std::uint64_t fin_alone = 0;
  // Reads of a host socket that found nothing (EAGAIN before any byte): a system call spent.
  std::uint64_t host_reads_empty = 0;
};

class Splice {
 public:
  // `fd` is connected (or, for a port forward, accepted); the splice owns it. The stack
  // connection may still be handshaking: nothing flows until it reports Connected.
  // `on_done` runs once, when the splice finishes or fails (never from the destructor); the
  // owner must not destroy the splice inside it. `watch_handshake`: the socket is watched for
  // errors and hang-ups while the stack connection handshakes (a forward's accepted socket,
  // whose namespace side may take long to answer, or one still watched for its connect).
  // Without it the socket enters the epoll set only when the stack connection is Connected,
  // already watched for reading: one epoll_ctl instead of two for a connect that completed at
  // once (issue 14 §3; a failure meanwhile is met by that first read).
  Splice(Stack& stack, os::EventLoop& loop, ConnectionId conn, int fd, SpliceStats& stats,
         std::function<void(ConnectionId)> on_done, bool watch_handshake = true);
  ~Splice();
  Splice(const Splice&) = delete;
  Splice& operator=(const Splice&) = delete;

  void on_stack_event(std::uint8_t events);
  // Tears both sides down at once (RST toward the namespace, abortive close toward the host).
  void abort();
  // Both directions ended with FINs (not by an RST or an error).
  bool clean() const { return clean_; }
  // Bytes from the namespace not yet delivered to the host's peer: unread in the stack, or still in
  // the host socket's send queue (unsent or unacknowledged). An abortive close drops them.
  std::uint64_t bytes_held_to_host() const;

 private:
  void on_fd_event(std::uint32_t events);
  // read_host false: the host socket is not read now — epoll watches it for input (a stack
  // event, such as the namespace's request, says nothing about the host socket).
  void pump(bool read_host = true);
  std::size_t send_to_host(std::span<const std::byte> bytes, int& error);
  bool guest_to_host();  // false: failed (the splice is done)
  bool host_to_guest();
  void fail_host(int error);  // the host socket failed before the handshake: RST at once
  void host_failed();         // it failed later: what it held goes first, then the RST
  void drain_then_reset_guest();
  void drain_then_reset_host();  // the namespace reset: the ring to the host, then the RST
  void fail_guest();             // the stack connection failed: abortive close toward the host
  void begin_flush();            // the stack's side reset: the host socket delivers, then the RST
  void flush_then_reset();       // ... once the host socket has delivered what it holds
  void finish();                 // both directions ended cleanly
  void close_fd(bool abortive);
  void update_interest();
  void mark_done();
  // The stack's send ring cannot be allocated (budget short): retried on a timer, since no
  // ACK will bring a Writable event.
  void wait_for_memory();

  Stack& stack_;
  os::EventLoop& loop_;
  ConnectionId conn_;
  int fd_;
  SpliceStats& stats_;
  std::function<void(ConnectionId)> on_done_;

  bool host_full_ = false;  // the host socket took less than offered: wait for EPOLLOUT
  bool established_ = false;
  bool guest_eof_ = false;     // the namespace's FIN read
  bool host_shut_ = false;     // shutdown(SHUT_WR) done
  bool host_eof_ = false;      // end-of-file read from the socket
  bool guest_shut_ = false;    // our FIN toward the namespace queued
  bool guest_closed_ = false;  // the stack's side ended after both FINs: only its ring is left
  bool done_ = false;
  bool clean_ = false;
  // The namespace reset after its FIN: the host socket delivers the rest of its stream
  // (polled; at most kFlushLimit), then is closed abortively.
  static constexpr Duration kFlushLimit = 60s;
  bool flushing_ = false;
  // The host socket failed while established (host_failed()): its data, then the RST.
  bool host_failed_ = false;
  // The stack connection was reset while established (fail_guest()): its ring, then the RST.
  bool guest_failed_ = false;
  Instant flush_start_{};
  os::EventLoop::TimerId flush_timer_ = 0;
  bool host_hangup_ = false;  // EPOLLRDHUP seen: the host's FIN is behind the data
  // Short reads that may still ask again for an end-of-file the event did not show yet
  // (host_to_guest); each that finds nothing spends one.
  static constexpr std::uint8_t kEofProbes = 3;
  std::uint8_t eof_probes_left_ = kEofProbes;
  std::uint32_t interest_ = 0;
  bool registered_ = false;
  MemoryBudget* budget_ = nullptr;
  os::EventLoop::TimerId memory_timer_ = 0;
  // Large in-order segments from the namespace, sent to the host socket straight from the
  // packet (Stack::set_direct_reader): no copy through the receive ring (issue 14 §2).
  BufferReader direct_;
};

}  // namespace synack::relay
