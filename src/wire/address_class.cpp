// SPDX-License-Identifier: MIT
// Address classification by the IANA special-purpose registries.
#include "wire/address_class.hpp"

#include <algorithm>

namespace synack::wire {

namespace {

bool all_zero(const IpAddress& a, std::size_t from, std::size_t to) {
  return std::all_of(a.bytes.begin() + static_cast<std::ptrdiff_t>(from),
                     a.bytes.begin() + static_cast<std::ptrdiff_t>(to),
                     [](std::uint8_t b) { return b == 0; });
}

IpAddress v4_at(const IpAddress& a, std::size_t offset) {
  return IpAddress::v4(a.bytes[offset], a.bytes[offset + 1], a.bytes[offset + 2],
                       a.bytes[offset + 3]);
}

AddressClass classify_v4(const IpAddress& a) {
  const auto b = a.bytes;
  if (b[0] == 127) return AddressClass::Loopback;  // RFC 1122 §3.2.1.3
  if (b[0] == 0) {
    return all_zero(a, 0, 4) ? AddressClass::Unspecified : AddressClass::ThisNetwork;
  }
  if (b[0] == 169 && b[1] == 254) return AddressClass::LinkLocal;  // RFC 3927
  if (b[0] >= 224 && b[0] <= 239) return AddressClass::Multicast;  // RFC 5771
  if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return AddressClass::Broadcast;
  if (b[0] >= 240) return AddressClass::Reserved;  // RFC 1112 §4
  return AddressClass::Unicast;
}

}  // namespace

std::string_view to_string(AddressClass c) {
  switch (c) {
    case AddressClass::Unicast:
      return "unicast";
    case AddressClass::Loopback:
      return "loopback";
    case AddressClass::Unspecified:
      return "unspecified";
    case AddressClass::ThisNetwork:
      return "this-network";
    case AddressClass::LinkLocal:
      return "link-local";
    case AddressClass::Multicast:
      return "multicast";
    case AddressClass::Broadcast:
      return "broadcast";
    case AddressClass::Reserved:
      return "reserved";
  }
  return "?";
}

std::optional<IpAddress> embedded_v4(const IpAddress& a) {
  if (a.is_v4()) return std::nullopt;
  const auto& b = a.bytes;
  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
  if (all_zero(a, 0, 10) && b[10] == 0xff && b[11] == 0xff) return v4_at(a, 12);
  // ::ffff:0:a.b.c.d (RFC 2765 §2.1).
  if (all_zero(a, 0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
    return v4_at(a, 12);
  // ::a.b.c.d (RFC 4291 §2.5.5.1), but not :: or ::1 (nor ::0.0.0.x, which no host uses).
  if (all_zero(a, 0, 12) && !(b[12] == 0 && b[13] == 0 && b[14] == 0)) return v4_at(a, 12);
  // 64:ff9b::a.b.c.d (RFC 6052 §2.1).
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && all_zero(a, 4, 12))
    return v4_at(a, 12);
  // 2002:a.b.c.d::/48 (RFC 3056 §2).
  if (b[0] == 0x20 && b[1] == 0x02) return v4_at(a, 2);
  return std::nullopt;
}

AddressClass classify(const IpAddress& a) {
  if (a.is_v4()) return classify_v4(a);
  if (auto v4 = embedded_v4(a)) return classify_v4(*v4);
  const auto& b = a.bytes;
  if (all_zero(a, 0, 16)) return AddressClass::Unspecified;                   // RFC 4291 §2.5.2
  if (all_zero(a, 0, 15) && b[15] == 1) return AddressClass::Loopback;        // RFC 4291 §2.5.3
  if (b[0] == 0xff) return AddressClass::Multicast;                           // RFC 4291 §2.7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::LinkLocal;  // fe80::/10
  return AddressClass::Unicast;
}

}  // namespace synack::wire
