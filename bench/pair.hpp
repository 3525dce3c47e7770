// SPDX-License-Identifier: MIT
// Two synack stacks in one process joined by a zero-delay, lossless in-memory link: what
// `synack-bench` measures. Unlike the discrete-event SimNetwork (src/sim) there is no event
// queue, no copy into a scheduled packet and no virtual clock: a packet popped from one
// stack goes straight into the other, and time is the real steady clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "synack/packet_writer.hpp"
#include "synack/stack.hpp"

namespace synack::bench {

// Real time as the core's Instant: microseconds since the pair was made.
class RealClock {
 public:
  RealClock() : start_(std::chrono::steady_clock::now()) {}
  Instant now() const {
    auto d = std::chrono::steady_clock::now() - start_;
    return instant_from_us(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// The in-memory link is loopback-like in one more way: nothing on it can corrupt a packet, so
// by default it offloads TCP checksums as the kernel's loopback does (CHECKSUM_PARTIAL on send,
// no verification on receive): the stacks are configured with tcp_checksum_offload and every
// packet is delivered as checksum_verified. `synack-bench --software-checksum` computes and
// verifies every checksum instead, as over a real wire.
inline bool& checksum_offload() {
  static bool on = true;
  return on;
}

// Moves every queued packet from each stack to the other until both are quiet. Returns how
// many packets moved.
inline std::size_t shuttle(Stack& a, Stack& b, Instant now, std::vector<std::byte>& buf) {
  const Stack::ReceiveFlags flags{checksum_offload()};
  std::size_t moved = 0;
  for (;;) {
    std::size_t round = 0;
    while (a.pop_packet(buf)) {
      b.receive_packet(buf, now, flags);
      ++round;
    }
    while (b.pop_packet(buf)) {
      a.receive_packet(buf, now, flags);
      ++round;
    }
    if (round == 0) return moved;
    moved += round;
  }
}

// Runs a stack's timers if one is due.
inline void run_timers(Stack& s, Instant now) {
  auto d = s.next_deadline();
  if (d && *d <= now) s.on_timer(now);
}

// Drops the events a benchmark does not look at, so their queue stays empty.
inline void drain_events(Stack& s) {
  while (s.poll_event()) {
  }
}

// The end of one benchmark round: packets moved until both stacks are quiet, due timers run,
// unread events dropped.
inline void settle(Stack& a, Stack& b, Instant now, std::vector<std::byte>& buf) {
  shuttle(a, b, now, buf);
  run_timers(a, now);
  run_timers(b, now);
  drain_events(a);
  drain_events(b);
}

// The in-memory link with gather I/O: each stack hands its TCP packets to the other as it
// builds them (Stack::set_packet_writer) and the other takes headers and payload apart
// (gather Stack::receive_packet), so a segment's payload goes from the sender's send buffer
// straight into the receiver's receive buffer — one copy, where pop_packet() makes two (into
// the packet, out of it). The kernel's loopback likewise hands the sending socket's buffer to
// the receiver without copying the bytes. A packet built while a delivery is under way (the
// receiver's ACK) is refused and so queued for pop_packet(): no stack is entered twice, and
// shuttle() moves what was queued. `now` is the time deliveries carry; the benchmark sets it
// each round, before it calls either stack.
class GatherLink {
 public:
  GatherLink(Stack& a, Stack& b) : to_b_(*this, b), to_a_(*this, a), a_(a), b_(b) {
    a.set_packet_writer(&to_b_);
    b.set_packet_writer(&to_a_);
  }
  ~GatherLink() {
    a_.set_packet_writer(nullptr);
    b_.set_packet_writer(nullptr);
  }
  GatherLink(const GatherLink&) = delete;
  GatherLink& operator=(const GatherLink&) = delete;

  Instant now{};
  std::uint64_t delivered = 0;  // packets that went across by gather I/O
  std::uint64_t refused = 0;    // packets left to pop_packet (built during a delivery, or GSO)

 private:
  class To final : public PacketWriter {
   public:
    To(GatherLink& link, Stack& peer) : link_(link), peer_(peer) {}
    bool write_packet(std::span<const std::byte> headers, std::span<const std::byte> payload,
                      std::uint16_t gso_size) override {
      if (link_.busy_ || gso_size != 0) {
        ++link_.refused;
        return false;
      }
      link_.busy_ = true;
      peer_.receive_packet(headers, payload, link_.now, Stack::ReceiveFlags{checksum_offload()});
      link_.busy_ = false;
      ++link_.delivered;
      return true;
    }

   private:
    GatherLink& link_;
    Stack& peer_;
  };

  bool busy_ = false;
  To to_b_, to_a_;
  Stack& a_;
  Stack& b_;
};

}  // namespace synack::bench
