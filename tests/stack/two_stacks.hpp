// SPDX-License-Identifier: MIT
// What tests of two stacks joined in one process share: their addresses and a byte pattern
// whose every offset differs from its neighbours, so a byte moved or lost shows.
#pragma once

#include <cstddef>
#include <vector>

#include "synack/address.hpp"

namespace synack::two_stacks {

inline const wire::IpAddress kA = wire::IpAddress::v4(198, 18, 0, 1);
inline const wire::IpAddress kB = wire::IpAddress::v4(198, 18, 0, 2);

inline std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 13 + 5) & 0xff);
  return v;
}

}  // namespace synack::two_stacks
