// SPDX-License-Identifier: MIT
// Explicit big-endian (network byte order) loads and stores over byte spans. Wire code reads
// fields through these at named offsets instead of casting buffers to packed structs.
// Callers check the span is long enough first (one length check per header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace synack::wire::detail {

inline std::uint8_t load_u8(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint8_t>(b[at]);
}

inline std::uint16_t load_u16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned>(b[at]) << 8) |
                                    static_cast<unsigned>(b[at + 1]));
}

inline std::uint32_t load_u32(std::span<const std::byte> b, std::size_t at) {
  return (static_cast<std::uint32_t>(b[at]) << 24) | (static_cast<std::uint32_t>(b[at + 1]) << 16) |
         (static_cast<std::uint32_t>(b[at + 2]) << 8) | static_cast<std::uint32_t>(b[at + 3]);
}

inline void store_u8(std::span<std::byte> b, std::size_t at, std::uint8_t v) {
  b[at] = static_cast<std::byte>(v);
}

inline void store_u16(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

inline void store_u32(std::span<std::byte> b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::byte>(v >> 24);
  b[at + 1] = static_cast<std::byte>((v >> 16) & 0xff);
  b[at + 2] = static_cast<std::byte>((v >> 8) & 0xff);
  b[at + 3] = static_cast<std::byte>(v & 0xff);
}

}  // namespace synack::wire::detail
