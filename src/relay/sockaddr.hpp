// SPDX-License-Identifier: MIT
// wire::Endpoint <-> struct sockaddr, for the relay's host sockets.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstring>
#include <optional>

#include "wire/ip_address.hpp"

namespace synack::relay {

// The largest UDP datagram a host socket can deliver (the IPv4 total length is 16 bits): the
// receive buffer of each UDP relay path.
inline constexpr std::size_t kMaxDatagram = 65535;

inline socklen_t to_sockaddr(const wire::Endpoint& e, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (e.addr.is_v4()) {
    auto* s = reinterpret_cast<sockaddr_in*>(out);
    s->sin_family = AF_INET;
    s->sin_port = htons(e.port);
    std::memcpy(&s->sin_addr, e.addr.bytes.data(), 4);
    return sizeof *s;
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(out);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(e.port);
  std::memcpy(&s->sin6_addr, e.addr.bytes.data(), 16);
  return sizeof *s;
}

inline wire::IpAddress loopback_of(const wire::IpAddress& like) {
  return like.is_v4() ? wire::IpAddress::v4(127, 0, 0, 1) : *wire::IpAddress::parse("::1");
}

}  // namespace synack::relay
