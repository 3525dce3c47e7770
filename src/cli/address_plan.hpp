// SPDX-License-Identifier: MIT
// --cidr NETWORK/PREFIX: the namespace's IPv4 addresses laid out as slirp4netns lays out its
// default 10.0.2.0/24 — the gateway (synack) at .2, the DNS resolver at .3, the namespace at
// .100 — so that what is written for slirp4netns (podman's docs, scripts) holds under synack.
#pragma once

#include <string>
#include <string_view>

#include "synack/expected.hpp"
#include "wire/ip_address.hpp"

namespace synack::cli {

struct AddressPlan {
  wire::IpAddress network;
  unsigned prefix = 0;
  wire::IpAddress gateway;  // network + 2
  wire::IpAddress dns;      // network + 3
  wire::IpAddress guest;    // network + 100
};

// Errors (a message for the user): not IPv4 ADDR/PREFIX; host bits set ("10.0.2.5/24: did
// you mean 10.0.2.0/24?"); a prefix longer than /25, which leaves no room for .100.
Expected<AddressPlan, std::string> plan_from_cidr(std::string_view text);

}  // namespace synack::cli
