// SPDX-License-Identifier: MIT
// The driver for a Stack on a real TUN device: one thread, one epoll set.
//
//   TUN readable  -> read up to read_batch packets -> stack.receive_packet(bytes, now)
//   after every batch, timer run and application callback: stack events -> the app's handler,
//   then stack.pop_packet() -> TUN (a bounded queue and EPOLLOUT when the kernel pushes back);
//   TCP packets mostly leave earlier, written with writev() as the stack builds them
//   (Options::gather_writes, Stack::set_packet_writer)
//   timers        -> epoll_pwait2's timeout from stack.next_deadline() and the app's timers
//   SIGINT/SIGTERM (signalfd) -> graceful stop: the app's shutdown hook closes its sockets,
//                    the loop runs until every connection has finished (TIME-WAIT counts as
//                    finished) or shutdown_grace passes (then it resets the connections the
//                    app still holds); a second signal stops at once.
//
// `now` is CLOCK_MONOTONIC as an Instant. Public API of libsynack-link (synack::link); see
// examples/tun_echo_server.cpp. Errors are values (Expected) where a call can fail; a function
// whose comment names no error cannot fail. Not thread-safe: one loop, one thread.
#pragma once

#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "synack/expected.hpp"
#include "synack/stack.hpp"
#include "synack/time.hpp"

namespace synack::capture {
class PcapWriter;
}  // namespace synack::capture

namespace synack::os {

class TunDevice;
class TunWriter;

// CLOCK_MONOTONIC in microseconds, as the core's Instant. Cannot fail (clock_gettime of a
// clock Linux always has).
Instant monotonic_now();
// Unix time (µs) minus monotonic time: what to add to an Instant to date it (pcap records).
// Cannot fail.
std::int64_t realtime_offset_us();

struct EventLoopStats {
  std::uint64_t wakeups = 0;
  std::uint64_t busy_polls = 0;         // epoll calls that polled instead of sleeping (busy_poll)
  std::uint64_t fd_changes = 0;         // epoll_ctl calls for add_fd/replace_fd/modify_fd/remove_fd
  std::uint64_t tun_write_blocked = 0;  // writes the kernel pushed back (TunDevice::pushed_back)
  std::uint64_t tun_output_drops = 0;   // packets dropped: output queue full (TCP recovers)
  std::uint64_t tun_output_queued_bytes = 0;  // bytes the output queue holds now
  std::uint64_t tun_write_errors = 0;         // other write errors (packet dropped)
  std::uint64_t tun_read_failed = 0;          // 1 once a TUN read failed: the TUN is no longer read
  // Options::write_thread: packets the thread wrote, and pushes refused for a full ring (the
  // packet waited in the stack or the output queue).
  std::uint64_t tun_thread_packets = 0;
  std::uint64_t tun_thread_full = 0;
};

// Blocks SIGINT and SIGTERM and ignores SIGPIPE for its lifetime, restoring both after. A
// program that must clean up after a stop (namespaces, interfaces) holds one around all of
// it, so that a signal arriving after the event loop is gone cannot kill it half-way: the
// loop's signalfd reads the signal when it is made. Neither constructor nor destructor can
// fail (pthread_sigmask and sigaction with valid arguments).
class SignalGuard {
 public:
  SignalGuard();
  ~SignalGuard();
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  sigset_t saved_mask_{};
  struct sigaction saved_sigpipe_ {};
};

class EventLoop : private PacketWriter {
 public:
  struct Options {
    std::size_t read_batch = 64;          // packets read from the TUN per wakeup
    std::size_t max_output_queue = 4096;  // packets held while the TUN refuses writes
    // ... and their bytes (what their buffers hold): 4,096 GSO packets of 64 KiB would be
    // 256 MiB outside every memory budget. Beyond either bound a packet is dropped, counted
    // (tun_output_drops), and TCP retransmits it.
    std::size_t max_output_queue_bytes = std::size_t{16} << 20;
    Duration shutdown_grace = 2s;  // how long a graceful stop may take
    // TCP packets are written as the stack builds them, headers and payload gathered by one
    // writev() (Stack::set_packet_writer): no user-space copy of the payload. Off: every
    // packet is copied whole into a buffer and written after the stack call (pop_packet).
    bool gather_writes = true;
    // After a wakeup that found work, poll (epoll with a zero timeout) instead of sleeping
    // for this long: a packet or request arriving meanwhile is taken without the wake-up
    // latency of a sleeping thread (tens of microseconds when it is woken from another CPU),
    // at the cost of the CPU spent polling. Zero: always sleep.
    Duration busy_poll = Duration::zero();
    // Packets that come in bursts (more than one per wakeup, or within 20 µs of the last) are
    // written to the TUN by a second thread, so that the kernel's work behind each write (the
    // receiving namespace's stack runs in the writer's context) overlaps the loop's own; a
    // lone packet is still written at once by the loop. About 1 MiB of packet slots.
    bool write_thread = false;
    // SIGINT/SIGTERM through a signalfd (and a SignalGuard). Off for a loop on a second thread
    // of a process whose first loop takes the signals: a signalfd reads the process's pending
    // signals, so two would race for each one.
    bool handle_signals = true;
  };
  // Sees every packet read from the TUN before the stack does; true: the filter took it (the
  // stack never sees it). The span is valid only during the call.
  using PacketFilter = std::function<bool(std::span<const std::byte> packet, bool checksum_ok)>;
  using FdHandler = std::function<void(std::uint32_t epoll_events)>;
  using SocketHandler = std::function<void(const SocketEvent&)>;
  using TimerHandler = std::function<void()>;
  using TimerId = std::uint64_t;

