// SPDX-License-Identifier: MIT
// IPv4 and IPv6 addresses as one value type, and an address with a port. Public: the API
// names endpoints with these (namespace synack::wire, as the core has always spelled them;
// synack::IpAddress and synack::Endpoint are the same types).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synack::wire {

struct IpAddress {
  enum class Family : std::uint8_t { V4, V6 };
  Family family = Family::V4;
  // IPv4 uses bytes[0..3]; the rest stay zero so comparison and hashing are simple.
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
  static IpAddress v4_from_u32(std::uint32_t host_order);
  static IpAddress v6(const std::array<std::uint8_t, 16>& b);
  // Accepts dotted quad or RFC 5952 / 4291 text; nullopt when it is neither.
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const { return family == Family::V4; }
  std::uint32_t v4_u32() const;  // host order; meaningful for V4 only
  std::string to_string() const;
  std::size_t hash() const;

  auto operator<=>(const IpAddress&) const = default;
};

struct Endpoint {
  IpAddress addr;
  std::uint16_t port = 0;
  std::string to_string() const;  // "1.2.3.4:80" or "[::1]:80"
  auto operator<=>(const Endpoint&) const = default;
};

}  // namespace synack::wire

namespace synack {
using wire::Endpoint;
using wire::IpAddress;
}  // namespace synack
