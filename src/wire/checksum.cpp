// SPDX-License-Identifier: MIT
// RFC 1071 Internet checksum: the 16-bit one's complement of the one's complement sum of
// the data taken as big-endian 16-bit words, an odd final byte padded with zero.
#include "wire/checksum.hpp"

#include <bit>
#include <cstring>

namespace synack::wire {

void ChecksumAccumulator::add(std::span<const std::byte> data) {
  std::size_t i = 0;
  // The previous span ended mid-word: this span's first byte is that word's low byte.
  if (odd_ && !data.empty()) {
    sum_ += static_cast<std::uint8_t>(data[0]);
    odd_ = false;
    i = 1;
  }
  // RFC 1071 §2(B): the sum is independent of byte order, so the bulk is summed as the
  // machine's own words and only the folded result is put in network order.
  // RFC 1071 §2(C) parallel summation, the bulk-transfer hot spot: a 64-bit word is four 16-bit
  // words, and since 2^16 = 1 (mod 2^16 - 1) adding it whole, with its carry out of bit 63
  // added back as 1 (2^64 = 1 too), gives the same folded sum. Two words at a time into two
  // sums whose carries are counted apart (§4.1 "deferred carries"), so that the adds do not
  // wait for each other: about twice the speed of one add-with-carry chain.
  std::uint64_t a0 = 0, a1 = 0, carries = 0;
  for (; i + 16 <= data.size(); i += 16) {
    std::uint64_t w0, w1;
    std::memcpy(&w0, data.data() + i, sizeof w0);
    std::memcpy(&w1, data.data() + i + 8, sizeof w1);
    a0 += w0;
    carries += a0 < w0 ? 1 : 0;
    a1 += w1;
    carries += a1 < w1 ? 1 : 0;
  }
  auto add_folding = [](std::uint64_t a, std::uint64_t b) {
    std::uint64_t sum = a + b;
    return sum + (sum < a ? 1 : 0);  // end-around carry
  };
  std::uint64_t wide = add_folding(add_folding(a0, a1), carries);
  for (; i + 4 <= data.size(); i += 4) {
    std::uint32_t word;
    std::memcpy(&word, data.data() + i, sizeof word);
    wide = add_folding(wide, word);
  }
  // Fold to 16 bits (end-around carries), then into network order.
  wide = (wide >> 32) + (wide & 0xffffffff);
  wide = (wide >> 32) + (wide & 0xffffffff);
  wide = (wide >> 16) + (wide & 0xffff);
  wide = (wide >> 16) + (wide & 0xffff);
  auto folded = static_cast<std::uint16_t>(wide);
  if constexpr (std::endian::native == std::endian::little) folded = __builtin_bswap16(folded);
  sum_ += folded;
  for (; i + 1 < data.size(); i += 2) {
    sum_ += (static_cast<std::uint32_t>(data[i]) << 8) | static_cast<std::uint32_t>(data[i + 1]);
  }
  if (i < data.size()) {
    // RFC 1071 §4.1: an odd byte is the high half of a word whose low half is zero (or the
    // first byte of the next span).
    sum_ += static_cast<std::uint32_t>(data[i]) << 8;
    odd_ = true;
  }
}

void ChecksumAccumulator::add_u16(std::uint16_t v) {
  const std::byte b[2] = {static_cast<std::byte>(v >> 8), static_cast<std::byte>(v & 0xff)};
  add(b);
}

void ChecksumAccumulator::add_u32(std::uint32_t v) {
  add_u16(static_cast<std::uint16_t>(v >> 16));
  add_u16(static_cast<std::uint16_t>(v & 0xffff));
}

std::uint16_t ChecksumAccumulator::finish() const {
  // RFC 1071 §4.1: fold the carries back in ("end-around carry"), then complement.
  std::uint64_t sum = sum_;
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::uint16_t internet_checksum(std::span<const std::byte> data) {
  ChecksumAccumulator acc;
  acc.add(data);
  return acc.finish();
}

void add_pseudo_header(ChecksumAccumulator& acc, const IpAddress& src, const IpAddress& dst,
                       std::uint8_t protocol, std::uint32_t length) {
  // RFC 9293 §3.1 (IPv4): source, destination, zero, protocol, 16-bit TCP length.
  // RFC 8200 §8.1 (IPv6): source, destination, 32-bit upper-layer length, 24 zero bits,
  // next header. Both reduce to the same one's complement sum of the same words (the sum
  // does not depend on word position), so one routine serves both families.
  const std::size_t address_bytes = src.is_v4() ? 4 : 16;
  acc.add(std::as_bytes(std::span(src.bytes.data(), address_bytes)));
  acc.add(std::as_bytes(std::span(dst.bytes.data(), address_bytes)));
  acc.add_u32(length);
  acc.add_u16(protocol);
}

}  // namespace synack::wire
