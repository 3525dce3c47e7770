// SPDX-License-Identifier: MIT
// The receive side's byte store: in-order data waiting for the application, and
// out-of-order data written ahead into the same ring (RFC 9293 §3.10.7.4 seventh: segments
// are "queued for later processing"). Bounded by the ring's capacity and a range count.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "synack/buffer_access.hpp"
#include "tcp/byte_ring.hpp"
#include "wire/tcp_header.hpp"

namespace synack::tcp {

class ReceiveBuffer {
 public:
  // `slack` octets of ring past `capacity` hold what a window field rounded up to its scale's
  // granularity offers beyond the buffer (Connection::window_to_advertise; RFC 7323 §2.4):
  // the window never offers them (free_space()), insert() stores them (storable()).
  ReceiveBuffer(std::uint32_t capacity, std::uint16_t max_ranges, std::uint32_t slack = 0)
      : ring_(capacity + slack), max_ranges_(max_ranges), slack_(slack) {}

  struct InsertResult {
    std::uint32_t advanced = 0;  // bytes that became in order (RCV.NXT moves by this)
    bool out_of_order = false;   // stored ahead of a hole
    bool dropped = false;        // no room for another out-of-order range
    bool filled_hole = false;    // in-order data that joined a stored range
    bool no_memory = false;      // the memory budget could not hold (all of) it
  };

  // Data starting `offset` bytes past RCV.NXT. Bytes past storable() are cut off; bytes
  // already held are not stored twice.
  InsertResult insert(std::uint32_t offset, std::span<const std::byte> data);

  // Moves up to out.size() in-order bytes to the application.
  std::uint32_t read(std::span<std::byte> out);
  // Hands in-order bytes to `reader` where they lie (up to two runs: the ring may wrap) and
  // consumes what it took.
  std::uint32_t read_with(const BufferReader& reader);
  std::uint32_t readable() const { return ring_.size(); }
  std::uint32_t capacity() const { return ring_.capacity() - slack_; }
  // Bytes of memory the ring holds now (ByteRing::allocated_bytes).
  std::uint32_t allocated_bytes() const { return ring_.allocated_bytes(); }
  // Room from RCV.NXT to the end of the buffer: the most we could advertise.
  std::uint32_t free_space() const {
    const std::uint32_t ring = ring_.free_space();
    return ring > slack_ ? ring - slack_ : 0;
  }
  // Room from RCV.NXT that insert() can still fill: the free space and the slack.
  std::uint32_t storable() const { return ring_.free_space(); }
  bool has_out_of_order() const { return !ranges_.empty(); }
  std::size_t out_of_order_ranges() const { return ranges_.size(); }

  // RFC 2018 §4: up to `max` SACK blocks, as offsets from RCV.NXT, the range holding the most
  // recently received segment first, then the others most recent first.
  std::size_t sack_blocks(std::uint32_t rcv_nxt, wire::SackBlock* out, std::size_t max) const;

  void set_budget(MemoryBudget* budget) { ring_.set_budget(budget); }
  void release_if_empty() {
    if (ring_.empty() && ranges_.empty()) ring_.release();
  }
  // Little in order and nothing ahead: the ring may start again at its beginning
  // (ByteRing::rewind).
  void rewind_if_idle() {
    if (ranges_.empty()) ring_.rewind();
  }

 private:
  struct Range {
    std::uint32_t begin;  // offset from the in-order end (RCV.NXT)
    std::uint32_t end;
    std::uint64_t touched;  // recency stamp for SACK ordering
  };
  void shift_ranges(std::uint32_t n);

  ByteRing ring_;
  std::vector<Range> ranges_;  // sorted, disjoint, non-adjacent
  std::uint16_t max_ranges_;
  std::uint32_t slack_;
  std::uint64_t clock_ = 0;
};

}  // namespace synack::tcp
