// SPDX-License-Identifier: MIT
// What an address is, by the IANA special-purpose registries (RFC 6890, RFC 4291 §2.5.5,
// RFC 6052, RFC 3056): one function the stack's martian filter and the relay's destination
// checks share, so that no textual or alternative form of an address slips past either.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "wire/ip_address.hpp"

namespace synack::wire {

enum class AddressClass : std::uint8_t {
  Unicast,      // an ordinary unicast address (global or private)
  Loopback,     // 127.0.0.0/8, ::1 — and every IPv6 form that embeds 127/8
  Unspecified,  // 0.0.0.0, :: (connect() to it reaches the local host on Linux)
  ThisNetwork,  // 0.0.0.0/8 other than 0.0.0.0 (RFC 6890 §2.2.2: never a destination)
  LinkLocal,    // 169.254.0.0/16, fe80::/10
  Multicast,    // 224.0.0.0/4, ff00::/8
  Broadcast,    // 255.255.255.255
  Reserved,     // 240.0.0.0/4 (but broadcast)
};

std::string_view to_string(AddressClass c);

// The IPv4 address an IPv6 address carries, where it carries one that a host may reach
// as IPv4: IPv4-mapped ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), IPv4-compatible ::a.b.c.d
// (§2.5.5.1, deprecated but still routed by some hosts), IPv4-translated ::ffff:0:a.b.c.d
// (RFC 2765 §2.1), the NAT64 well-known prefix 64:ff9b::/96 (RFC 6052 §2.1) and 6to4
// 2002:a.b.c.d::/48 (RFC 3056 §2). :: and ::1 are not IPv4-compatible (RFC 4291 §2.5.5.1).
std::optional<IpAddress> embedded_v4(const IpAddress& a);

// The class of `a`; for an IPv6 address that embeds an IPv4 one (see embedded_v4), the
// class of that IPv4 address, since a host socket given the IPv6 form may reach it.
AddressClass classify(const IpAddress& a);

// No host may send from it (RFC 9293 §3.9.2.1 MUST-63, RFC 1122 §3.2.1.3) nor may a relayed
// connection go to it on the namespace's behalf: everything but Unicast and LinkLocal.
inline bool is_martian(AddressClass c) {
  return c != AddressClass::Unicast && c != AddressClass::LinkLocal;
}

}  // namespace synack::wire
