// SPDX-License-Identifier: MIT
// --cidr: slirp4netns's address layout.
#include "cli/address_plan.hpp"

#include <charconv>

namespace synack::cli {

Expected<AddressPlan, std::string> plan_from_cidr(std::string_view text) {
  const std::string quoted = "--cidr " + std::string(text) + ": ";
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return Unexpected{quoted + "expected IPv4 NETWORK/PREFIX, e.g. 10.0.2.0/24"};
  auto network = wire::IpAddress::parse(text.substr(0, slash));
  if (!network || !network->is_v4())
    return Unexpected{quoted + "expected IPv4 NETWORK/PREFIX, e.g. 10.0.2.0/24"};
  unsigned prefix = 0;
  auto digits = text.substr(slash + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || prefix > 32)
    return Unexpected{quoted + "the prefix must be a number from 0 to 32"};
  // The namespace is network + 100: 7 host bits at least.
  if (prefix > 25 || prefix == 0)
    return Unexpected{quoted + "the prefix must be 1 to 25 (the namespace is at .100)"};
  const std::uint32_t base = network->v4_u32();
  const std::uint32_t mask = ~std::uint32_t{0} << (32 - prefix);
  if ((base & ~mask) != 0) {
    return Unexpected{quoted + "host bits are set; did you mean " +
                      wire::IpAddress::v4_from_u32(base & mask).to_string() + "/" +
                      std::to_string(prefix) + "?"};
  }
  AddressPlan plan;
  plan.network = *network;
  plan.prefix = prefix;
  plan.gateway = wire::IpAddress::v4_from_u32(base + 2);
  plan.dns = wire::IpAddress::v4_from_u32(base + 3);
  plan.guest = wire::IpAddress::v4_from_u32(base + 100);
  return plan;
}

}  // namespace synack::cli