  // Holds a SignalGuard of its own (SIGINT and SIGTERM come through a signalfd instead).
  // Errors: a message when epoll or signalfd cannot be created.
  static Expected<std::unique_ptr<EventLoop>, std::string> create(Stack& stack, TunDevice& tun,
                                                                  Options options);
  ~EventLoop() override;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // The application: stack events, and what to do when asked to stop (close listeners and
  // connections; the loop then waits for them). Both run inside run().
  void on_socket_event(SocketHandler handler) { socket_handler_ = std::move(handler); }
  void on_shutdown(std::function<void()> hook) { shutdown_hook_ = std::move(hook); }
  // SIGINT/SIGTERM: when set and it returns true, the signal was dealt with (passed on to a
  // child, say) and the loop does not stop. `code` is the siginfo's si_code (SI_KERNEL for a
  // terminal's Ctrl-C, SI_USER for kill(2)).
  void on_signal(std::function<bool(int signal, int code)> handler) {
    signal_handler_ = std::move(handler);
  }

  // A read from the TUN failed (the interface was deleted, or its namespace is gone: EBADFD,
  // EIO...). The loop stops reading the TUN at once (it is taken out of the epoll set: a
  // failed TUN stays readable, and reading it again would spin) and calls the handler once;
  // without a handler it prints the error once and goes on with everything else.
  void on_tun_error(std::function<void(int error)> handler) {
    tun_error_handler_ = std::move(handler);
  }
  // `synack run --queues`: a packet of a flow that another queue's stack owns goes there
  // (relay/steering.hpp). Empty: every packet goes to this loop's stack.
  void set_packet_filter(PacketFilter filter) { packet_filter_ = std::move(filter); }
  // Extra descriptors (stdin, stdout...), level-triggered; the handler runs inside run() with
  // the epoll events. Errors: errno from epoll_ctl — EPERM for regular files and other
  // descriptors epoll cannot watch (always ready: the caller treats them so), EEXIST when `fd`
  // is watched already, EBADF for a closed descriptor.
  Expected<void, int> add_fd(int fd, std::uint32_t events, FdHandler handler);
  // Gives `fd` a new handler and events: a descriptor watched already is handed over with one
  // epoll_ctl (MOD) instead of remove_fd() + add_fd() (the relay's connect handler passing a
  // connected socket to its splice); one not watched is added. Errors: as add_fd().
  Expected<void, int> replace_fd(int fd, std::uint32_t events, FdHandler handler);
  // Changes the events watched on a descriptor given to add_fd(). Errors: errno from
  // epoll_ctl — ENOENT when `fd` is not watched.
  Expected<void, int> modify_fd(int fd, std::uint32_t events);
  // Stops watching `fd` (before the caller closes it). Cannot fail: a descriptor not watched is
  // ignored.
  void remove_fd(int fd);
  // Stops watching `fd` and closes it, with one system call instead of two: close() takes a
  // descriptor out of the epoll set when it is the last one open on its file, as a socket
  // this process made or accepted is (not one dup()ed, or inherited by a child that has not
  // exec'd yet: such a one must go through remove_fd()). Cannot fail; `fd` is closed whether
  // or not it was watched.
  void close_fd(int fd);

