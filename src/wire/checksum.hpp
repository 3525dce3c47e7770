// SPDX-License-Identifier: MIT
// RFC 1071 Internet checksum, and the TCP pseudo-header sums of RFC 9293 §3.1 (IPv4)
// and RFC 8200 §8.1 (IPv6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/ip_address.hpp"

namespace synack::wire {

// One's-complement accumulator; feed it spans in order (odd-length spans are handled).
class ChecksumAccumulator {
 public:
  void add(std::span<const std::byte> data);
  void add_u16(std::uint16_t v);
  void add_u32(std::uint32_t v);
  std::uint16_t finish() const;  // the complemented 16-bit checksum, host order

 private:
  std::uint64_t sum_ = 0;
  bool odd_ = false;  // the previous span ended on an odd byte
};

std::uint16_t internet_checksum(std::span<const std::byte> data);

// Sum of the pseudo-header for a transport segment of `length` bytes with `protocol`.
void add_pseudo_header(ChecksumAccumulator& acc, const IpAddress& src, const IpAddress& dst,
                       std::uint8_t protocol, std::uint32_t length);

}  // namespace synack::wire
