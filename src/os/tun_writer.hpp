// SPDX-License-Identifier: MIT
// A second thread that writes the event loop's packets to the TUN (EventLoop::Options::
// write_thread). A write to a TUN does more than copy: the kernel takes the packet through the
// receiving namespace's stack in the writer's context (routing, forwarding, the peer's TCP
// receive), most of what synack spends per packet (docs/performance.md, issue 10's loss
// benchmark: 63 % of the CPU in writev). With this thread that work runs on the other core
// while the loop reads, runs TCP and builds the next packets (issue 14 §2: both cores used).
//
// One producer (the loop's thread), one consumer (this thread), a ring of `slots` packets: a
// packet is copied into its slot (the stack's send ring moves on), written in order, and the
// slot returns. Bounded: when every slot is taken, push() says so and the loop keeps the packet
// (the stack holds it, or the loop's own output queue) until room_fd() is readable. A write the
// kernel refuses (EAGAIN) is retried when the descriptor is writable again; other errors drop
// the packet and are counted. Latency: the loop writes a lone packet itself when nothing is
// queued here (EventLoop::emit), so an idle connection's reply does not wait for this
// thread to wake.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <thread>
#include <vector>

#include "synack/expected.hpp"

namespace synack::os {

class TunWriter {
 public:
  // Writes one whole packet (gso_size as TunDevice::write); errors are errno values.
  using WriteFn = std::function<Expected<void, int>(std::span<const std::byte>, std::uint16_t)>;

  struct Stats {
    std::uint64_t packets = 0;       // written by the thread
    std::uint64_t full = 0;          // push() refused: every slot taken
    std::uint64_t write_waits = 0;   // EAGAIN from the kernel, waited for POLLOUT
    std::uint64_t write_errors = 0;  // other errors: the packet dropped
  };

  // `fd`: what to poll for POLLOUT after EAGAIN (the TUN's descriptor; -1: retry after 1 ms).
  // Starts the thread. Errors: std::system_error from std::thread or eventfd, as for any
  // resource a constructor cannot get (the event loop creates this before it runs).
  TunWriter(WriteFn write, int fd, std::size_t slots);
  // Writes what is still queued (dropping what the kernel keeps refusing for a second), then
  // stops the thread.
  ~TunWriter();
  TunWriter(const TunWriter&) = delete;
  TunWriter& operator=(const TunWriter&) = delete;

  // Queues headers + payload as one packet. False: the ring is full; nothing was taken, and
  // room_fd() becomes readable once half the ring is free.
  bool push(std::span<const std::byte> headers, std::span<const std::byte> payload,
            std::uint16_t gso_size);
  // Nothing queued: every packet pushed has been written (the caller may write itself).
  bool idle() const {
    return tail_.load(std::memory_order_acquire) == head_.load(std::memory_order_relaxed);
  }
  // An eventfd, readable after a refused push() once there is room again; take_room_signal()
  // reads it. For the loop's epoll set.
  int room_fd() const { return room_fd_; }
  void take_room_signal();
  Stats stats() const;

 private:
  struct Slot {
    std::vector<std::byte> bytes;
    std::uint16_t gso_size = 0;
  };
  void run();
  void write_slot(const Slot& slot);

  WriteFn write_;
  int fd_;
  int room_fd_ = -1;
  std::vector<Slot> slots_;
  // head_: slots filled (the producer's), tail_: slots written (the thread's); both only grow.
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  // Bumped with every push and at stop: what the idle thread waits on (a futex).
  alignas(64) std::atomic<std::uint32_t> signal_{0};
  std::atomic<bool> want_room_{false};
  std::atomic<bool> stop_{false};
  std::uint64_t full_ = 0;  // the producer's
  std::atomic<std::uint64_t> packets_{0}, write_waits_{0}, write_errors_{0};
  std::thread thread_;
};

}  // namespace synack::os
