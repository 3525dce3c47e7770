// SPDX-License-Identifier: MIT
// Where a Stack may hand the packets it builds as it builds them, instead of queueing them for
// pop_packet(): the embedder's link writes each one at once, the payload read where it lies in
// the connection's send buffer (gather I/O — writev() on a TUN, a ring slot, a NIC descriptor),
// so no copy of the payload is made in user space. The stack does no I/O itself: it calls the
// writer, which does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace synack {

class PacketWriter {
 public:
  virtual ~PacketWriter() = default;
  // One IP packet: `headers` (the IP header and the TCP header with its options, lengths and
  // checksum already computed for the payload) followed by `payload`. gso_size as
  // Stack::pop_packet() gives it (nonzero: the payload is several packets' worth, to be cut into
  // gso_size-byte pieces, each with these headers). Both spans are valid only during the call.
  // Returns true when the packet was taken (written, or dropped by the link as a full queue
  // would drop it); false when the link cannot take it now — the stack then keeps a copy for
  // pop_packet(), and every later packet follows it there until the queue is drained, so
  // order is kept.
  virtual bool write_packet(std::span<const std::byte> headers, std::span<const std::byte> payload,
                            std::uint16_t gso_size) = 0;
};

}  // namespace synack
