// SPDX-License-Identifier: MIT
// pasta's -T (`synack run -T PORT[:HOSTPORT]`): connections to a port on the loopback of CMD's
// namespace go to the same (or another) port on the host's loopback, carried by the kernel
// on both sides. CMD's namespace holds the listening socket (made there by the sandbox child
// and passed up); each accepted connection gets a connected host socket and two pipes, and
// splice(2) moves the bytes socket -> pipe -> socket without copying them through user
// space. No TCP of synack's is involved: this is a faster path than the TUN for what CMD
// reaches on its own 127.0.0.1, as pasta's splice path is, and it is what
// `make bench-usermode` compares with pasta's (docs/performance.md).
//
// Bounded: at most max_connections at once (further ones are accepted and closed with a
// reset, counted); each direction's pipe starts at 64 KiB and grows (to pipe_bytes) only while
// a flow fills it, and what the pipes can hold is charged to the memory budget (--max-memory)
// like the relay's rings — a connection the budget cannot take is reset and counted. A host
// port with nothing listening closes the namespace's connection with a reset, as a refused
// connection to 127.0.0.1 would. When accept() runs out of descriptors the listeners rest for
// 100 ms instead of waking the loop for ever. Pipes that end empty at their first size are
// kept (at most 64) for the next connections, and let go when descriptors run short: a short
// connection then costs 8 system calls fewer (two pipe2, two fcntl, four close; stats pipes_made
// and pipes_reused).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "synack/event_loop.hpp"
#include "synack/memory_budget.hpp"

namespace synack::relay {

struct LoopbackForward {
  int listener = -1;            // listening socket in CMD's namespace (ours to close)
  std::uint16_t ns_port = 0;    // what it listens on, for messages
  std::uint16_t host_port = 0;  // connections go to 127.0.0.1:host_port (::1 for IPv6)
  bool ipv6 = false;
};

struct LoopbackForwardStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_limit = 0;   // over max_connections: reset at once
  std::uint64_t refused_memory = 0;  // the memory budget could not take its pipes: reset
  std::uint64_t accept_paused = 0;   // accept() out of descriptors or memory: listeners rested
  std::uint64_t host_refused = 0;    // the host's connect failed: reset
  std::uint64_t completed = 0;       // both directions ended with a FIN
  std::uint64_t reset = 0;           // ended by a reset: an error on either side, or refused
  std::uint64_t bytes_to_host = 0;
  std::uint64_t bytes_to_namespace = 0;
  std::uint64_t pipes_made = 0;    // pipe2() for a connection's direction
  std::uint64_t pipes_reused = 0;  // an empty pipe of an earlier connection taken instead
};

class LoopbackForwarder {
 public:
  struct Limits {
    std::size_t max_connections = 4096;
    std::size_t pipe_bytes = 1 << 20;  // the most a direction's pipe grows to
  };
  // `budget` may be null (no bound but max_connections); it must outlive the forwarder.
  LoopbackForwarder(os::EventLoop& loop, std::vector<LoopbackForward> forwards, Limits limits,
                    MemoryBudget* budget);
  ~LoopbackForwarder();
  LoopbackForwarder(const LoopbackForwarder&) = delete;
  LoopbackForwarder& operator=(const LoopbackForwarder&) = delete;

  // Watches the listeners. Errors: errno from epoll_ctl.
  Expected<void, int> start();
  // CMD has exited: no new connections; the ones open finish on their own.
  void close_listeners();
  // Connections still open.
  std::size_t active() const { return pairs_.size(); }
  // Resets what is left (the drain timeout): how many, and the bytes that were on their way
  // to the host (in the pipes; what CMD's kernel still held is not known here).
  struct Aborted {
    std::size_t connections = 0;
    std::uint64_t bytes_to_host = 0;
  };
  Aborted abort_all();
  const LoopbackForwardStats& stats() const { return stats_; }

 private:
  struct Direction;
  struct Pair;
  void on_accept(const LoopbackForward& forward);
  void pause_accepting();
  void on_event(Pair* pair, bool host_side, std::uint32_t events);
  enum class Pumped { Ok, SourceFailed, DestinationFailed };
  Pumped pump(Pair* pair, Direction& d, int src, int dst);
  static ssize_t splice_in(Direction& d, int src);
  static ssize_t splice_out(Direction& d, int dst);
  void fail(Pair* pair, bool host_failed);
  void drain_failed(Pair* pair);
  void flush_failed(Pair* pair);
  void grow(Pair* pair, Direction& d);
  bool watch(Pair* pair, bool host_side, std::uint32_t events);
  void finish(Pair* pair, bool reset);
  // A pipe for a direction: a spare one when there is one. False: out of descriptors.
  bool take_pipe(Direction& d);
  // An ended pair's pipe: kept as a spare when empty and at its first size, else closed.
  void give_back_pipe(Direction& d);
  void release_spare_pipes();

  os::EventLoop& loop_;
  std::vector<LoopbackForward> forwards_;
  Limits limits_;
  MemoryBudget* budget_;
  bool closed_ = false;
  os::EventLoop::TimerId resume_timer_ = 0;
  std::vector<std::unique_ptr<Pair>> pairs_;
  struct SparePipe {
    int r = -1, w = -1;
    std::size_t cap = 0;
  };
  std::vector<SparePipe> spare_pipes_;  // at most kSparePipes (loopback_forward.cpp)
  LoopbackForwardStats stats_;
};

}  // namespace synack::relay
