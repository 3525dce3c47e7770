// SPDX-License-Identifier: MIT
// The TCP header's flags and the options the core understands (MSS RFC 9293 §3.2, window
// scale and timestamps RFC 7323, SACK-permitted and SACK RFC 2018) as value types. Public: the
// trace records carry them (SegmentEvent). Parsed and emitted by src/wire/tcp_header.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace synack::wire {

namespace tcp_flag {
inline constexpr std::uint8_t FIN = 0x01;
inline constexpr std::uint8_t SYN = 0x02;
inline constexpr std::uint8_t RST = 0x04;
inline constexpr std::uint8_t PSH = 0x08;
inline constexpr std::uint8_t ACK = 0x10;
inline constexpr std::uint8_t URG = 0x20;
inline constexpr std::uint8_t ECE = 0x40;
inline constexpr std::uint8_t CWR = 0x80;
}  // namespace tcp_flag

inline constexpr std::size_t kMaxSackBlocks = 4;

struct SackBlock {
  std::uint32_t left = 0;   // first sequence number of the block
  std::uint32_t right = 0;  // sequence number just past the block
  bool operator==(const SackBlock&) const = default;
};

struct Timestamps {
  std::uint32_t value = 0;  // TSval
  std::uint32_t echo = 0;   // TSecr
  bool operator==(const Timestamps&) const = default;
};

// Options we understand. Unknown options are skipped by their length on parse and not kept.
struct TcpOptions {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;  // shift count as sent (RFC 7323 §2.3 clamps >14)
  bool sack_permitted = false;
  std::uint8_t sack_count = 0;
  std::array<SackBlock, kMaxSackBlocks> sack{};
  std::optional<Timestamps> timestamps;

  // Compares every sack entry, also those past sack_count: keep unused entries zero (parse
  // does) when comparing.
  bool operator==(const TcpOptions&) const = default;
  // Bytes the options take when emitted, padded to a multiple of 4 (at most 40).
  std::size_t emitted_size() const;
  // How many of the first sack_count blocks emit writes: all of them (up to kMaxSackBlocks)
  // unless they would not fit in 40 bytes beside the other options; then as many as fit.
  // (MSS + SACK-permitted + timestamps + window scale leave room for 2; timestamps alone 3.)
  std::size_t emitted_sack_blocks() const;
};

}  // namespace synack::wire