  // One-shot application timer: `handler` runs inside run() once monotonic time reaches `at`
  // (at once, on the next iteration, when `at` is past). Cannot fail; the id is never reused.
  TimerId call_at(Instant at, TimerHandler handler);
  // Cancels a timer that has not run. Cannot fail: an unknown or spent id is ignored.
  void cancel_timer(TimerId id);

  // Capture what crosses the TUN (both directions). May be null. Cannot fail (see
  // PcapWriter::write for what a full disk does).
  void set_pcap(capture::PcapWriter* pcap) { pcap_ = pcap; }

  // Runs until stop(), or until a graceful shutdown has finished. Errors: none returned — a
  // failed TUN read goes to on_tun_error() (or stderr), failed TUN writes are counted in
  // stats(); only an epoll_wait failure other than EINTR (which cannot happen on a valid epoll
  // set) is printed to stderr and ends run().
  void run();
  // Leaves run() at the end of the current iteration. Cannot fail.
  void stop() { running_ = false; }
  // Starts a graceful stop, as SIGINT would (the app's hook runs once). Cannot fail.
  void shutdown();
  bool shutting_down() const { return shutting_down_; }
  // The signal that started the shutdown, 0 if none did.
  int stop_signal() const { return stop_signal_; }

  // The time of the current iteration (refreshed on every wakeup).
  Instant now() const { return now_; }
  Stack& stack() { return stack_; }
  // Delivers pending stack events to the handler and writes the stack's packets to the TUN.
  // The loop does this after every callback; call it after driving the stack from elsewhere.
  // Errors: none returned — a packet the TUN refuses is queued (EAGAIN) or dropped and counted
  // in stats().
  void pump();

  const EventLoopStats& stats() const { return stats_; }

 private:
  EventLoop(Stack& stack, TunDevice& tun, Options options);
  Expected<void, std::string> init();
  void read_tun();
  void tun_failed(int error);  // a TUN read failed: see on_tun_error()
  void flush_output();
  void write_queued();
  void deliver_events();
  void run_timers();
  void handle_signal();
  bool connections_finished() const;
  void abort_remaining();
  void set_tun_writable_interest(bool on);
  // PacketWriter: one packet straight to the TUN; false (the stack queues it) while older
  // packets wait or the kernel pushes back.
  bool write_packet(std::span<const std::byte> headers, std::span<const std::byte> payload,
                    std::uint16_t gso_size) override;
  // One packet to the TUN, by the writer thread or here; false when it was not taken (the
  // kernel pushed back, or the thread's ring is full): the caller keeps it.
  bool emit(std::span<const std::byte> headers, std::span<const std::byte> payload,
            std::uint16_t gso_size);

  Stack& stack_;
  TunDevice& tun_;
  Options options_;
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  std::unique_ptr<SignalGuard> signal_guard_;

  Instant now_{};
  bool running_ = false;
  bool shutting_down_ = false;
  int stop_signal_ = 0;
  Instant shutdown_deadline_{};
  bool aborted_ = false;  // the grace period ran out and the rest was reset

  SocketHandler socket_handler_;
  std::function<void()> shutdown_hook_;
  std::function<bool(int, int)> signal_handler_;
  std::function<void(int)> tun_error_handler_;
  PacketFilter packet_filter_;
  std::unordered_map<int, FdHandler> fd_handlers_;

  struct Timer {
    TimerId id;
    TimerHandler handler;
  };
  std::multimap<Instant, Timer> timers_;
  std::unordered_map<TimerId, std::multimap<Instant, Timer>::iterator> timer_index_;
  TimerId next_timer_ = 1;

  capture::PcapWriter* pcap_ = nullptr;
  std::unique_ptr<TunWriter> writer_;     // Options::write_thread
  Instant last_emit_{};                   // when emit() last handed a packet on
  std::uint64_t writer_errors_seen_ = 0;  // the thread's write errors already in stats_
  bool events_left_ = false;  // the handler hit its bound this round: poll again at once
  Instant last_work_{};       // the last wakeup that found something to do (busy_poll)
  std::vector<std::byte> read_buffer_;
  std::vector<std::byte> out_buffer_;
  std::vector<std::byte> pcap_scratch_;  // a gathered packet made whole for the capture
  struct QueuedPacket {
    std::vector<std::byte> bytes;
    std::uint16_t gso_size = 0;
  };
  std::deque<QueuedPacket> output_queue_;
  bool tun_out_interest_ = false;
  EventLoopStats stats_;
};

}  // namespace synack::os
